using System.Globalization;
using LatentBalance.Bridge.Contract;
using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Filters;

namespace LatentBalance.Daemon.Filters;

/// <summary>The latent colour balance (VAE latent, balancer, colour map, 3D LUT) as a built-in filter on the warm engine.</summary>
public sealed class LatentBalanceFilter : IFilter
{
    public FilterDescription Description { get; } = new()
    {
        Id = FilterIds.LatentBalance,
        Label = "Latent colour balance",
        Description = "Balances the colours with a model trained in the latent space of an image autoencoder; the correction is a smooth 3D LUT applied at full resolution.",
        Parameters =
        [
            FilterParameter.Int("iterations", 1, 1, 10, "Run the method again on its own output this many times."),
            FilterParameter.Double("strength", 1.0, 0, 1, "How much of the correction to apply."),
            FilterParameter.Int("quality", 95, 1, 100, "JPEG and WebP quality of the balanced photo."),
        ],
    };

    /// <summary>The one options type of a balance, from the job's checked parameters and the pack's correction settings.</summary>
    public static BalanceOptions Options(FilterJob job, BalanceEngine engine) => engine.Options(
        job.Parameters.GetInt("iterations"), job.Parameters.GetDouble("strength"), job.Parameters.GetInt("quality"), job.LutSize);

    public Task RunAsync(FilterJob job, IFilterHost host)
    {
        var engine = host.GetRequiredService<BalanceEngine>();
        var options = Options(job, engine);
        job.Report("reading", 0);
        var source = PhotoReader.Open(job.InputPath);
        // the full-resolution decode overlaps the tile's networks and fit (LATENTBALANCE_OVERLAP=0 turns it off, to measure it)
        if (job.OutputPath != null && Environment.GetEnvironmentVariable("LATENTBALANCE_OVERLAP") != "0") source.StartDecoding();
        Correction c;
        var write = new System.Diagnostics.Stopwatch();
        try
        {
            c = engine.Correct(source, options, new ForwardProgress(job), job.Cancellation);
            write.Start();
            host.GetRequiredService<EngineFilterHost>().WriteCorrection(job, source, c.Lut, options.Strength, "LatentBalance correction",
                new PhotoWriterOptions { JpegQuality = options.JpegQuality, WebpQuality = options.JpegQuality },
                $"iterations: {options.Iterations}, strength: {options.Strength.ToString(CultureInfo.InvariantCulture)}");
        }
        finally
        {
            source.ReleaseDecoded();
        }
        var d = job.Details;
        d[JobDetails.TileDeltaE] = c.TileDeltaE.ToString("R", CultureInfo.InvariantCulture);
        d[JobDetails.BalancerStrengths] = string.Join(',', c.BalancerStrengths.Select(s => s.ToString("R", CultureInfo.InvariantCulture)));
        d[JobDetails.Damping] = c.Damping.ToString("R", CultureInfo.InvariantCulture);
        c.TimingsMs["apply+save"] = write.Elapsed.TotalMilliseconds;
        foreach (var (stage, ms) in c.TimingsMs) d[JobDetails.TimingPrefix + stage] = ms.ToString("F1", CultureInfo.InvariantCulture);
        job.Report("done", 1);
        return Task.CompletedTask;
    }

    /// <summary>Reports synchronously (Progress&lt;T&gt; would post to the thread pool and arrive late).</summary>
    private sealed class ForwardProgress(FilterJob job) : IProgress<BalanceProgress>
    {
        public void Report(BalanceProgress value) => job.Report(value.Stage, value.Fraction);
    }
}
