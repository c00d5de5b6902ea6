using System.Diagnostics;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Engine.Runtime;
using LatentBalance.Engine.Training.Distortions;
using NetVips;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Training;

public sealed record EvalOptions
{
    public required string PhotosDir { get; init; }
    public string? LutsDir { get; init; }
    /// <summary>Distorted versions per validation photo.</summary>
    public int Variants { get; init; } = 1;
    /// <summary>Use at most this many validation photos (0: all).</summary>
    public int MaxPhotos { get; init; }
    /// <summary>How many of the cases also run with <see cref="CompareIterations"/> iterations.</summary>
    public int IterationCases { get; init; } = 40;
    public int CompareIterations { get; init; } = 3;
    /// <summary>How many clean (undistorted) photos are balanced to check the method leaves them alone.</summary>
    public int CleanCases { get; init; } = 80;
    public int Seed { get; init; } = 777_000;
    public string? ContactSheetPath { get; init; }
    /// <summary>Also score the method with a perfect balancer (the clean photo's own latent as the
    /// balanced latent): the ceiling that the VAE, the colour-map fit and the LUT allow.</summary>
    public bool Oracle { get; init; }
}

/// <summary>Summary of one method over the evaluation cases.</summary>
public sealed record MethodScore(string Method, int Cases, double MeanDe, double MedianDe, double P90De, double MeanPsnr);

public sealed record EvalReport(IReadOnlyList<MethodScore> Distorted, MethodScore? Iterations1, MethodScore? IterationsN, int IterationsN_Count, MethodScore? CleanMovement, double Seconds);

/// <summary>
/// <c>latentbalance eval</c>: the validation photos (never seen in training), distorted with
/// seeded recipes that use only validation LUTs, corrected by each method and compared to the
/// clean photo: mean, median and 90th-percentile CIEDE2000 per image (averaged over images) and
/// PSNR, for doing nothing, grey-world and the latent balance. Also: how far the method moves
/// clean photos, and whether iterating helps or harms.
/// </summary>
public sealed class Evaluator(BalanceEngine engine, EvalOptions options)
{
    sealed record Case(string Name, Tensor Clean, Tensor Distorted, Tensor Balanced, double De);

    public EvalReport Run(IProgress<string>? log = null, CancellationToken cancel = default)
    {
        var sw = Stopwatch.StartNew();
        var (_, valPhotos) = DataSplit.Photos(options.PhotosDir);
        if (options.MaxPhotos > 0) valPhotos = valPhotos.Take(options.MaxPhotos).ToList();
        var luts = new List<Lut3D>();
        if (options.LutsDir != null && Directory.Exists(options.LutsDir))
            luts.AddRange(DataSplit.Luts(options.LutsDir).Validation.Select(CubeFile.Read));
        var generator = new DistortionGenerator(new DistortionOptions { Luts = luts });

        var scores = new Dictionary<string, List<(DeltaEStats De, double Psnr)>> { ["none"] = [], ["grey-world"] = [], ["latent"] = [] };
        if (options.Oracle) scores["oracle (clean latent)"] = [];
        var cases = new List<Case>();
        int n = 0;
        foreach (var photo in valPhotos)
            for (int v = 0; v < options.Variants; v++)
            {
                cancel.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var clean = LoadPhoto(photo);
                var (distorted, recipe) = generator.Distort(clean, options.Seed + n++);
                var grey = GreyWorld.Apply(distorted, GreyWorld.Gains(distorted));
                var balanced = Balance(distorted, 1);
                Score(scores["none"], distorted, clean);
                Score(scores["grey-world"], grey, clean);
                var de = Score(scores["latent"], balanced, clean);
                if (options.Oracle) Score(scores["oracle (clean latent)"], BalanceToClean(distorted, clean), clean);
                cases.Add(new Case($"{Path.GetFileName(photo)} {recipe}", clean.MoveToOuterDisposeScope(), distorted.MoveToOuterDisposeScope(), balanced.MoveToOuterDisposeScope(), de));
                if (n % 10 == 0) log?.Report($"eval {n}/{valPhotos.Count * options.Variants}: latent mean dE00 so far {scores["latent"].Average(s => s.De.Mean):F2} (none {scores["none"].Average(s => s.De.Mean):F2}, grey-world {scores["grey-world"].Average(s => s.De.Mean):F2})");
            }
        var table = scores.Select(kv => Summarise(kv.Key, kv.Value)).ToList();

        // iterations: the first IterationCases cases again with N iterations
        MethodScore? it1 = null, itN = null;
        if (options.IterationCases > 0 && options.CompareIterations > 1)
        {
            var one = new List<(DeltaEStats, double)>();
            var many = new List<(DeltaEStats, double)>();
            foreach (var c in cases.Take(options.IterationCases))
            {
                using var scope = NewDisposeScope();
                Score(one, c.Balanced, c.Clean);
                Score(many, Balance(c.Distorted, options.CompareIterations), c.Clean);
            }
            it1 = Summarise("latent, 1 iteration", one);
            itN = Summarise($"latent, {options.CompareIterations} iterations", many);
            log?.Report($"iterations: 1 -> {it1.MeanDe:F2}, {options.CompareIterations} -> {itN.MeanDe:F2}");
        }

        // clean photos must not be harmed
        MethodScore? cleanMove = null;
        if (options.CleanCases > 0)
        {
            var moved = new List<(DeltaEStats, double)>();
            foreach (var photo in valPhotos.Take(options.CleanCases))
            {
                using var scope = NewDisposeScope();
                var clean = LoadPhoto(photo);
                Score(moved, Balance(clean, 1), clean);
            }
            cleanMove = Summarise("latent on clean photos (movement)", moved);
            log?.Report($"clean photos moved by mean dE00 {cleanMove.MeanDe:F2}");
        }

        if (options.ContactSheetPath != null && cases.Count > 0)
            WriteContactSheet(options.ContactSheetPath, cases);
        foreach (var c in cases) { c.Clean.Dispose(); c.Distorted.Dispose(); c.Balanced.Dispose(); }
        return new EvalReport(table, it1, itN, Math.Min(options.IterationCases, cases.Count), cleanMove, sw.Elapsed.TotalSeconds);
    }

