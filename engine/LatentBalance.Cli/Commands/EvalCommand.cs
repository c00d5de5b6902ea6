using System.CommandLine;
using System.Text.Json;
using LatentBalance.Onnx;
using LatentBalance.Training;

namespace LatentBalance.Cli.Commands;

/// <summary><c>latentbalance eval</c>: score the pack on distorted validation photos against doing nothing and grey-world.</summary>
static class EvalCommand
{
    public static Command Create()
    {
        var photos = new Option<string>("--photos") { DefaultValueFactory = _ => "../shared/data/photos" };
        var luts = new Option<string?>("--luts") { DefaultValueFactory = _ => "../shared/data/luts/artistic" };
        var variants = new Option<int>("--variants") { DefaultValueFactory = _ => 1 };
        var maxPhotos = new Option<int>("--max-photos");
        var iterCases = new Option<int>("--iteration-cases") { DefaultValueFactory = _ => 40 };
        var cleanCases = new Option<int>("--clean-cases") { Description = "clean validation photos balanced to measure how far they move (default: all)", DefaultValueFactory = _ => int.MaxValue };
        var curve = new Option<string?>("--curve") { Description = "draw the strength curve (error on distorted vs movement of clean photos over strength 0..1.5) to this PNG" };
        var split = new Option<string>("--split") { Description = "val (default) or train: score training photos, e.g. to calibrate a pack", DefaultValueFactory = _ => "val" };
        var strengths = new Option<string>("--curve-strengths") { Description = "comma-separated strengths of the curve", DefaultValueFactory = _ => "0,0.25,0.5,0.75,1,1.25,1.5" };
        var baseline = new Option<string[]>("--curve-baseline") { Description = "also draw the curve of another run's --json report (repeatable)", DefaultValueFactory = _ => [] };
        var sheet = new Option<string?>("--contact-sheet") { Description = "write a picture of the worst and best cases" };
        var json = new Option<string?>("--json") { Description = "write the report as JSON to this file" };
        var oracle = new Option<bool>("--oracle") { Description = "also score a perfect balancer (the clean latent): the ceiling of the VAE, fit and LUT" };
        var cmd = new Command("eval", "Evaluate the balancer on the validation split (CIEDE2000, PSNR) against doing nothing and grey-world.")
        {
            photos, luts, variants, maxPhotos, iterCases, cleanCases, sheet, json, oracle, curve, baseline, split, strengths, BalanceCommand.Pack, BalanceCommand.Device,
        };
        cmd.SetAction((pr, ct) =>
        {
            try
            {
                using var engine = EngineRuntime.Load(pr.GetValue(BalanceCommand.Pack), EngineRuntime.Torch, pr.GetValue(BalanceCommand.Device)!, cancel: ct);
                var report = new Evaluator(engine, new EvalOptions
                {
                    PhotosDir = pr.GetValue(photos)!, LutsDir = pr.GetValue(luts), Variants = pr.GetValue(variants),
                    MaxPhotos = pr.GetValue(maxPhotos), IterationCases = pr.GetValue(iterCases), CleanCases = pr.GetValue(cleanCases),
                    ContactSheetPath = pr.GetValue(sheet), Oracle = pr.GetValue(oracle),
                    TrainSplit = pr.GetValue(split) switch { "val" => false, "train" => true, var o => throw new ArgumentException($"--split: '{o}' is not val or train") },
                    CurveStrengths = pr.GetValue(strengths)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                        .Select(t => double.TryParse(t, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) && v >= 0 && v <= 4 ? v
                            : throw new ArgumentException($"--curve-strengths: '{t}' is not a number in 0..4")).ToArray(),
                }).Run(new Progress<string>(Console.Error.WriteLine), ct);
                Console.WriteLine($"pack: {report.Pack}");
                Console.WriteLine("| method | cases | mean dE00 | median dE00 | p90 dE00 | PSNR dB | shift L* | shift a* | shift b* |");
                Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
                foreach (var s in report.Distorted.Concat(new[] { report.Iterations1, report.IterationsN, report.CleanMovement, report.SceneColorMovement, report.CleanMovementN }.OfType<MethodScore>()))
                    Console.WriteLine($"| {s.Method} | {s.Cases} | {s.MeanDe:F2} | {s.MedianDe:F2} | {s.P90De:F2} | {s.MeanPsnr:F2} | {s.ShiftL:+0.00;-0.00} | {s.ShiftA:+0.00;-0.00} | {s.ShiftB:+0.00;-0.00} |");
                if (report.MeanPackStrengthDistorted is { } sd)
                    Console.WriteLine($"the pack's own strength: mean {sd:F2} on distorted photos, {report.MeanPackStrengthClean ?? double.NaN:F2} on clean ones");
                if (report.Curve is { } points)
                {
                    Console.WriteLine("strength curve (user strength: distorted dE00 / clean moved): " + string.Join(", ", points.Select(p => $"{p.Strength:0.##}: {p.DistortedDe:F2} / {p.CleanMoved:F2}")));
                    if (pr.GetValue(curve) is { } png)
                    {
                        var curves = new List<(string, IReadOnlyList<CurvePoint>)>();
                        foreach (var other in pr.GetValue(baseline)!)
                        {
                            var r = JsonSerializer.Deserialize<EvalReport>(File.ReadAllText(other)) ?? throw new FormatException($"{other}: not an eval report");
                            if (r.Curve is null) throw new FormatException($"{other}: the report has no strength curve");
                            curves.Add((r.Pack ?? Path.GetFileNameWithoutExtension(other), r.Curve));
                        }
                        curves.Add((report.Pack ?? "this pack", points));
                        CurvePlot.Write(png, curves);
                    }
                }
                Console.WriteLine($"({report.Seconds:F0} s)");
                if (pr.GetValue(json) is { } path)
                    File.WriteAllText(path, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
                return Task.FromResult(0);
            }
            catch (Exception e) { CliErrors.Print(e); return Task.FromResult(1); }
        });
        return cmd;
    }
}
