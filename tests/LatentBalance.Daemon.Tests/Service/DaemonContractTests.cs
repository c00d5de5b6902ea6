using System.Collections.Concurrent;
using LatentBalance.Bridge.Contract;
using LatentBalance.Daemon.Tests.Support;
using Xunit.Abstractions;

namespace LatentBalance.Daemon.Tests.Service;

/// <summary>
/// The contract suite against the real daemon (real engine, test pack, bundled grey-world plug-in), run over
/// each transport by a subclass. Images are tiny: the CPU is slow and shared.
/// </summary>
public abstract class DaemonContractTests : IDisposable
{
    protected readonly TempDir Dir = new("contract");
    protected readonly ITestOutputHelper Output;

    protected DaemonContractTests(ITestOutputHelper output) => Output = output;

    /// <summary>A client connection (D-Bus: a new connection each time; stdio: the one connection).</summary>
    protected abstract IEngineService NewClient();

    /// <summary>Every how many clients the first job is a latent balance (the rest grey-world) in the load test.</summary>
    protected abstract int LatentEvery { get; }

    protected static Dictionary<string, string> Grey(double strength = 1) => new() { ["strength"] = strength.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    protected BalanceRequest Request(string input, string output, string filter = FilterIds.LatentBalance, Dictionary<string, string>? p = null, bool overwrite = false) =>
        new() { InputPath = input, OutputPath = output, FilterId = filter, Parameters = p ?? new(), Overwrite = overwrite };

    protected static async Task<JobResult> Done(IEngineService c, JobTicket t)
    {
        var r = await c.WaitAsync(t.JobId, -1);
        Assert.True(r.State == JobState.Done, $"job {t.JobId}: {r.State} {r.ErrorCode} {r.Error}");
        return r;
    }

    protected static async Task<BridgeException> Rejected(BridgeErrorCode code, Func<Task> call)
    {
        var ex = await Assert.ThrowsAsync<BridgeException>(call);
        Assert.True(ex.Code == code, $"expected {code}, got {ex.Code}: {ex.Message}");
        return ex;
    }

    /// <summary>The daemon still answers and still balances.</summary>
    protected async Task StillServes(IEngineService c)
    {
        var info = await c.GetInfoAsync();
        Assert.Contains("grey-world", info.Filters);
        var input = TestImages.Gradient(Dir.File($"alive-{Guid.NewGuid():N}.png"), 32, 24);
        await Done(c, await c.BalanceAsync(Request(input, Dir.File($"alive-{Guid.NewGuid():N}.out.png"), "grey-world", Grey())));
    }

    [Fact]
    public async Task GetInfo_and_ListFilters_show_both_filters_with_their_parameters()
    {
        var c = NewClient();
        var info = await c.GetInfoAsync();
        Assert.Equal([FilterIds.LatentBalance, "grey-world"], info.Filters);
        Assert.Equal("cpu", info.Device);
        Assert.Contains("taef2", info.ModelsLoaded);
        Assert.Equal("test", info.Details["pack"]);

        var filters = await c.ListFiltersAsync();
        var latent = filters.Single(f => f.Id == FilterIds.LatentBalance);
        var it = latent.Parameters.Single(p => p.Name == "iterations");
        Assert.Equal((ParameterType.Int, "1", 1.0, 10.0), (it.Type, it.Default, it.Min, it.Max));
        var st = latent.Parameters.Single(p => p.Name == "strength");
        Assert.Equal((ParameterType.Double, "1", 0.0, 1.0), (st.Type, st.Default, st.Min, st.Max));
        var q = latent.Parameters.Single(p => p.Name == "quality");
        Assert.Equal((ParameterType.Int, "95", 1.0, 100.0), (q.Type, q.Default, q.Min, q.Max));
        Assert.DoesNotContain(latent.Parameters, p => p.Type == ParameterType.Path); // output paths are the request's, checked at the boundary
        var grey = filters.Single(f => f.Id == "grey-world");
        var gs = Assert.Single(grey.Parameters);
        Assert.Equal(("strength", ParameterType.Double, 0.0, 1.0), (gs.Name, gs.Type, gs.Min, gs.Max));
        Assert.False(string.IsNullOrWhiteSpace(grey.Label));
    }

    [Fact]
    public async Task LatentBalance_writes_a_changed_image_and_its_cube_with_progress()
    {
        var c = NewClient();
        var progress = new ConcurrentBag<JobProgressEventArgs>();
        c.JobProgress += (_, e) => progress.Add(e);
        var input = TestImages.Gradient(Dir.File("latent.png"), 64, 48);
        var output = Dir.File("latent.out.png");
        var cube = Dir.File("latent.cube");
        var t = await c.BalanceAsync(Request(input, output) with { LutPath = cube, Parameters = new Dictionary<string, string> { ["strength"] = "1" } });
        var r = await Done(c, t);
        Assert.Equal(output, r.OutputPath);
        Assert.Equal((64, 48), TestImages.Size(output));
        Assert.True(TestImages.MeanAbsDiff(input, output) > 0.05, "the test balancer moves colours; the output should differ from the input");
        Assert.StartsWith("LUT_3D_SIZE", File.ReadLines(cube).First(l => !l.StartsWith('#') && !l.StartsWith("TITLE")));
        Assert.Empty(Directory.GetFiles(Dir.Path, ".*")); // no staged or temp files left
        var status = await c.GetJobAsync(t.JobId);
        Assert.Equal((JobState.Done, 1.0), (status.State, status.Progress));
        Assert.Contains(progress, p => p.JobId == t.JobId && p.Stage.StartsWith("iteration"));
    }

    [Fact]
    public async Task GreyWorld_plugin_neutralises_a_cast_and_exports_a_cube()
    {
        var c = NewClient();
        var input = TestImages.Gradient(Dir.File("cast.png"), 64, 48, [1.0, 0.8, 0.55]);
        var output = Dir.File("cast.out.png");
        await Done(c, await c.BalanceAsync(Request(input, output, "grey-world", Grey())));
        double Spread(double[] m) => m.Max() - m.Min();
        var before = TestImages.Means(input);
        var after = TestImages.Means(output);
        Output.WriteLine($"means before {string.Join(", ", before.Select(v => v.ToString("F1")))} after {string.Join(", ", after.Select(v => v.ToString("F1")))}");
        Assert.True(Spread(after) < Spread(before) * 0.35, $"channel spread {Spread(before):F1} -> {Spread(after):F1}");

        var cube = Dir.File("cast.cube");
        var t = await c.ExportCubeAsync(new ExportCubeRequest { InputPath = input, CubePath = cube, FilterId = "grey-world", LutSize = 9, Parameters = Grey(0.5) });
        Assert.Equal(cube, (await Done(c, t)).OutputPath);
        Assert.Contains("LUT_3D_SIZE 9", File.ReadAllText(cube));
    }

    [Fact]
    public async Task Eight_clients_with_ten_jobs_each_all_succeed_with_correct_outputs()
    {
        const int clients = 8, jobsEach = 10;
        var inputs = Enumerable.Range(0, clients).Select(i =>
            TestImages.Gradient(Dir.File($"load{i}.png"), 48 + 8 * i, 40, [1.0, 0.7 + 0.03 * i, 0.5 + 0.04 * i], seed: i)).ToArray();
        bool Latent(int client, int job) => job == 0 && client % LatentEvery == 0;

        // references: each input once, alone
        var refClient = NewClient();
        var refs = new Dictionary<(int, bool), string>();
        foreach (var i in Enumerable.Range(0, clients))
            foreach (var latent in new[] { false, true }.Where(l => !l || i % LatentEvery == 0))
            {
                var o = Dir.File($"ref{i}-{latent}.png");
                await Done(refClient, await refClient.BalanceAsync(Request(inputs[i], o, latent ? FilterIds.LatentBalance : "grey-world", latent ? null : Grey())));
                refs[(i, latent)] = o;
            }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var results = await Task.WhenAll(Enumerable.Range(0, clients).Select(i => Task.Run(async () =>
        {
            var c = NewClient();
            var tickets = new List<(JobTicket Ticket, string Output, bool Latent)>();
            for (int k = 0; k < jobsEach; k++)
            {
                bool latent = Latent(i, k);
                var o = Dir.File($"load{i}-{k}.png");
                tickets.Add((await c.BalanceAsync(Request(inputs[i], o, latent ? FilterIds.LatentBalance : "grey-world", latent ? null : Grey())), o, latent));
            }
            var done = new List<(string Output, bool Latent)>();
            foreach (var (t, o, latent) in tickets) { await Done(c, t); done.Add((o, latent)); }
            return (Client: i, Done: done);
        })));
        Output.WriteLine($"{clients * jobsEach} jobs from {clients} clients in {clock.Elapsed.TotalSeconds:F1} s");

        foreach (var (i, done) in results)
        {
            Assert.Equal(jobsEach, done.Count);
            foreach (var (o, latent) in done)
            {
                double diff = TestImages.MeanAbsDiff(refs[(i, latent)], o);
                Assert.True(latent ? diff < 0.5 : diff == 0, $"{o} differs from its reference by {diff:F3}");
            }
        }
    }

    [Fact]
    public async Task Cancel_stops_a_running_job_and_a_queued_one_without_leaving_output()
    {
        var c = NewClient();
        var input = TestImages.Gradient(Dir.File("cancel.png"), 64, 48);
        var slow = Request(input, Dir.File("cancel.out.png"), p: new() { ["iterations"] = "10" });
        var running = await c.BalanceAsync(slow);
        var queued = new List<JobTicket>();
        for (int i = 0; i < 4; i++)
            queued.Add(await c.BalanceAsync(slow with { OutputPath = Dir.File($"cancel-q{i}.out.png") }));
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while ((await c.GetJobAsync(running.JobId)).State == JobState.Queued && DateTime.UtcNow < deadline) await Task.Delay(50);

        Assert.True(await c.CancelAsync(queued[^1].JobId));
        var q = await c.WaitAsync(queued[^1].JobId, 5000); // a queued job finishes at once
        Assert.Equal((JobState.Cancelled, BridgeErrorCode.Cancelled), (q.State, q.ErrorCode!.Value));

        Assert.True(await c.CancelAsync(running.JobId));
        foreach (var t in queued.Take(queued.Count - 1)) await c.CancelAsync(t.JobId);
        var r = await c.WaitAsync(running.JobId, -1);
        Assert.Equal(JobState.Cancelled, r.State);
        Assert.False(await c.CancelAsync(running.JobId)); // already finished
        foreach (var t in queued) Assert.Equal(JobState.Cancelled, (await c.WaitAsync(t.JobId, -1)).State);
        Assert.False(File.Exists(Dir.File("cancel.out.png")));
        Assert.Empty(Directory.GetFiles(Dir.Path, "*.out.png"));
        Assert.Empty(Directory.GetFiles(Dir.Path, ".*"));
        await StillServes(c);
    }

    public static TheoryData<string, BridgeErrorCode> BadRequests => new()
    {
        { "missing-input", BridgeErrorCode.NotFound },
        { "input-is-directory", BridgeErrorCode.InvalidArgument },
        { "input-is-a-named-pipe", BridgeErrorCode.InvalidArgument },
        { "input-is-a-dangling-link", BridgeErrorCode.NotFound },
        { "input-is-a-link-loop", BridgeErrorCode.InvalidArgument },
        { "not-an-image", BridgeErrorCode.BadImage },
        { "empty-file", BridgeErrorCode.BadImage },
        { "corrupt-jpeg", BridgeErrorCode.BadImage },
        { "absurd-png-dimensions", BridgeErrorCode.BadImage },
        { "output-is-directory", BridgeErrorCode.InvalidArgument },
        { "output-is-input", BridgeErrorCode.InvalidArgument },
        { "output-is-input-spelt-otherwise", BridgeErrorCode.InvalidArgument },
        { "output-is-a-link-to-the-input", BridgeErrorCode.InvalidArgument },
        { "output-folder-missing", BridgeErrorCode.NotFound },
        { "output-exists", BridgeErrorCode.IoError },
        { "output-unknown-type", BridgeErrorCode.InvalidArgument },
        { "unknown-filter", BridgeErrorCode.NotFound },
        { "parameter-out-of-range", BridgeErrorCode.InvalidArgument },
        { "parameter-wrong-type", BridgeErrorCode.InvalidArgument },
        { "unknown-parameter", BridgeErrorCode.InvalidArgument },
        { "unknown-job", BridgeErrorCode.NotFound },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_requests_get_their_error_and_the_daemon_answers_the_next_call(string kind, BridgeErrorCode code)
    {
        var c = NewClient();
        var good = TestImages.Gradient(Dir.File($"{kind}.png"), 32, 24);
        var outp = Dir.File($"{kind}.out.png");
        string Bytes(string name, byte[] b) { File.WriteAllBytes(Dir.File(name), b); return Dir.File(name); }
        Func<Task> call = kind switch
        {
            "missing-input" => () => c.BalanceAsync(Request(Dir.File("nope.jpg"), outp)),
            "input-is-directory" => () => c.BalanceAsync(Request(Directory.CreateDirectory(Dir.File("adir.jpg")).FullName, outp)),
            "input-is-a-named-pipe" => () => c.BalanceAsync(Request(Fifo(Dir.File("pipe.jpg")), outp)),
            "input-is-a-dangling-link" => () => c.BalanceAsync(Request(File.CreateSymbolicLink(Dir.File("dangling.jpg"), Dir.File("gone.jpg")).FullName, outp)),
            "input-is-a-link-loop" => () => c.BalanceAsync(Request(LinkLoop(Dir.File("loop.jpg")), outp)),
            "not-an-image" => () => c.BalanceAsync(Request(Bytes("text.jpg", "hello, not a photo"u8.ToArray()), outp)),
            "empty-file" => () => c.BalanceAsync(Request(Bytes("empty.png", []), outp)),
            "corrupt-jpeg" => () => c.BalanceAsync(Request(TestImages.CorruptJpeg(Dir.File("corrupt.jpg")), outp)),
            "absurd-png-dimensions" => () => c.BalanceAsync(Request(TestImages.AbsurdPng(Dir.File("huge.png")), outp)),
            "output-is-directory" => () => c.BalanceAsync(Request(good, Directory.CreateDirectory(Dir.File("outdir.png")).FullName)),
            "output-is-input" => () => c.BalanceAsync(Request(good, good, overwrite: true)),
            "output-is-input-spelt-otherwise" => () => c.BalanceAsync(Request(good, Path.Combine(Dir.Path, "sub", "..", Path.GetFileName(good)), overwrite: true)),
            "output-is-a-link-to-the-input" => () => c.BalanceAsync(Request(good, File.CreateSymbolicLink(Dir.File("link.png"), good).FullName, overwrite: true)),
            "output-folder-missing" => () => c.BalanceAsync(Request(good, Dir.File("no/such/folder/out.png"))),
            "output-exists" => () => c.BalanceAsync(Request(good, Bytes("exists.png", [1, 2, 3]))),
            "output-unknown-type" => () => c.BalanceAsync(Request(good, Dir.File("out.xyz"))),
            "unknown-filter" => () => c.BalanceAsync(Request(good, outp, "no-such-filter")),
            "parameter-out-of-range" => () => c.BalanceAsync(Request(good, outp, p: new() { ["iterations"] = "11" })),
            "parameter-wrong-type" => () => c.BalanceAsync(Request(good, outp, p: new() { ["strength"] = "lots" })),
            "unknown-parameter" => () => c.BalanceAsync(Request(good, outp, p: new() { ["colour"] = "1" })),
            "unknown-job" => () => c.WaitAsync("job-0-deadbeef", 100),
            _ => throw new ArgumentException(kind),
        };
        var ex = await Rejected(code, call);
        Output.WriteLine($"{kind}: {ex.Code}: {ex.Message}");
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
        Assert.False(File.Exists(outp));
        if (kind == "output-exists") Assert.Equal([1, 2, 3], File.ReadAllBytes(Dir.File("exists.png")));
        await StillServes(c);
    }

    static string Fifo(string path)
    {
        using var p = System.Diagnostics.Process.Start("mkfifo", [path]);
        p.WaitForExit();
        return path;
    }

    static string LinkLoop(string path)
    {
        File.CreateSymbolicLink(path + ".b", path);
        File.CreateSymbolicLink(path, path + ".b");
        return path;
    }

    [Fact]
    public async Task One_requests_error_text_does_not_reach_the_next_requests_error()
    {
        // issue 13 item 3: libvips' error buffer kept "text.jpg is not a known file format" after the
        // loader search failed, and the next failure of any request carried it
        var c = NewClient();
        File.WriteAllText(Dir.File("leak-text.jpg"), "hello, not a photo");
        var first = await Rejected(BridgeErrorCode.BadImage, () => c.BalanceAsync(Request(Dir.File("leak-text.jpg"), Dir.File("leak1.out.png"))));
        Assert.Contains("leak-text.jpg", first.Message);
        var second = await Rejected(BridgeErrorCode.BadImage, () => c.BalanceAsync(Request(TestImages.CorruptJpeg(Dir.File("leak-corrupt.jpg")), Dir.File("leak2.out.png"))));
        Output.WriteLine(second.Message);
        Assert.Contains("leak-corrupt.jpg", second.Message);
        Assert.DoesNotContain("leak-text", second.Message);
        Assert.DoesNotContain("known file format", second.Message);
    }

    [Fact]
    public async Task A_truncated_jpeg_fails_as_BadImage_and_nothing_is_written()
    {
        var c = NewClient();
        var input = TestImages.TruncatedJpeg(Dir.File("truncated.jpg"));
        var outp = Dir.File("truncated.out.png");
        try
        {
            var r = await c.WaitAsync((await c.BalanceAsync(Request(input, outp, "grey-world", Grey()))).JobId, -1);
            Assert.Equal((JobState.Failed, BridgeErrorCode.BadImage), (r.State, r.ErrorCode!.Value));
            Assert.Contains("truncated.jpg", r.Error);
        }
        catch (BridgeException e) { Assert.Equal(BridgeErrorCode.BadImage, e.Code); } // caught when the request came in
        Assert.False(File.Exists(outp));
        Assert.Empty(Directory.GetFiles(Dir.Path, ".*"));
        await StillServes(c);
    }

    [SkippableFact]
    public async Task An_unreadable_input_is_an_IoError()
    {
        Skip.If(Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root",
            "runs as root: file permissions do not stop root from reading, so an unreadable file cannot be made");
        var c = NewClient();
        var input = TestImages.Gradient(Dir.File("secret.png"), 32, 24);
        File.SetUnixFileMode(input, UnixFileMode.None);
        await Rejected(BridgeErrorCode.IoError, () => c.BalanceAsync(Request(input, Dir.File("secret.out.png"))));
        await StillServes(c);
    }

    public void Dispose() => Dir.Dispose();
}
