using LatentBalance.Bridge.Contract;
using LatentBalance.Daemon.Tests.Support;
using Xunit.Abstractions;

namespace LatentBalance.Daemon.Tests.Service;

/// <summary>The same contract suite over JSON-RPC on the stdio of <c>latentbalance daemon --stdio</c> (one connection shared by the "clients").</summary>
public sealed class StdioDaemonContractTests(StdioDaemonFixture fixture, ITestOutputHelper output)
    : DaemonContractTests(output), IClassFixture<StdioDaemonFixture>
{
    protected override IEngineService NewClient() => fixture.Client;
    protected override int LatentEvery => 4;
}
