using Xunit.Abstractions;
using System.Collections.Concurrent;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.Tests.Support;

namespace LatentBalance.Bridge.Tests.Contract;

/// <summary>
/// The contract suite, run unchanged over every transport (see DBusContractTests and StdioContractTests):
/// a real client talks to a real host serving <see cref="FakeEngineService"/>.
/// </summary>
public abstract class EngineContractTests : IDisposable
{
    protected readonly TempDir Dir = new();
    private readonly List<IDisposable> _clients = new();

    protected abstract FakeEngineService Service { get; }

    protected EngineContractTests(ITestOutputHelper? output = null) => Output = output;

    /// <summary>Where timings go (xunit output), given by the transport subclass.</summary>
    protected ITestOutputHelper? Output { get; }

    /// <summary>Opens a new client connection to the host serving <see cref="Service"/>.</summary>
    protected abstract IEngineService OpenClient();

    protected IEngineService Client()
    {
        var c = OpenClient();
        lock (_clients) _clients.Add((IDisposable)c);
        return c;
    }

    private static Dictionary<string, string> Fast(int steps = 2, int delayMs = 5) =>
        new() { ["steps"] = steps.ToString(), ["delay_ms"] = delayMs.ToString() };

    private BalanceRequest Request(string name, Dictionary<string, string>? p = null, string content = "FAKE-JPEG-BYTES") => new()
    {
        InputPath = Dir.Input(name + ".in.jpg", content),
        OutputPath = Dir.File(name + ".out.jpg"),
        Parameters = p ?? Fast(),
    };

    private static async Task<BridgeException> ThrowsBridge(BridgeErrorCode code, Func<Task> call)
    {
        var ex = await Assert.ThrowsAsync<BridgeException>(call);
        Assert.True(ex.Code == code, $"expected {code}, got {ex.Code}: {ex.Message}");
        return ex;
    }

    [Fact]
    public async Task GetInfo_reports_version_device_models_filters_and_details()
    {
        var info = await Client().GetInfoAsync();
        Assert.Equal(FakeEngineService.Version, info.Version);
        Assert.Equal("cpu", info.Device);
        Assert.Equal(["fake-vae", "fake-balancer"], info.ModelsLoaded);
        Assert.Equal([FilterIds.LatentBalance, "needs-reference"], info.Filters);
        Assert.Equal(EngineBusNames.ProtocolVersion, info.ProtocolVersion);
        Assert.Equal("ok ✓", info.Details["ünïcode"]);
    }

    [Fact]
    public async Task ListFilters_round_trips_every_descriptor_field()
    {
        var got = await Client().ListFiltersAsync();
        var want = FakeEngineService.Filters;
        Assert.Equal(want.Count, got.Count);
        for (int i = 0; i < want.Count; i++)
        {
            Assert.Equal(want[i] with { Parameters = [] }, got[i] with { Parameters = [] });
            Assert.Equal(want[i].Parameters, got[i].Parameters); // records: every field, including null Min/Max/Default
        }
    }

    [Fact]
    public async Task Balance_then_Wait_copies_input_to_output()
    {
        var client = Client();
        var q = Request("basic", content: "pixels-of-basic");
        var ticket = await client.BalanceAsync(q);
        Assert.False(string.IsNullOrEmpty(ticket.JobId));
        var result = await client.WaitAsync(ticket.JobId, 10_000);
        Assert.Equal(JobState.Done, result.State);
        Assert.Equal(ticket.JobId, result.JobId);
        Assert.Equal(q.OutputPath, result.OutputPath);
        Assert.Null(result.ErrorCode);
        Assert.True(result.ElapsedMs >= 0);
        Assert.Equal("pixels-of-basic", File.ReadAllText(q.OutputPath));
    }

    [Fact]
    public async Task Balance_writes_the_lut_file_when_asked()
    {
        var client = Client();
        var q = Request("lut") with { LutPath = Dir.File("lut.cube") };
        var result = await client.WaitAsync((await client.BalanceAsync(q)).JobId, 10_000);
        Assert.Equal(JobState.Done, result.State);
        Assert.StartsWith("LUT_3D_SIZE 2", File.ReadAllText(Dir.File("lut.cube")));
    }

