using System.Diagnostics;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Engine.Runtime;
using LatentBalance.Training.Distortions;
using NetVips;
using static TorchSharp.torch;

namespace LatentBalance.Training;

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
    /// <summary>How many clean (undistorted) validation photos are balanced to check the method leaves
    /// them alone (default: all of them).</summary>
    public int CleanCases { get; init; } = int.MaxValue;
    /// <summary>Share of the clean photos in the "scene colour" subset: those with the strongest mean
    /// chroma or the warmest/coolest grey-world white point, which must keep their colour.</summary>
    public double SceneColorShare { get; init; } = 0.2;
    /// <summary>Strengths (multiplying the pack's own) at which the strength curve is measured.</summary>
    public double[] CurveStrengths { get; init; } = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5];
    /// <summary>Score the training photos instead of the validation ones (to calibrate on photos the
    /// validation never sees, e.g. a pack's strength_scale).</summary>
    public bool TrainSplit { get; init; }
    public int Seed { get; init; } = 777_000;
    public string? ContactSheetPath { get; init; }
    /// <summary>Also score the method with a perfect balancer (the clean photo's own latent as the
    /// balanced latent): the ceiling that the VAE, the colour-map fit and the LUT allow.</summary>
    public bool Oracle { get; init; }
}

/// <summary>Summary of one method over the evaluation cases: CIEDE2000 to the clean photo, PSNR, and
/// the mean signed shift (result - clean) of L*, a* and b* (a bias shows here, noise does not).</summary>
public sealed record MethodScore(string Method, int Cases, double MeanDe, double MedianDe, double P90De, double MeanPsnr,
    double ShiftL = 0, double ShiftA = 0, double ShiftB = 0);

/// <summary>One point of the strength curve: the user's strength (times the pack's own), the mean
/// CIEDE2000 left on the distorted photos and the mean movement of the clean ones.</summary>
public sealed record CurvePoint(double Strength, double DistortedDe, double CleanMoved);

