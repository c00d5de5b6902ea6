using LatentBalance.Bridge.Contract;
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
            FilterParameter.Double("strength", 1.0, 0, 1, "How much of the correction to apply, 0..1."),
            FilterParameter.OptionalPath("lut_path", "Also write the correction as a .cube file here (absolute path)."),
        ],
    };

    public Task RunAsync(FilterJob job, IFilterHost host)
    {
        var engine = host.GetRequiredService<BalanceEngine>();
        var p = job.Parameters;
        string? cube = job.CubePath ?? p.GetPath("lut_path");
        if (cube != null && job.CubePath == null && !job.Overwrite && File.Exists(cube))
            throw new IOException($"LUT file '{cube}' exists (pass overwrite to replace it)");
        var options = new BalanceOptions
        {
            Iterations = p.GetInt("iterations"),
            Strength = p.GetDouble("strength"),
            LutSize = job.LutSize == 0 ? LutBaker.DefaultSize : job.LutSize,
            LutPath = cube,
        };
        if (job.OutputPath is null)
        {
            if (cube is null) throw new ArgumentException("nothing to write: neither an output image nor a .cube path");
            job.Report("estimating", 0.1);
            engine.ExportCube(job.InputPath, cube, options, job.Cancellation);
        }
        else
        {
            engine.BalanceFile(job.InputPath, job.OutputPath, options, new ForwardProgress(job), job.Cancellation);
        }
        job.Report("done", 1);
        return Task.CompletedTask;
    }

    /// <summary>Reports synchronously (Progress&lt;T&gt; would post to the thread pool and arrive late).</summary>
    private sealed class ForwardProgress(FilterJob job) : IProgress<BalanceProgress>
    {
        public void Report(BalanceProgress value) => job.Report(value.Stage, value.Fraction);
    }
}
