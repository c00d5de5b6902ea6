using System.Collections.Concurrent;
using System.Diagnostics;
using LatentBalance.Bridge.Contract;
using LatentBalance.Daemon.Tests.Support;

namespace LatentBalance.Daemon.Tests.Service;

/// <summary>Stdio only: the client going away (stdin closed) mid-job, and --idle-exit.</summary>
public sealed class StdioDaemonTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
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

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task A_signal_mid_job_stops_the_daemon_within_2_s_with_a_log_line_and_nothing_left_behind(string signal)
    {
        // issue 13 item 4: SIGTERM during a job left a hidden partial file in the output folder, no stop in
        // the log, and the runtime's diagnostic socket in the temp folder
        var outp = _dir.File($"sig-{signal}.out.png");
        var input = TestImages.Gradient(_dir.File($"sig-{signal}.png"), 6000, 4500); // its PNG write outlasts the grace period
        var log = new ConcurrentQueue<string>();
        var psi = DaemonProcess.StartInfo("--stdio");
        var tmp = Directory.CreateDirectory(_dir.File($"tmp-{signal}")).FullName;
        psi.Environment["TMPDIR"] = tmp; // where the runtime puts its diagnostic socket
        using var p = Process.Start(psi)!;
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) log.Enqueue(e.Data); };
        p.BeginErrorReadLine();
        async Task<string> Call(int id, string method, object args)
        {
            await p.StandardInput.WriteLineAsync(System.Text.Json.JsonSerializer.Serialize(new { jsonrpc = "2.0", id, method, @params = args }));
            await p.StandardInput.FlushAsync();
            return (await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(4)))!;
        }
        var reply = await Call(1, "Balance", new { inputPath = input, outputPath = outp, parameters = new Dictionary<string, string> { ["iterations"] = "1" } });
        var job = System.Text.Json.JsonDocument.Parse(reply).RootElement.GetProperty("result").GetProperty("jobId").GetString();
        // wait until the job writes its output (the longest stage for a 27 MP PNG), then signal
        var wait = Stopwatch.StartNew();
        string status = "";
        for (int id = 2; wait.Elapsed < TimeSpan.FromMinutes(3) && !status.Contains("writing"); id++)
        {
            status = await Call(id, "GetJob", new { jobId = job });
            await Task.Delay(20);
        }
        Assert.Contains("writing", status);
        if (signal == "INT" && SigIntIgnoredHere())
        {
            // a process tree started in the background ignores SIGINT, and the daemon rightly keeps that
            output.WriteLine("SIGINT is ignored in this process tree (started in the background): sending SIGTERM instead");
            signal = "TERM";
        }
        using (var kill = Process.Start("kill", ["-" + signal, p.Id.ToString()])) kill.WaitForExit();
        var clock = Stopwatch.StartNew();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)), "the daemon did not exit");
        var took = clock.Elapsed;
        output.WriteLine($"SIG{signal} while '{status}': stopped in {took.TotalSeconds:F2} s, exit code {p.ExitCode}, output written: {File.Exists(outp)}");
        foreach (var l in log) output.WriteLine(l);
        Assert.True(took < TimeSpan.FromSeconds(2.5), $"the daemon took {took.TotalSeconds:F1} s to stop");
        Assert.Contains(log, l => l.Contains("\"event\":\"daemon_stopping\""));
        // the job was cancelled, or finished its write inside the grace period: never a partial file
        if (File.Exists(outp)) Assert.Equal((6000, 4500), TestImages.Size(outp));
        Assert.Empty(Directory.GetFiles(_dir.Path, ".*"));
        Assert.Empty(Directory.GetFileSystemEntries(tmp, $"dotnet-diagnostic-{p.Id}-*"));
    }

    /// <summary>True when this process ignores SIGINT (its children inherit that), from /proc/self/status.</summary>
    static bool SigIntIgnoredHere()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line != null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & (1UL << (2 - 1))) != 0;
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
