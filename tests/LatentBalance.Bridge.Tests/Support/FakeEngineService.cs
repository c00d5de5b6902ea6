using System.Collections.Concurrent;
using System.Globalization;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.Jobs;

namespace LatentBalance.Bridge.Tests.Support;

/// <summary>
/// A real, in-memory engine for transport tests: Balance copies the input file to the output in
/// <c>steps</c> steps of <c>delay_ms</c> each (reporting progress), fails with BadImage when the input starts
/// with "BAD", and writes a small text .cube for LUT paths and ExportCube.
/// </summary>
public sealed class FakeEngineService : IEngineService, IDisposable
{
    public const string Version = "0.0.0-fake";

    private readonly JobRegistry _jobs;

    public FakeEngineService(int maxConcurrency = 4)
    {
        _jobs = new JobRegistry(maxConcurrency);
        _jobs.JobProgress += (_, e) => JobProgress?.Invoke(this, e);
        _jobs.JobCompleted += (_, e) => JobCompleted?.Invoke(this, e);
    }

    public event EventHandler<JobProgressEventArgs>? JobProgress;
    public event EventHandler<JobCompletedEventArgs>? JobCompleted;

    public ConcurrentBag<string> Calls { get; } = new();

    public static IReadOnlyList<FilterDescriptor> Filters { get; } =
    [
        new FilterDescriptor
        {
            Id = FilterIds.LatentBalance,
            Label = "Latent balance",
            Description = "Fake: copies the input.",
            Parameters =
            [
                new ParameterDescriptor { Name = "strength", Type = ParameterType.Double, Default = "1", Min = 0, Max = 1, Description = "Blend with the original." },
                new ParameterDescriptor { Name = "steps", Type = ParameterType.Int, Default = "4", Min = 1, Max = 1000, Description = "Progress steps." },
                new ParameterDescriptor { Name = "delay_ms", Type = ParameterType.Int, Default = "10", Min = 0, Max = 60000, Description = "Delay per step." },
                new ParameterDescriptor { Name = "preserve_luma", Type = ParameterType.Bool, Default = "false", Description = "Unused." },
                new ParameterDescriptor { Name = "note", Type = ParameterType.String, Description = "Optional free text." , Default = "" },
            ],
        },
        new FilterDescriptor
        {
            Id = "needs-reference",
            Label = "Needs a reference",
            Description = "Has a required path parameter with no default.",
            Parameters = [new ParameterDescriptor { Name = "reference", Type = ParameterType.Path, Description = "Reference image." }],
        },
    ];

    public Task<EngineInfo> GetInfoAsync(CancellationToken cancellationToken = default)
    {
        Calls.Add("GetInfo");
        return Task.FromResult(new EngineInfo
        {
            Version = Version,
            Device = "cpu",
            ModelsLoaded = ["fake-vae", "fake-balancer"],
            Filters = Filters.Select(f => f.Id).ToArray(),
            Details = new Dictionary<string, string> { ["active_jobs"] = _jobs.ActiveCount.ToString(CultureInfo.InvariantCulture), ["ünïcode"] = "ok ✓" },
        });
    }

    public Task<IReadOnlyList<FilterDescriptor>> ListFiltersAsync(CancellationToken cancellationToken = default)
    {
        Calls.Add("ListFilters");
        return Task.FromResult(Filters);
    }

    public Task<JobTicket> BalanceAsync(BalanceRequest request, CancellationToken cancellationToken = default)
    {
        Calls.Add("Balance");
        var q = RequestRules.Validate(request);
        var p = Bind(q.FilterId, q.Parameters);
        CheckInput(q.InputPath);
        CheckOutput(q.OutputPath, q.Overwrite);
        if (q.LutPath is not null) CheckOutput(q.LutPath, q.Overwrite);
        return Task.FromResult(_jobs.Start(q.OutputPath, async ctx =>
        {
            await Steps(ctx, p);
            byte[] bytes = await File.ReadAllBytesAsync(q.InputPath, ctx.Cancellation);
            if (bytes.AsSpan().StartsWith("BAD"u8))
                throw new BridgeException(BridgeErrorCode.BadImage, $"'{q.InputPath}' is not a decodable image");
            ctx.ThrowIfCancelled();
            await WriteAtomic(q.OutputPath, bytes, ctx.Cancellation);
            if (q.LutPath is not null) await WriteAtomic(q.LutPath, Cube(2), ctx.Cancellation);
        }));
    }

