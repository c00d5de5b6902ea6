using Xunit.Abstractions;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.Rpc;
using LatentBalance.Bridge.Tests.Contract;
using LatentBalance.Bridge.Tests.Support;
using Nerdbank.Streams;

namespace LatentBalance.Bridge.Tests.Rpc;

/// <summary>One <see cref="FakeEngineService"/>; each client gets its own in-process duplex pipe and host loop.</summary>
public sealed class StdioEngineFixture : IDisposable
{
    private readonly List<Task> _hosts = new();

    public FakeEngineService Service { get; } = new();

    public StdioEngineClient Connect()
    {
        var (clientSide, serverSide) = FullDuplexStream.CreatePair();
        var host = Task.Run(async () =>
        {
            try { await StdioEngineHost.RunAsync(Service, serverSide, serverSide); }
            finally { await serverSide.DisposeAsync(); }
        });
        lock (_hosts) _hosts.Add(host);
        return StdioEngineClient.Attach(clientSide, clientSide, clientSide);
    }

    public void Dispose() => Service.Dispose();
}

/// <summary>The shared contract suite over newline-delimited JSON-RPC.</summary>
public sealed class StdioContractTests(StdioEngineFixture fixture, ITestOutputHelper output) : EngineContractTests(output), IClassFixture<StdioEngineFixture>
{
    protected override FakeEngineService Service => fixture.Service;
    protected override IEngineService OpenClient() => fixture.Connect();
}
