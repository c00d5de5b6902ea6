using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.DBus;
using LatentBalance.Engine.Pipeline;

namespace LatentBalance.Cli.Commands;

/// <summary><c>latentbalance balance IN... -o OUT</c>: balance photos with a model pack.</summary>
static class BalanceCommand
{
    public static readonly Option<int> Iterations = new("--iterations", "-n") { Description = "repeat the method on its own output N times (1..10)", DefaultValueFactory = _ => 1 };
    public static readonly Option<double> Strength = new("--strength", "-s") { Description = "how much of the correction to apply, 0..1", DefaultValueFactory = _ => 1.0 };
    public static readonly Option<string> Device = new("--device") { Description = "auto, cpu or cuda", DefaultValueFactory = _ => "auto" };
    public static readonly Option<string?> Pack = new("--pack") { Description = "model pack folder (default: the shipped pack)" };

    public static Command Create()
    {
        var inputs = new Argument<string[]>("inputs") { Description = "photos to balance (JPEG, PNG, TIFF, WebP)", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output", "-o") { Description = "output file, or a folder for several inputs (same file names)", Required = true };
        var lut = new Option<string?>("--lut") { Description = "also write the correction as a .cube file (a folder for several inputs)" };
        var compare = new Option<string?>("--compare") { Description = "also write a before/after picture (a folder for several inputs)" };
        var json = new Option<bool>("--json") { Description = "print the results as JSON on stdout" };
        var quality = new Option<int>("--quality") { Description = "JPEG/WebP quality", DefaultValueFactory = _ => 95 };
        var overwrite = new Option<bool>("--overwrite") { Description = "allow the output to replace an input file" };
        var inProcess = new Option<bool>("--in-process") { Description = "run the engine in this process even when a daemon is running" };
        var daemon = new Option<bool>("--daemon") { Description = "require the engine daemon (started by D-Bus activation when installed); fail without it" };
        var cmd = new Command("balance", "Balance the colours of photos (through the engine daemon when one is running).")
        {
            inputs, output, lut, compare, json, Iterations, Strength, quality, overwrite, Device, Pack, inProcess, daemon,
        };
        cmd.SetAction(async (pr, ct) =>
        {
            var options = new BalanceOptions
            {
                Iterations = pr.GetValue(Iterations),
                Strength = pr.GetValue(Strength),
                JpegQuality = pr.GetValue(quality),
                OverwriteInput = pr.GetValue(overwrite),
            };
            string[] ins = pr.GetValue(inputs)!;
            string outp = pr.GetValue(output)!, device = pr.GetValue(Device)!;
            string? lutp = pr.GetValue(lut), comparep = pr.GetValue(compare), pack = pr.GetValue(Pack);
            bool asJson = pr.GetValue(json);
            try { options.Validate(); }
            catch (ArgumentException e) { CliErrors.Print(e); return 2; }

            // what the daemon cannot do (it has its own pack and device, writes no comparison, uses its own quality)
            var local = new List<string>();
            if (comparep != null) local.Add("--compare");
            if (options.JpegQuality != 95) local.Add("--quality");
            if (options.OverwriteInput) local.Add("--overwrite");
            if (pack != null) local.Add("--pack");
            if (device != "auto") local.Add("--device");
            bool wantDaemon = pr.GetValue(daemon);
            if (wantDaemon && pr.GetValue(inProcess)) { CliErrors.Print(new ArgumentException("--daemon and --in-process exclude each other")); return 2; }
            if (wantDaemon && local.Count > 0) { CliErrors.Print(new ArgumentException($"{string.Join(", ", local)} cannot be used with --daemon")); return 2; }
            bool useDaemon = wantDaemon || (!pr.GetValue(inProcess) && local.Count == 0 && DBusEngineClient.IsEngineRunning());
            if (useDaemon)
            {
                int rc = await DaemonClientRun.RunAsync(ins, outp, lutp, asJson, options, requireDaemon: wantDaemon, ct);
                if (rc != DaemonClientRun.NotReachable) return rc;
                if (!asJson) Console.Error.WriteLine("latentbalance: the daemon is not reachable; balancing in this process");
            }
            return Run(ins, outp, lutp, comparep, asJson, options, device, pack, ct);
        });
        return cmd;
    }

    static int Run(string[] inputs, string output, string? lut, string? compare, bool json, BalanceOptions options, string device, string? pack, CancellationToken ct)
    {
        List<Job> jobs;
        try { jobs = Plan(inputs, output, lut, compare); }
        catch (ArgumentException e) { CliErrors.Print(e); return 2; }

        BalanceEngine engine;
        var load = Stopwatch.StartNew();
        try { engine = BalanceEngine.Load(pack, device, cancel: ct); }
        catch (Exception e) { CliErrors.Print(e); return 2; }
        if (!json) Console.Error.WriteLine($"latentbalance: models ready ({engine.PackName}, {engine.Vae.Name}, {engine.Device.type}) in {load.Elapsed.TotalSeconds:F1} s");

        var results = new List<object>();
        int failed = 0;
        using (engine)
            for (int i = 0; i < jobs.Count; i++)
            {
                var j = jobs[i];
                var sw = Stopwatch.StartNew();
                try
                {
                    var r = engine.BalanceFile(j.Input, j.Output, options with { LutPath = j.Lut, ComparePath = j.Compare }, cancel: ct);
                    results.Add(new { ok = true, result = r });
                    if (!json) foreach (var note in r.Notes) Console.Error.WriteLine($"latentbalance: note: {j.Input}: {note}");
                    if (!json) Console.Error.WriteLine($"[{i + 1}/{jobs.Count}] {j.Input} -> {j.Output} ({r.Width}x{r.Height}, moved dE00 {r.TileDeltaE:F2}{(r.BalancerStrengths.Count > 0 && r.BalancerStrengths[0] != 1 ? $", balancer strength {r.BalancerStrengths[0]:F2}" : "")}{(r.Damping < 1 ? $", damped to {r.Damping:F2}: little colour to go on" : "")}, {sw.Elapsed.TotalSeconds:F1} s)");
                }
                catch (Exception e)
                {
                    failed++;
                    results.Add(new { ok = false, input = j.Input, error = CliErrors.Describe(e, j.Input) });
                    if (!json) Console.Error.WriteLine($"[{i + 1}/{jobs.Count}] {j.Input}: failed");
                    CliErrors.Print(e, j.Input);
                    if (e is OperationCanceledException) break;
                }
            }
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(jobs.Count == 1 && inputs.Length == 1 ? results[0] : results, new JsonSerializerOptions { WriteIndented = true }));
        if (failed > 0 && !json) Console.Error.WriteLine($"latentbalance: {failed} of {jobs.Count} failed");
        return failed > 0 ? 1 : 0;
    }

    internal record Job(string Input, string Output, string? Lut, string? Compare);

    /// <summary>Output names: one input may go to a file; several go into a folder under their own names.</summary>
    internal static List<Job> Plan(string[] inputs, string output, string? lut, string? compare)
    {
        bool folder = inputs.Length > 1 || Directory.Exists(output) || output.EndsWith('/') || output.EndsWith(Path.DirectorySeparatorChar);
        if (!folder) return [new Job(inputs[0], output, lut, compare)];
        var names = inputs.GroupBy(p => Path.GetFileName(p), StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (names.Count > 0) throw new ArgumentException($"several inputs share the file name {names[0]}; balance them into different folders");
        Directory.CreateDirectory(output);
        if (lut != null) Directory.CreateDirectory(lut);
        if (compare != null) Directory.CreateDirectory(compare);
        return inputs.Select(p =>
        {
            var name = Path.GetFileName(p);
            return new Job(p, Path.Combine(output, name),
                lut == null ? null : Path.Combine(lut, Path.ChangeExtension(name, ".cube")),
                compare == null ? null : Path.Combine(compare, Path.GetFileNameWithoutExtension(name) + ".compare.jpg"));
        }).ToList();
    }
}
