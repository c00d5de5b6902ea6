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
        var outp = _dir.File("mid.out.png");
        var input = TestImages.Gradient(_dir.File("mid.png"), 64, 48);
        var log = new ConcurrentQueue<string>();
        using var p = Process.Start(DaemonProcess.StartInfo("--stdio"))!;
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) log.Enqueue(e.Data); };
        p.BeginErrorReadLine();
        var request = System.Text.Json.JsonSerializer.Serialize(new
        {
            jsonrpc = "2.0", id = 1, method = "Balance",
            @params = new { inputPath = input, outputPath = outp, parameters = new Dictionary<string, string> { ["iterations"] = "10" } },
        });
        await p.StandardInput.WriteLineAsync(request);
        await p.StandardInput.FlushAsync();
        var reply = await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(4));
        Assert.Contains("\"result\"", reply);
        Assert.Contains("job-", reply);
        p.StandardInput.Close(); // the client goes away while the job runs

        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(3)), "the daemon should exit at end of input");
        Assert.Equal(0, p.ExitCode);
        Assert.Contains(log, l => l.Contains("\"reason\":\"end of input\""));
        Assert.Contains(log, l => l.Contains("\"event\":\"job_cancelled\""));
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
