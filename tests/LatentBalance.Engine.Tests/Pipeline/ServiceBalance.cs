using System.Globalization;
using System.Runtime.CompilerServices;
using LatentBalance.Bridge.Contract;
using LatentBalance.Daemon;
using LatentBalance.Daemon.Filters;
using LatentBalance.Engine.Pipeline;

namespace LatentBalance.Engine.Tests.Pipeline;

/// <summary>What one balance reported (a done job's details, typed for tests).</summary>
public sealed record Balanced(JobResult Job)
{
    string Get(string key) => Job.Details[key];
    static double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);
    public int Width => int.Parse(Get(JobDetails.Width), CultureInfo.InvariantCulture);
    public int Height => int.Parse(Get(JobDetails.Height), CultureInfo.InvariantCulture);
    public double TileDeltaE => D(Get(JobDetails.TileDeltaE));
    public double Damping => D(Get(JobDetails.Damping));
    public double[] BalancerStrengths => Get(JobDetails.BalancerStrengths).Split(',', StringSplitOptions.RemoveEmptyEntries).Select(D).ToArray();
    public string[] Notes => Job.Details.GetValueOrDefault(JobDetails.Notes, "").Split('\n', StringSplitOptions.RemoveEmptyEntries);
    public Dictionary<string, double> TimingsMs => Job.Details.Where(kv => kv.Key.StartsWith(JobDetails.TimingPrefix))
        .ToDictionary(kv => kv.Key[JobDetails.TimingPrefix.Length..], kv => D(kv.Value));
}

/// <summary>
/// Balances a file the one way every client does: a request to the engine service (in this process,
/// on the test's warm engine), then its job waited for. A refused request or a failed job throws its
/// <see cref="BridgeException"/> (the code says what kind of problem).
/// </summary>
public static class ServiceBalance
{
    static readonly ConditionalWeakTable<BalanceEngine, EngineService> Services = new();

    public static EngineService ServiceFor(BalanceEngine engine) => Services.GetValue(engine, e =>
        new EngineService(e, null, new FilterCatalog([new LatentBalanceFilter()]), new DaemonOptions { JobTimeout = Timeout.InfiniteTimeSpan }, DaemonLog.Silent));

    public static Balanced BalanceFile(this BalanceEngine engine, string input, string output, BalanceOptions? options = null, string? lut = null)
    {
        options ??= new BalanceOptions();
        var service = ServiceFor(engine);
        var ticket = service.BalanceAsync(new BalanceRequest
        {
            InputPath = Path.GetFullPath(input), OutputPath = Path.GetFullPath(output), LutPath = lut is null ? null : Path.GetFullPath(lut), Overwrite = true,
            Parameters = new Dictionary<string, string>
            {
                ["iterations"] = options.Iterations.ToString(CultureInfo.InvariantCulture),
                ["strength"] = options.Strength.ToString("R", CultureInfo.InvariantCulture),
                ["quality"] = options.JpegQuality.ToString(CultureInfo.InvariantCulture),
            },
        }).GetAwaiter().GetResult();
        var r = service.WaitAsync(ticket.JobId, -1).GetAwaiter().GetResult();
        return r.State == JobState.Done ? new Balanced(r) : throw new BridgeException(r.ErrorCode ?? BridgeErrorCode.Internal, r.Error ?? r.State.ToString());
    }
}