    public Task<JobTicket> ExportCubeAsync(ExportCubeRequest request, CancellationToken cancellationToken = default)
    {
        Calls.Add("ExportCube");
        var q = RequestRules.Validate(request);
        var p = Bind(q.FilterId, q.Parameters);
        CheckInput(q.InputPath);
        CheckOutput(q.CubePath, q.Overwrite);
        return Task.FromResult(_jobs.Start(q.CubePath, async ctx =>
        {
            await Steps(ctx, p);
            await WriteAtomic(q.CubePath, Cube(q.LutSize == 0 ? 2 : q.LutSize), ctx.Cancellation);
        }));
    }

    public Task<JobResult> WaitAsync(string jobId, int timeoutMs, CancellationToken cancellationToken = default)
    {
        Calls.Add("Wait");
        return _jobs.WaitAsync(jobId, timeoutMs, cancellationToken);
    }

    public Task<bool> CancelAsync(string jobId, CancellationToken cancellationToken = default)
    {
        Calls.Add("Cancel");
        return Task.FromResult(_jobs.Cancel(jobId));
    }

    public Task<JobStatus> GetJobAsync(string jobId, CancellationToken cancellationToken = default)
    {
        Calls.Add("GetJob");
        return Task.FromResult(_jobs.Get(jobId));
    }

    private static BoundParameters Bind(string filterId, IReadOnlyDictionary<string, string> values)
    {
        var filter = Filters.FirstOrDefault(f => f.Id == filterId)
            ?? throw new BridgeException(BridgeErrorCode.NotFound, $"no filter '{filterId}' (known: {string.Join(", ", Filters.Select(f => f.Id))})");
        return ParameterBinder.Bind(filter, values);
    }

    private static async Task Steps(JobContext ctx, BoundParameters p)
    {
        int steps = p.Has("steps") ? p.GetInt("steps") : 1;
        int delay = p.Has("delay_ms") ? p.GetInt("delay_ms") : 0;
        for (int i = 0; i < steps; i++)
        {
            ctx.Report((double)i / steps, $"step {i + 1}/{steps}");
            await Task.Delay(delay, ctx.Cancellation);
        }
    }

    private static void CheckInput(string path)
    {
        if (!File.Exists(path)) throw new BridgeException(BridgeErrorCode.NotFound, $"input file '{path}' does not exist");
    }

    private static void CheckOutput(string path, bool overwrite)
    {
        if (!overwrite && File.Exists(path))
            throw new BridgeException(BridgeErrorCode.IoError, $"output file '{path}' exists (pass overwrite to replace it)");
        string? dir = Path.GetDirectoryName(path);
        if (dir is not null && !Directory.Exists(dir))
            throw new BridgeException(BridgeErrorCode.NotFound, $"output folder '{dir}' does not exist");
    }

    private static async Task WriteAtomic(string path, byte[] bytes, CancellationToken ct)
    {
        string tmp = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        await File.WriteAllBytesAsync(tmp, bytes, ct);
        File.Move(tmp, path, overwrite: true);
    }

    private static byte[] Cube(int n)
    {
        var sb = new System.Text.StringBuilder($"LUT_3D_SIZE {n}\n");
        for (int b = 0; b < n; b++)
        for (int g = 0; g < n; g++)
        for (int r = 0; r < n; r++)
            sb.Append(CultureInfo.InvariantCulture, $"{r / (n - 1.0):0.000000} {g / (n - 1.0):0.000000} {b / (n - 1.0):0.000000}\n");
        return System.Text.Encoding.ASCII.GetBytes(sb.ToString());
    }

    public void Dispose() => _jobs.Dispose();
}
