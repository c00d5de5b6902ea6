using System.Collections.Concurrent;
using System.Diagnostics;
using LatentBalance.Bridge.Contract;
using LatentBalance.Daemon.Tests.Support;

namespace LatentBalance.Daemon.Tests.Service;

/// <summary>Stdio only: the client going away (stdin closed) mid-job, and --idle-exit.</summary>
public sealed class StdioDaemonTests : IDisposable
{
    private readonly TempDir _dir = new("stdio");

    [Fact]
    public async Task Closing_stdin_mid_job_stops_the_daemon_cleanly_without_a_partial_output()
    {
        var log = new ConcurrentQueue<string>();
        var client = DaemonProcess.StartStdio(log);
        var process = client.Process!;
        var outp = _dir.File("mid.out.png");
        var input = TestImages.Gradient(_dir.File("mid.png"), 64, 48);
        await client.BalanceAsync(new BalanceRequest { InputPath = input, OutputPath = outp, Parameters = new Dictionary<string, string> { ["iterations"] = "10" } });
        client.Dispose(); // closes stdin
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), "the daemon should exit at end of input");
        Assert.Equal(0, process.ExitCode);
        Assert.Contains(log, l => l.Contains("\"reason\":\"end of input\""));
        Assert.False(File.Exists(outp));
        Assert.Empty(Directory.GetFiles(_dir.Path, ".*"));
    }

    [Fact]
    public async Task Idle_exit_stops_the_daemon_after_the_given_seconds_without_calls()
    {
        var log = new ConcurrentQueue<string>();
        using var client = DaemonProcess.StartStdio(log, "--idle-exit", "2");
        Assert.Equal(EngineBusNames.ProtocolVersion, (await client.GetInfoAsync()).ProtocolVersion);
        var clock = Stopwatch.StartNew();
        Assert.True(client.Process!.WaitForExit(TimeSpan.FromMinutes(2)), "idle exit");
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.5), $"exited after {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Contains(log, l => l.Contains("\"reason\":\"idle\""));
    }

    public void Dispose() => _dir.Dispose();
}
