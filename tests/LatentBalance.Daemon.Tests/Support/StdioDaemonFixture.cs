using System.Collections.Concurrent;
using LatentBalance.Bridge.Rpc;

namespace LatentBalance.Daemon.Tests.Support;

/// <summary><c>latentbalance daemon --stdio</c> as a child process with one JSON-RPC connection (its stdin/stdout).</summary>
public sealed class StdioDaemonFixture : IDisposable
{
    public StdioDaemonFixture() => Client = DaemonProcess.StartStdio(Log, "--job-timeout", "900");

    public ConcurrentQueue<string> Log { get; } = new();
    public StdioEngineClient Client { get; }

    public void Dispose() => Client.Dispose();
}