    [Fact]
    public async Task Unicode_and_space_paths_survive_the_transport()
    {
        var client = Client();
        var q = Request("fötö ✓ 写真 with space");
        var result = await client.WaitAsync((await client.BalanceAsync(q)).JobId, 10_000);
        Assert.Equal(JobState.Done, result.State);
        Assert.Equal(q.OutputPath, result.OutputPath);
        Assert.True(File.Exists(q.OutputPath));
    }

    [Fact]
    public async Task Relative_paths_are_made_absolute_by_the_client()
    {
        var client = Client();
        var q = Request("relative");
        var rel = q with
        {
            InputPath = Path.GetRelativePath(Environment.CurrentDirectory, q.InputPath),
            OutputPath = Path.GetRelativePath(Environment.CurrentDirectory, q.OutputPath),
        };
        Assert.False(Path.IsPathRooted(rel.InputPath));
        var result = await client.WaitAsync((await client.BalanceAsync(rel)).JobId, 10_000);
        Assert.Equal(JobState.Done, result.State);
        Assert.Equal(q.OutputPath, result.OutputPath);
        Assert.True(File.Exists(q.OutputPath));
    }

    [Fact]
    public async Task Progress_events_come_before_exactly_one_completed_event()
    {
        var client = Client();
        var progress = new ConcurrentQueue<JobProgressEventArgs>();
        var completed = new ConcurrentQueue<JobCompletedEventArgs>();
        var gotCompleted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        string? jobId = null;
        var idKnown = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sawProgressBeforeCompleted = true;
        client.JobProgress += (_, e) => progress.Enqueue(e);
        client.JobCompleted += (_, e) =>
        {
            completed.Enqueue(e);
            if (idKnown.Task.IsCompleted && e.JobId == idKnown.Task.Result) gotCompleted.TrySetResult();
        };
        var ticket = await client.BalanceAsync(Request("events", Fast(steps: 5, delayMs: 20)));
        jobId = ticket.JobId;
        idKnown.SetResult(jobId);
        if (completed.Any(c => c.JobId == jobId)) gotCompleted.TrySetResult();
        await gotCompleted.Task.WaitAsync(TimeSpan.FromSeconds(15));

        var mine = progress.Where(p => p.JobId == jobId).ToList();
        Assert.Equal(5, mine.Count);
        Assert.Equal([0, 0.2, 0.4, 0.6, 0.8], mine.Select(p => Math.Round(p.Progress, 6)));
        Assert.Equal("step 1/5", mine[0].Stage);
        var done = Assert.Single(completed, c => c.JobId == jobId);
        Assert.Equal(JobState.Done, done.State);
        Assert.Equal(Dir.File("events.out.jpg"), done.OutputPath);
        Assert.Null(done.ErrorCode);
        Assert.True(sawProgressBeforeCompleted);
    }

    [Fact]
    public async Task GetJob_reports_done_with_full_progress_after_completion()
    {
        var client = Client();
        var id = (await client.BalanceAsync(Request("status"))).JobId;
        await client.WaitAsync(id, 10_000);
        var status = await client.GetJobAsync(id);
        Assert.Equal(id, status.JobId);
        Assert.Equal(JobState.Done, status.State);
        Assert.Equal(1.0, status.Progress);
        Assert.Equal(Dir.File("status.out.jpg"), status.OutputPath);
        Assert.Null(status.ErrorCode);
        Assert.Null(status.Error);
    }

    [Fact]
    public async Task Wait_times_out_on_a_slow_job_and_the_job_goes_on()
    {
        var client = Client();
        var id = (await client.BalanceAsync(Request("slow", Fast(steps: 4, delayMs: 150)))).JobId;
        var ex = await ThrowsBridge(BridgeErrorCode.Timeout, () => client.WaitAsync(id, 50));
        Assert.Contains(id, ex.Message);
        var running = await client.GetJobAsync(id);
        Assert.Contains(running.State, new[] { JobState.Queued, JobState.Running });
        Assert.Equal(JobState.Done, (await client.WaitAsync(id, 10_000)).State);
    }