public sealed record EvalReport(IReadOnlyList<MethodScore> Distorted, MethodScore? Iterations1, MethodScore? IterationsN, int IterationsN_Count, MethodScore? CleanMovement, double Seconds,
    MethodScore? SceneColorMovement = null, MethodScore? CleanMovementN = null, IReadOnlyList<CurvePoint>? Curve = null, double? MeanPackStrengthDistorted = null, double? MeanPackStrengthClean = null, string? Pack = null);

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
        var (trainPhotos, valPhotos) = DataSplit.Photos(options.PhotosDir);
        if (options.TrainSplit) valPhotos = trainPhotos;
        if (options.MaxPhotos > 0) valPhotos = valPhotos.Take(options.MaxPhotos).ToList();
        var luts = new List<Lut3D>();
        if (options.LutsDir != null && Directory.Exists(options.LutsDir))
            luts.AddRange((options.TrainSplit ? DataSplit.Luts(options.LutsDir).Train : DataSplit.Luts(options.LutsDir).Validation).Select(CubeFile.Read));
        var generator = new DistortionGenerator(new DistortionOptions { Luts = luts });

        var scores = new Dictionary<string, List<Score>> { ["none"] = [], ["grey-world"] = [], ["latent"] = [] };
        if (options.Oracle) scores["oracle (clean latent)"] = [];
        var curveDistorted = options.CurveStrengths.Select(_ => new List<double>()).ToArray();
        var curveClean = options.CurveStrengths.Select(_ => new List<double>()).ToArray();
        var packStrengthDistorted = new List<double>();
        var packStrengthClean = new List<double>();
        var cases = new List<Case>();
        int n = 0;
        foreach (var photo in valPhotos)
            for (int v = 0; v < options.Variants; v++)
            {
                cancel.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var clean = LoadPhoto(photo);
                var (distorted, recipe) = generator.Distort(clean, options.Seed + n++);
                var grey = Apply(GreyWorldLut(distorted), distorted);
                var lut = Correction(distorted, 1, packStrengthDistorted);
                var balanced = Apply(lut, distorted);
                Add(scores["none"], distorted, clean);
                Add(scores["grey-world"], grey, clean);
                var de = Add(scores["latent"], balanced, clean).De.Mean;
                if (options.Oracle) Add(scores["oracle (clean latent)"], BalanceToClean(distorted, clean), clean);
                Curve(curveDistorted, lut, distorted, clean);
                cases.Add(new Case($"{Path.GetFileName(photo)} {recipe}", clean.MoveToOuterDisposeScope(), distorted.MoveToOuterDisposeScope(), balanced.MoveToOuterDisposeScope(), de));
                if (n % 10 == 0) log?.Report($"eval {n}/{valPhotos.Count * options.Variants}: latent mean dE00 so far {scores["latent"].Average(s => s.De.Mean):F2} (none {scores["none"].Average(s => s.De.Mean):F2}, grey-world {scores["grey-world"].Average(s => s.De.Mean):F2})");
            }
        var table = scores.Select(kv => Summarise(kv.Key, kv.Value)).ToList();

        // iterations: the first IterationCases cases again with N iterations
        MethodScore? it1 = null, itN = null;
        if (options.IterationCases > 0 && options.CompareIterations > 1)
        {
            var one = new List<Score>();
            var many = new List<Score>();
            foreach (var c in cases.Take(options.IterationCases))
            {
                using var scope = NewDisposeScope();
                Add(one, c.Balanced, c.Clean);
                Add(many, Balance(c.Distorted, options.CompareIterations), c.Clean);
            }
            it1 = Summarise("latent, 1 iteration", one);
            itN = Summarise($"latent, {options.CompareIterations} iterations", many);
            log?.Report($"iterations: 1 -> {it1.MeanDe:F2}, {options.CompareIterations} -> {itN.MeanDe:F2}");
        }

        // clean photos must not be harmed, above all those whose colour is the scene's own
        MethodScore? cleanMove = null, sceneMove = null, cleanMoveN = null;
        if (options.CleanCases > 0)
        {
            var moved = new List<(Score Score, double Chroma, double WhiteB)>();
            var movedN = new List<Score>();
            foreach (var photo in valPhotos.Take(options.CleanCases))
            {
                cancel.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var clean = LoadPhoto(photo);
                var lut = Correction(clean, 1, packStrengthClean);
                var score = Measure(Apply(lut, clean), clean);
                var (chroma, whiteB) = SceneColour(clean);
                moved.Add((score, chroma, whiteB));
                Curve(curveClean, lut, clean, clean);
                if (movedN.Count < options.IterationCases && options.CompareIterations > 1)
                    movedN.Add(Measure(Balance(clean, options.CompareIterations), clean));
            }
            cleanMove = Summarise("latent on clean photos (movement)", moved.Select(m => m.Score).ToList());
            sceneMove = Summarise("latent on scene-colour clean photos (movement)", SceneColourSubset(moved.Select(m => (m.Chroma, m.WhiteB)).ToList())
                .Select(i => moved[i].Score).ToList());
            if (movedN.Count > 0) cleanMoveN = Summarise($"latent on clean photos, {options.CompareIterations} iterations (movement)", movedN);
            log?.Report($"clean photos moved by mean dE00 {cleanMove.MeanDe:F2} (scene colour: {sceneMove.MeanDe:F2}; shift L* {cleanMove.ShiftL:+0.00;-0.00} a* {cleanMove.ShiftA:+0.00;-0.00} b* {cleanMove.ShiftB:+0.00;-0.00})");
        }
        List<CurvePoint>? curve = null;
        if (cases.Count > 0 && curveClean[0].Count > 0)
            curve = options.CurveStrengths.Select((st, i) => new CurvePoint(st, curveDistorted[i].Average(), curveClean[i].Average())).ToList();

        if (options.ContactSheetPath != null && cases.Count > 0)
            WriteContactSheet(options.ContactSheetPath, cases);
        foreach (var c in cases) { c.Clean.Dispose(); c.Distorted.Dispose(); c.Balanced.Dispose(); }
        return new EvalReport(table, it1, itN, Math.Min(options.IterationCases, cases.Count), cleanMove, sw.Elapsed.TotalSeconds,
            sceneMove, cleanMoveN, curve, packStrengthDistorted.Count > 0 ? packStrengthDistorted.Average() : null,
            packStrengthClean.Count > 0 ? packStrengthClean.Average() : null, engine.PackName);
    }

    /// <summary>The mean chroma C*ab of a photo and the b* of its grey-world white (the mean colour).</summary>
    static (double Chroma, double WhiteB) SceneColour(Tensor srgb)
    {
        using var scope = NewDisposeScope();
        var lab = ColorSpaces.SrgbToLab(srgb.to(ScalarType.Float64)).reshape(3, -1);
        var chroma = lab[1].Squared().Plus(lab[2].Squared()).sqrt().mean().item<double>();
        return (chroma, lab[2].mean().item<double>());
    }

    /// <summary>Indices of the "scene colour" photos: the <see cref="EvalOptions.SceneColorShare"/>
    /// with the highest rank in either mean chroma or |white-point b*| (warmest or coolest).</summary>
    List<int> SceneColourSubset(IReadOnlyList<(double Chroma, double WhiteB)> photos)
    {
        int count = (int)Math.Ceiling(photos.Count * options.SceneColorShare);
        var byChroma = Enumerable.Range(0, photos.Count).OrderByDescending(i => photos[i].Chroma).ToList();
        var byWhite = Enumerable.Range(0, photos.Count).OrderByDescending(i => Math.Abs(photos[i].WhiteB)).ToList();
        var rank = new int[photos.Count];
        for (int r = 0; r < photos.Count; r++) rank[byChroma[r]] = r;
        for (int r = 0; r < photos.Count; r++) rank[byWhite[r]] = Math.Min(rank[byWhite[r]], r);
        return Enumerable.Range(0, photos.Count).OrderBy(i => rank[i]).ThenBy(i => i).Take(count).ToList();
    }

    /// <summary>Adds the mean CIEDE2000 of the LUT applied at each curve strength (times the pack's
    /// own), measured at half size (2x2 means) to keep seven strengths affordable.</summary>
    void Curve(List<double>[] into, Lut3D lut, Tensor input, Tensor clean)
    {
        using var scope = NewDisposeScope();
        var x = nn.functional.avg_pool2d(input.unsqueeze(0), 2)[0];
        var c = nn.functional.avg_pool2d(clean.unsqueeze(0), 2)[0];
        var full = Apply(lut, x);
        for (int i = 0; i < options.CurveStrengths.Length; i++)
        {
            var y = x.Plus((full - x).Times(options.CurveStrengths[i])).ClampTo(0, 1);
            into[i].Add(Ciede2000.Mean(y, c));
        }
    }

    /// <summary>The latent balance of an in-memory sRGB image [3, H, W]: tile, correction LUT, applied at full size.</summary>
    Tensor Balance(Tensor srgb, int iterations) => Apply(Correction(srgb, iterations), srgb);

    Lut3D Correction(Tensor srgb, int iterations, List<double>? packStrengths = null)
    {
        var report = new CorrectionReport();
        var lut = engine.EstimateCorrection(Tile(srgb, engine.TileOptions), engine.Options(iterations), report: report);
        if (report.BalancerStrengths.Count > 0) packStrengths?.Add(report.BalancerStrengths[0]);
        return lut;
    }

    /// <summary>Steps 1-6 with the clean photo's latent in place of the balancer's output.</summary>
    Tensor BalanceToClean(Tensor distorted, Tensor clean)
    {
        var options = engine.Options();
        var dTile = Tile(distorted, engine.TileOptions);
        var torch = engine.Networks as TorchNetworks
            ?? throw new InvalidOperationException("the evaluator's perfect-balancer row needs the torch runtime (its latents)");
        Lut3D lut;
        using (NewDisposeScope())
        using (no_grad())
        {
            var z = torch.Vae.Encode(cat([dTile.ToTensor(torch.TorchDevice), Tile(clean, engine.TileOptions).ToTensor(torch.TorchDevice)], 0));
            var map = CorrectionEstimator.Fit(torch.DecodeLatents(z[..1], z[1..]), dTile.Mask, dTile.Size, options.Fit);
            lut = LutBaker.Bake([map], options.LutSize);
        }
        return Apply(lut, distorted);
    }

    /// <summary>The shipped grey-world filter at full strength: the gains of the model tile's linear means,
    /// baked into a LUT as the daemon's filter host does.</summary>
    static Lut3D GreyWorldLut(Tensor srgb) => LutBaker.Bake(GreyWorld.Map(GreyWorld.Gains(Tile(srgb).ChannelMeans().Linear)));

    static ModelTile Tile(Tensor srgb, ThumbnailFitOptions? options = null)
    {
        using var img = ToVips(srgb);
        return ThumbnailFit.FromImage(img, options);
    }

    static Tensor Apply(Lut3D lut, Tensor srgb) => LutTransform.ApplyToTensor(lut, srgb.unsqueeze(0))[0].ClampTo(0, 1);

    readonly record struct Score(DeltaEStats De, double Psnr, double L, double A, double B);

    static Score Add(List<Score> into, Tensor result, Tensor clean)
    {
        var s = Measure(result, clean);
        into.Add(s);
        return s;
    }

    /// <summary>CIEDE2000 and PSNR to the clean photo, and the mean signed Lab shift result - clean.</summary>
    static Score Measure(Tensor result, Tensor clean)
    {
        using var scope = NewDisposeScope();
        var shift = (ColorSpaces.SrgbToLab(result.to(ScalarType.Float64)) - ColorSpaces.SrgbToLab(clean.to(ScalarType.Float64))).reshape(3, -1).mean([1]).data<double>().ToArray();
        return new Score(Ciede2000.Stats(result, clean), ImageMetrics.Psnr(result, clean), shift[0], shift[1], shift[2]);
    }

    static MethodScore Summarise(string method, List<Score> s) =>
        new(method, s.Count, s.Average(x => x.De.Mean), s.Average(x => x.De.Median), s.Average(x => x.De.P90), s.Average(x => Math.Min(x.Psnr, 100)),
            s.Average(x => x.L), s.Average(x => x.A), s.Average(x => x.B));

    public static Tensor LoadPhoto(string path)
    {
        using var img = Image.NewFromFile(path, access: Enums.Access.Sequential);
        using var rgb = img.Bands >= 3 ? img.ExtractBand(0, n: 3) : img.Colourspace(Enums.Interpretation.Srgb);
        var bytes = rgb.Cast(Enums.BandFormat.Uchar).WriteToMemory();
        using var t = tensor(bytes, [rgb.Height, rgb.Width, 3]);
        return t.permute(2, 0, 1).to(ScalarType.Float32).Over(255.0).contiguous();
    }

    static Image ToVips(Tensor srgb)
    {
        var hwc = srgb.ClampTo(0, 1).Times(255).round().to(ScalarType.Byte).permute(1, 2, 0).contiguous();
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
        OutputFiles.Write(Path.GetFullPath(path), staged => sheet.Jpegsave(staged, q: 90));
        foreach (var c in cells) c.Dispose();
    }
}