    /// <summary>The latent balance of an in-memory sRGB image [3, H, W]: tile, correction LUT, applied at full size.</summary>
    Tensor Balance(Tensor srgb, int iterations)
        => Apply(engine.EstimateCorrection(Tile(srgb), new BalanceOptions { Iterations = iterations }), srgb);

    /// <summary>Steps 1-6 with the clean photo's latent in place of the balancer's output.</summary>
    Tensor BalanceToClean(Tensor distorted, Tensor clean)
    {
        var options = new BalanceOptions();
        var dTile = Tile(distorted);
        Lut3D lut;
        using (NewDisposeScope())
        using (no_grad())
        {
            var z = engine.Vae.Encode(cat([dTile.ToTensor(engine.Device), Tile(clean).ToTensor(engine.Device)], 0));
            var mask = dTile.MaskTensor(engine.Device).reshape(dTile.Size, dTile.Size);
            using var mlp = new CorrectionEstimator(engine.Vae, engine.Balancer).FitBetween(z[..1], z[1..], mask, options.Fit);
            lut = LutBaker.Bake([mlp], options.LutSize);
        }
        return Apply(lut, distorted);
    }

    static ModelTile Tile(Tensor srgb)
    {
        using var img = ToVips(srgb);
        return ThumbnailFit.FromImage(img);
    }

    static Tensor Apply(Lut3D lut, Tensor srgb) => LutTransform.ApplyToTensor(lut, srgb.unsqueeze(0))[0].clamp(0, 1);

    static double Score(List<(DeltaEStats De, double Psnr)> into, Tensor result, Tensor clean)
    {
        var (de, psnr) = NativeRetry.Run(() => (Ciede2000.Stats(result, clean), ImageMetrics.Psnr(result, clean)));
        into.Add((de, psnr));
        return de.Mean;
    }

    static MethodScore Summarise(string method, List<(DeltaEStats De, double Psnr)> s) =>
        new(method, s.Count, s.Average(x => x.De.Mean), s.Average(x => x.De.Median), s.Average(x => x.De.P90), s.Average(x => Math.Min(x.Psnr, 100)));

    public static Tensor LoadPhoto(string path)
    {
        using var img = Image.NewFromFile(path, access: Enums.Access.Sequential);
        using var rgb = img.Bands >= 3 ? img.ExtractBand(0, n: 3) : img.Colourspace(Enums.Interpretation.Srgb);
        var bytes = rgb.Cast(Enums.BandFormat.Uchar).WriteToMemory();
        using var t = tensor(bytes, [rgb.Height, rgb.Width, 3]);
        return t.permute(2, 0, 1).to(ScalarType.Float32).div(255f).contiguous();
    }

    static Image ToVips(Tensor srgb)
    {
        var hwc = (srgb.clamp(0, 1) * 255).round().to(ScalarType.Byte).permute(1, 2, 0).contiguous();
        var bytes = hwc.data<byte>().ToArray();
        return Image.NewFromMemory(bytes, (int)srgb.shape[2], (int)srgb.shape[1], 3, Enums.BandFormat.Uchar);
    }

    /// <summary>Rows of distorted | balanced | clean, the four worst cases then the four best.</summary>
    static void WriteContactSheet(string path, List<Case> cases)
    {
        var ordered = cases.OrderByDescending(c => c.De).ToList();
        var pick = ordered.Take(4).Concat(ordered.TakeLast(Math.Min(4, Math.Max(0, ordered.Count - 4)))).ToList();
        var cells = new List<Image>();
        foreach (var c in pick)
            foreach (var t in new[] { c.Distorted, c.Balanced, c.Clean })
            {
                using var full = ToVips(t);
                cells.Add(full.ThumbnailImage(240, height: 180).Embed(4, 4, 248, 188, extend: Enums.Extend.White));
            }
        using var sheet = Image.Arrayjoin(cells.ToArray(), across: 3);
        var tmp = path + ".tmp.jpg";
        sheet.Jpegsave(tmp, q: 90);
        File.Move(tmp, path, true);
        foreach (var c in cells) c.Dispose();
    }
}