    [Fact]
    public async Task Cancel_stops_a_running_job_and_Wait_reports_cancelled()
    {
        var client = Client();
        var q = Request("cancel", Fast(steps: 100, delayMs: 100));
        var id = (await client.BalanceAsync(q)).JobId;
        Assert.True(await client.CancelAsync(id));
        var result = await client.WaitAsync(id, 10_000);
        Assert.Equal(JobState.Cancelled, result.State);
        Assert.Equal(BridgeErrorCode.Cancelled, result.ErrorCode);
        Assert.False(File.Exists(q.OutputPath));
        Assert.False(await client.CancelAsync(id)); // already finished
        Assert.Equal(JobState.Cancelled, (await client.GetJobAsync(id)).State);
    }

    [Fact]
    public async Task Unknown_job_ids_are_NotFound_and_empty_ids_InvalidArgument()
    {
        var client = Client();
        await ThrowsBridge(BridgeErrorCode.NotFound, () => client.GetJobAsync("job-does-not-exist"));
        await ThrowsBridge(BridgeErrorCode.NotFound, () => client.WaitAsync("job-does-not-exist", 100));
        await ThrowsBridge(BridgeErrorCode.NotFound, () => client.CancelAsync("job-does-not-exist"));
        await ThrowsBridge(BridgeErrorCode.InvalidArgument, () => client.GetJobAsync(""));
    }

    [Fact]
    public async Task Missing_input_is_NotFound_and_names_the_file()
    {
        var client = Client();
        var q = Request("x") with { InputPath = Dir.File("no-such-file.jpg") };
        var ex = await ThrowsBridge(BridgeErrorCode.NotFound, () => client.BalanceAsync(q));
        Assert.Contains("no-such-file.jpg", ex.Message);
    }

    [Fact]
    public async Task Existing_output_is_an_IoError_unless_overwrite()
    {
        var client = Client();
        var q = Request("exists");
        File.WriteAllText(q.OutputPath, "old");
        await ThrowsBridge(BridgeErrorCode.IoError, () => client.BalanceAsync(q));
        var result = await client.WaitAsync((await client.BalanceAsync(q with { Overwrite = true })).JobId, 10_000);
        Assert.Equal(JobState.Done, result.State);
        Assert.Equal("FAKE-JPEG-BYTES", File.ReadAllText(q.OutputPath));
    }

    [Theory]
    [InlineData("strength", "1.5", "<= 1")]
    [InlineData("strength", "abc", "finite number")]
    [InlineData("steps", "2.5", "integer")]
    [InlineData("preserve_luma", "maybe", "true or false")]
    [InlineData("no_such_param", "1", "unknown parameter")]
    public async Task Bad_parameters_are_InvalidArgument_with_a_reason(string name, string value, string reason)
    {
        var q = Request("params", new Dictionary<string, string> { [name] = value });
        var ex = await ThrowsBridge(BridgeErrorCode.InvalidArgument, () => Client().BalanceAsync(q));
        Assert.Contains(reason, ex.Message);
        Assert.Contains(name, ex.Message);
    }

    [Fact]
    public async Task Unknown_filter_is_NotFound_and_missing_required_parameter_InvalidArgument()
    {
        var client = Client();
        await ThrowsBridge(BridgeErrorCode.NotFound, () => client.BalanceAsync(Request("f1") with { FilterId = "no-such-filter", Parameters = new Dictionary<string, string>() }));
        var ex = await ThrowsBridge(BridgeErrorCode.InvalidArgument,
            () => client.BalanceAsync(Request("f2") with { FilterId = "needs-reference", Parameters = new Dictionary<string, string>() }));
        Assert.Contains("reference", ex.Message);
    }

    [Fact]
    public async Task Undecodable_input_fails_the_job_with_BadImage_as_a_result_not_an_error()
    {
        var client = Client();
        var q = Request("bad", content: "BAD-NOT-AN-IMAGE");
        var result = await client.WaitAsync((await client.BalanceAsync(q)).JobId, 10_000);
        Assert.Equal(JobState.Failed, result.State);
        Assert.Equal(BridgeErrorCode.BadImage, result.ErrorCode);
        Assert.Contains("not a decodable image", result.Error);
        Assert.False(File.Exists(q.OutputPath));
    }

