using LatentBalance.Bridge.Contract;
using LatentBalance.Daemon.Tests.Support;
using Xunit.Abstractions;

namespace LatentBalance.Daemon.Tests.Service;

/// <summary>The contract suite over D-Bus: each call to NewClient is a separate bus connection.</summary>
[Collection(DBusDaemonCollection.Name)]
public sealed class DBusDaemonContractTests(DBusDaemonFixture fixture, ITestOutputHelper output) : DaemonContractTests(output)
{
    protected override IEngineService NewClient() => fixture.Connect();
    protected override int LatentEvery => 1;
}
