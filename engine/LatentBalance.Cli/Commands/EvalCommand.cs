using System.CommandLine;
using System.Text.Json;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Engine.Training;

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
        var cleanCases = new Option<int>("--clean-cases") { DefaultValueFactory = _ => 80 };
        var sheet = new Option<string?>("--contact-sheet") { Description = "write a picture of the worst and best cases" };
        var json = new Option<string?>("--json") { Description = "write the report as JSON to this file" };
        var oracle = new Option<bool>("--oracle") { Description = "also score a perfect balancer (the clean latent): the ceiling of the VAE, fit and LUT" };
        var cmd = new Command("eval", "Evaluate the balancer on the validation split (CIEDE2000, PSNR) against doing nothing and grey-world.")
        {
            photos, luts, variants, maxPhotos, iterCases, cleanCases, sheet, json, oracle, BalanceCommand.Pack, BalanceCommand.Device,
        };
        cmd.SetAction((pr, ct) =>
        {
            try
            {
                using var engine = BalanceEngine.Load(pr.GetValue(BalanceCommand.Pack), pr.GetValue(BalanceCommand.Device)!, cancel: ct);
                var report = new Evaluator(engine, new EvalOptions
                {
                    PhotosDir = pr.GetValue(photos)!, LutsDir = pr.GetValue(luts), Variants = pr.GetValue(variants),
                    MaxPhotos = pr.GetValue(maxPhotos), IterationCases = pr.GetValue(iterCases), CleanCases = pr.GetValue(cleanCases),
                    ContactSheetPath = pr.GetValue(sheet), Oracle = pr.GetValue(oracle),
                }).Run(new Progress<string>(Console.Error.WriteLine), ct);
                Console.WriteLine("| method | cases | mean dE00 | median dE00 | p90 dE00 | PSNR dB |");
                Console.WriteLine("|---|---|---|---|---|---|");
                foreach (var s in report.Distorted.Concat(new[] { report.Iterations1, report.IterationsN, report.CleanMovement }.OfType<MethodScore>()))
                    Console.WriteLine($"| {s.Method} | {s.Cases} | {s.MeanDe:F2} | {s.MedianDe:F2} | {s.P90De:F2} | {s.MeanPsnr:F2} |");
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