    [Fact]
    public async Task ExportCube_writes_a_cube_of_the_requested_size()
    {
        var client = Client();
        var q = new ExportCubeRequest { InputPath = Dir.Input(), CubePath = Dir.File("out.cube"), LutSize = 3, Parameters = Fast() };
        var result = await client.WaitAsync((await client.ExportCubeAsync(q)).JobId, 10_000);
        Assert.Equal(JobState.Done, result.State);
        Assert.Equal(q.CubePath, result.OutputPath);
        var lines = File.ReadAllLines(q.CubePath);
        Assert.Equal("LUT_3D_SIZE 3", lines[0]);
        Assert.Equal(1 + 27, lines.Length);
        await ThrowsBridge(BridgeErrorCode.InvalidArgument, () => client.ExportCubeAsync(q with { CubePath = Dir.File("x.cube"), LutSize = 1 }));
        // the contract's range is the engine's (2..129): a size the engine cannot bake is refused up front
        await ThrowsBridge(BridgeErrorCode.InvalidArgument, () => client.ExportCubeAsync(q with { CubePath = Dir.File("y.cube"), LutSize = 200 }));
        // .cube text is written only to a .cube file
        await ThrowsBridge(BridgeErrorCode.InvalidArgument, () => client.ExportCubeAsync(q with { CubePath = Dir.File("q.png") }));
        Assert.False(File.Exists(Dir.File("q.png")));
    }

    [Fact]
    public async Task Eight_clients_times_ten_jobs_all_succeed()
    {
        const int clients = 8, jobs = 10;
        var all = await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var client = Client();
            var tickets = new List<(string Id, string Out, string Content)>();
            for (int j = 0; j < jobs; j++)
            {
                string content = $"client {c} job {j}";
                var q = Request($"c{c}-j{j}", Fast(steps: 2, delayMs: 5), content);
                tickets.Add(((await client.BalanceAsync(q)).JobId, q.OutputPath, content));
            }
            var results = await Task.WhenAll(tickets.Select(t => client.WaitAsync(t.Id, 60_000)));
            return tickets.Zip(results).ToList();
        })));
        var flat = all.SelectMany(x => x).ToList();
        Assert.Equal(clients * jobs, flat.Count);
        Assert.Equal(clients * jobs, flat.Select(x => x.First.Id).Distinct().Count());
        foreach (var (t, r) in flat)
        {
            Assert.Equal(JobState.Done, r.State);
            Assert.Equal(t.Id, r.JobId);
            Assert.Equal(t.Content, File.ReadAllText(t.Out));
        }
    }

    [Fact]
    public async Task Round_trips_are_fast_enough_for_interactive_use()
    {
        var client = Client();
        await client.GetInfoAsync(); // warm up
        const int n = 300;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < n; i++) await client.GetJobAsync("job-x").ContinueWith(_ => { });
        for (int i = 0; i < n; i++) await client.GetInfoAsync();
        clock.Stop();
        double perCallMs = clock.Elapsed.TotalMilliseconds / (2 * n);
        Output?.WriteLine($"{GetType().Name}: {perCallMs:F3} ms per sequential call ({2 * n} calls)");
        Assert.True(perCallMs < 20, $"{perCallMs:F2} ms per call");
    }

    [Fact]
    public async Task A_client_disconnecting_mid_job_does_not_break_the_host()
    {
        var leaving = OpenClient();
        var q = Request("orphan", Fast(steps: 5, delayMs: 60));
        var id = (await leaving.BalanceAsync(q)).JobId;
        var pendingWait = leaving.WaitAsync(id, 30_000); // in flight while we hang up
        ((IDisposable)leaving).Dispose();
        var ex = await Assert.ThrowsAsync<BridgeException>(() => pendingWait.WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal(BridgeErrorCode.Unavailable, ex.Code);

        var staying = Client();
        Assert.Equal(FakeEngineService.Version, (await staying.GetInfoAsync()).Version);
        var orphan = await staying.WaitAsync(id, 10_000);
        Assert.Equal(JobState.Done, orphan.State);
        Assert.True(File.Exists(q.OutputPath));
        var fresh = await staying.WaitAsync((await staying.BalanceAsync(Request("after-orphan"))).JobId, 10_000);
        Assert.Equal(JobState.Done, fresh.State);
    }

    public virtual void Dispose()
    {
        lock (_clients) foreach (var c in _clients) c.Dispose();
        Dir.Dispose();
        GC.SuppressFinalize(this);
    }
}
