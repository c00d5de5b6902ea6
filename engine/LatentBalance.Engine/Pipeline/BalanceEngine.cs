using System.Diagnostics;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.Runtime;

namespace LatentBalance.Engine.Pipeline;

/// <summary>
/// The latent colour balance, end to end, with its models kept warm. One instance runs one
/// inference at a time (a lock guards the models); reading and writing images happen outside it.
///   1. the whole photo shrunk into a 224x224 tile (padded; the padding masked out),
///   2-5. <see cref="CorrectionEstimator"/>: encode, balance, decode both, fit the colour map,
///   6. <see cref="LutBaker"/> bakes the map (or the chain of maps, one per iteration) into a 3D
///      LUT, which <see cref="PhotoWriter"/> applies to the full-resolution photo.
/// </summary>
public sealed class BalanceEngine : IDisposable
{
    readonly object _modelLock = new();
    readonly CorrectionEstimator _estimator;

    /// <param name="networks">Steps 2-4 on a runtime (the engine owns and disposes them).</param>
    public BalanceEngine(ICorrectionNetworks networks, string packName = "custom", CorrectionSettings? correction = null)
    {
        NativeSetup.EnsureInitialized();
        Networks = networks; PackName = packName; Correction = correction ?? new();
        _estimator = new CorrectionEstimator(networks);
    }

    /// <summary>The encoder, balancer and decoder on their runtime.</summary>
    public ICorrectionNetworks Networks { get; }
    /// <summary>The tile the balancer was trained on (balancer.json's <c>tile_size</c>).</summary>
    public ThumbnailFitOptions TileOptions => new() { Size = Networks.TileSize };
    public string PackName { get; }
    /// <summary>The pack's colour-map fit and LUT size (<c>pack.json</c>'s <c>correction</c>).</summary>
    public CorrectionSettings Correction { get; }

    /// <summary>The options of a balance as this pack makes it: its fit and LUT size (<paramref name="lutSize"/> 0: the pack's).</summary>
    public BalanceOptions Options(int iterations = 1, double strength = 1, int quality = 95, int lutSize = 0) => new()
    {
        Iterations = iterations, Strength = strength, JpegQuality = quality,
        LutSize = lutSize == 0 ? Correction.LutSize : lutSize, Fit = Correction.Fit,
    };

    /// <summary>The correction for a tile as a LUT (steps 2-6a), iterating the method on its own output.</summary>
    /// <param name="report">Receives the balancer's own strength per iteration and the damping for
    /// the tile's colour information (<see cref="ColorInformation"/>).</param>
    public Lut3D EstimateCorrection(ModelTile tile, BalanceOptions options, Dictionary<string, double>? timings = null,
        IProgress<BalanceProgress>? progress = null, CancellationToken cancel = default, CorrectionReport? report = null)
    {
        options.Validate();
        report ??= new CorrectionReport();
        report.Damping = ColorInformation.Damping(tile);
        if (report.Damping <= 0) return Lut3D.Identity(options.LutSize);   // nothing to fit a map on
        Lut3D lut;
        lock (_modelLock)
            lut = Estimate(tile, options, timings, progress, cancel, report.BalancerStrengths);
        return lut.Blend(Math.Min(report.Damping, 1));
    }

    /// <summary>One attempt at <see cref="EstimateCorrection"/> (a pure function of the tile and options).</summary>
    Lut3D Estimate(ModelTile tile, BalanceOptions options, Dictionary<string, double>? timings,
        IProgress<BalanceProgress>? progress, CancellationToken cancel, List<double>? strengths)
    {
        var x = tile.Chw;
        var maps = new List<ColorMap>();
        try
        {
            for (int it = 0; it < options.Iterations; it++)
            {
                cancel.ThrowIfCancellationRequested();
                progress?.Report(new BalanceProgress($"iteration {it + 1}/{options.Iterations}", 0.1 + 0.6 * it / options.Iterations));
                var map = _estimator.Estimate(x, tile.Mask, tile.Size, options.Fit, (stage, ms) => Add(timings, stage, ms), s => strengths?.Add(s));
                maps.Add(map);
                if (it + 1 < options.Iterations) x = map.ApplyChw(x);
            }
            var sw = Stopwatch.StartNew();
            var lut = LutBaker.Bake([.. maps], options.LutSize, "LatentBalance correction");
            Add(timings, "bake", sw.Elapsed.TotalMilliseconds);
            return lut;
        }
        finally
        {
            NativeSetup.Trim();
        }
    }

    /// <summary>Steps 1-6a for a photo: its tile, the correction as a LUT (at full strength, damped for
    /// photos with little colour), and what was decided on the way. Files are the caller's
    /// (<see cref="CorrectionFiles"/>).</summary>
    public Correction Correct(SourceImage source, BalanceOptions options,
        IProgress<BalanceProgress>? progress = null, CancellationToken cancel = default)
    {
        options.Validate();
        var timings = new Dictionary<string, double>();
        var sw = Stopwatch.StartNew();
        var tile = ThumbnailFit.FromSource(source, TileOptions);
        Add(timings, "tile", sw.Elapsed.TotalMilliseconds);
        var report = new CorrectionReport();
        var lut = EstimateCorrection(tile, options, timings, progress, cancel, report);
        cancel.ThrowIfCancellationRequested();
        var before = tile.MaskedPixels();
        var after = before.ToArray();
        new LutTransform(lut, (float)options.Strength).Apply(after.AsSpan(), 3);
        return new Correction
        {
            Lut = lut, TileDeltaE = Ciede2000.Mean(before, after), BalancerStrengths = report.BalancerStrengths, Damping = report.Damping, TimingsMs = timings,
        };
    }

    static void Add(Dictionary<string, double>? timings, string stage, double ms)
    {
        if (timings == null) return;
        timings[stage] = timings.GetValueOrDefault(stage) + ms;
    }

    public void Dispose() => Networks.Dispose();
}

/// <summary>The correction of one photo (<see cref="BalanceEngine.Correct"/>).</summary>
public sealed record Correction
{
    /// <summary>The full correction (strength 1; damped toward the identity where <see cref="Damping"/> &lt; 1).</summary>
    public required Lut3D Lut { get; init; }
    /// <summary>Mean CIEDE2000 between the tile before and after the correction at the asked strength: how much it moved.</summary>
    public double TileDeltaE { get; init; }
    /// <summary>The balancer's own strength per iteration (a pack with a calibrated-strength head predicts it
    /// per photo: near 0 for a photo it judges balanced; 1 without a head). The user's strength multiplies it.</summary>
    public IReadOnlyList<double> BalancerStrengths { get; init; } = [];
    /// <summary>1, or below 1 where the photo holds too little colour information to fit a map on.</summary>
    public double Damping { get; init; } = 1;
    /// <summary>Milliseconds per stage.</summary>
    public Dictionary<string, double> TimingsMs { get; init; } = [];
}

/// <summary>What <see cref="BalanceEngine.EstimateCorrection"/> decided besides the LUT.</summary>
public sealed class CorrectionReport
{
    /// <summary>The balancer's own strength per iteration (its strength head's, else 1).</summary>
    public List<double> BalancerStrengths { get; } = [];
    /// <summary>1: the correction as estimated; below 1: damped toward the identity because the
    /// photo holds too little colour information (near-black, near-white or flat).</summary>
    public double Damping { get; set; } = 1;
}
