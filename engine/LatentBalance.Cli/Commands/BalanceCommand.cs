using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.DBus;
using LatentBalance.Daemon;
using LatentBalance.Daemon.Filters;
using LatentBalance.Filters;
using LatentBalance.Engine.Imaging;
using LatentBalance.Onnx;

namespace LatentBalance.Cli.Commands;

/// <summary>
/// <c>latentbalance balance IN... -o OUT</c>: balance photos through the one engine service, the running
/// daemon's (D-Bus) or one in this process, with no transport between. Either way the same requests, the
/// same checks, the same results.
/// </summary>
static class BalanceCommand
{
    /// <summary>The latent-balance filter's declared parameters: the CLI's options, their defaults and ranges.</summary>
    static readonly FilterDescription Latent = new LatentBalanceFilter().Description;

    public static readonly Option<int> Iterations = FromFilter<int>("iterations", "-n");
    public static readonly Option<double> Strength = FromFilter<double>("strength", "-s");
    public static readonly Option<int> Quality = FromFilter<int>("quality", null);
    public static readonly Option<string> Device = new("--device") { Description = "auto, cpu or cuda", DefaultValueFactory = _ => "auto" };
    public static readonly Option<string?> Pack = new("--pack") { Description = "model pack folder (default: the shipped pack)" };
    public static readonly Option<string> Runtime = RuntimeOption();

    static Option<string> RuntimeOption()
    {
        var o = new Option<string>("--runtime")
        {
            Description = "where the networks run: onnx (ONNX Runtime, the default) or torch (libtorch)",
            DefaultValueFactory = _ => EngineRuntime.Default,
        };
        o.AcceptOnlyFromAmong([.. EngineRuntime.Names]);
        return o;
    }

    public static Command Create()
    {
        var inputs = new Argument<string[]>("inputs") { Description = "photos to balance (JPEG, PNG, TIFF, WebP)", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output", "-o") { Description = "output file, or a folder for several inputs (same file names)", Required = true };
        var lut = new Option<string?>("--lut") { Description = "also write the correction as a .cube file (a folder for several inputs)" };
        var compare = new Option<string?>("--compare") { Description = "also write a before/after picture (a folder for several inputs)" };
        var json = new Option<bool>("--json") { Description = "print the results as JSON on stdout" };
        var overwrite = new Option<bool>("--overwrite") { Description = "allow the output to replace an input file" };
        var inProcess = new Option<bool>("--in-process") { Description = "run the engine in this process even when a daemon is running" };
        var daemon = new Option<bool>("--daemon") { Description = "require the engine daemon (started by D-Bus activation when installed); fail without it" };
        var cmd = new Command("balance", "Balance the colours of photos (through the engine daemon when one is running).")
        {
            inputs, output, lut, compare, json, Iterations, Strength, Quality, overwrite, Device, Runtime, Pack, inProcess, daemon,
        };
        cmd.SetAction(async (pr, ct) =>
        {
            var parameters = Parameters(pr);
            string? pack = pr.GetValue(Pack);
            string device = pr.GetValue(Device)!, runtime = pr.GetValue(Runtime)!;
            bool asJson = pr.GetValue(json), wantDaemon = pr.GetValue(daemon);
            List<Job> jobs;
            var local = new[] { (pack != null, "--pack"), (device != "auto", "--device"), (runtime != EngineRuntime.Default, "--runtime") }.Where(o => o.Item1).Select(o => o.Item2).ToList();
            try
            {
                FilterContract.Bind(Latent, parameters); // the service's own binding: a bad value fails before any model loads
                // only the engine this process loads can take another pack or device
                if (wantDaemon && pr.GetValue(inProcess)) throw new ArgumentException("--daemon and --in-process exclude each other");
                if (wantDaemon && local.Count > 0) throw new ArgumentException($"{string.Join(", ", local)} cannot be used with --daemon");
                if (local.Count > 0) wantDaemon = false;
                jobs = Plan(pr.GetValue(inputs)!, pr.GetValue(output)!, pr.GetValue(lut), pr.GetValue(compare));
            }
            catch (ArgumentException e) { CliErrors.Print(e); return 2; }
            catch (BridgeException e) { Console.Error.WriteLine($"latentbalance: error: {e.Message}"); return 2; }
            var run = new Run(jobs, parameters, pr.GetValue(overwrite), asJson);

            bool tryDaemon = wantDaemon || (!pr.GetValue(inProcess) && local.Count == 0 && DBusEngineClient.IsEngineRunning());
            if (tryDaemon)
            {
                DBusEngineClient? client = null;
                try { client = DBusEngineClient.Connect(new DBusClientOptions { RequireRunning = !wantDaemon, SubscribeToSignals = false }); }
                catch (BridgeException e) when (wantDaemon) { Console.Error.WriteLine($"latentbalance: error: {e.Message}"); return 2; }
                catch (BridgeException) { }
                if (client != null)
                    using (client)
                    {
                        int rc = await run.ThroughAsync(client, "daemon", fallbackAllowed: !wantDaemon, ct);
                        if (rc != Run.NotReachable) return rc;
                    }
                if (!asJson) Console.Error.WriteLine("latentbalance: the daemon is not reachable; balancing in this process");
            }

            var load = Stopwatch.StartNew();
            EngineService service;
            try { service = EngineService.Open(new DaemonOptions { Pack = pack, Device = device, Runtime = runtime, JobTimeout = Timeout.InfiniteTimeSpan }, DaemonLog.Silent, ct); }
            catch (OperationCanceledException e) { CliErrors.Print(e); return 2; }
            using (service)
            {
                if (service.Engine is not { } engine) { CliErrors.Print(service.EngineError!); return 2; }
                if (!asJson) Console.Error.WriteLine($"latentbalance: models ready ({engine.PackName}, {engine.Networks.VaeName}, {engine.Networks.Runtime} on {engine.Networks.Device}) in {load.Elapsed.TotalSeconds:F1} s");
                return await run.ThroughAsync(service, "in-process", fallbackAllowed: false, ct);
            }
        });
        return cmd;
    }

    /// <summary>The latent-balance parameters from --iterations, --strength and --quality, as every balance
    /// request carries them (also the cluster's, so its outputs equal this command's).</summary>
    internal static Dictionary<string, string> Parameters(ParseResult pr) => new()
    {
        ["iterations"] = pr.GetValue(Iterations).ToString(CultureInfo.InvariantCulture),
        ["strength"] = pr.GetValue(Strength).ToString("R", CultureInfo.InvariantCulture),
        ["quality"] = pr.GetValue(Quality).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Checks parameters the way the service binds them (a bad value fails before any model loads).</summary>
    internal static void CheckParameters(Dictionary<string, string> parameters) => FilterContract.Bind(Latent, parameters);

    static Option<T> FromFilter<T>(string name, string? alias)
    {
        var p = Latent.Parameters.Single(x => x.Name == name);
        var o = alias is null ? new Option<T>("--" + name) : new Option<T>("--" + name, alias);
        o.Description = $"{p.Description.TrimEnd('.')} ({p.Min}..{p.Max})";
        o.DefaultValueFactory = _ => (T)Convert.ChangeType(p.Default!, typeof(T), CultureInfo.InvariantCulture);
        return o;
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

    /// <summary>One batch through a service: every job queued at once (paths made absolute), then waited for
    /// in order. Existing outputs are replaced. An output that is its own input (--overwrite) is balanced
    /// into a hidden name beside it and renamed over it once done.</summary>
    sealed class Run(List<Job> jobs, Dictionary<string, string> parameters, bool overwriteInput, bool json)
    {
        /// <summary>The daemon went away before it took the first job: the caller may balance in-process.</summary>
        public const int NotReachable = -1;

        public async Task<int> ThroughAsync(IEngineService service, string via, bool fallbackAllowed, CancellationToken ct)
        {
            var clock = Stopwatch.StartNew();
            var tickets = new List<(Job Job, string Output, string? Id, BridgeException? Error)>();
            foreach (var j in jobs)
            {
                string output = Path.GetFullPath(j.Output);
                if (overwriteInput && OutputFiles.SameFile(output, j.Input))
                    output = UnfinishedFiles.Add(Path.Combine(Path.GetDirectoryName(output)!, $".{Path.GetFileNameWithoutExtension(output)}.lb-{Guid.NewGuid().ToString("N")[..8]}{Path.GetExtension(output)}"));
                var request = RequestRules.WithAbsolutePaths(new BalanceRequest
                {
                    InputPath = j.Input, OutputPath = output, LutPath = j.Lut, Parameters = parameters, Overwrite = true,
                });
                try { tickets.Add((j, output, (await service.BalanceAsync(request, ct)).JobId, null)); }
                catch (BridgeException e) when (e.Code == BridgeErrorCode.Unavailable && tickets.Count == 0 && fallbackAllowed) { return NotReachable; }
                catch (BridgeException e) { tickets.Add((j, output, null, e)); }
            }
            using var cancelJobs = ct.Register(() =>
            {
                foreach (var t in tickets) if (t.Id != null) _ = service.CancelAsync(t.Id, CancellationToken.None);
            });

            var results = new List<object>();
            int failed = 0;
            for (int i = 0; i < tickets.Count; i++)
            {
                var (j, output, id, error) = tickets[i];
                string? message = error?.Message, code = error?.Code.ToString();
                if (id != null)
                {
                    try
                    {
                        var r = await service.WaitAsync(id, -1, CancellationToken.None);
                        if (r.State == JobState.Done)
                        {
                            Finish(j, output);
                            results.Add(new { ok = true, via, job = id, input = Full(j.Input), output = Full(j.Output), lut = Full(j.Lut), compare = Full(j.Compare), elapsedMs = r.ElapsedMs, details = r.Details });
                            if (!json) Report(i, j, r, via);
                            continue;
                        }
                        message = r.Error ?? WireNames.ToWire(r.State);
                        code = r.ErrorCode?.ToString();
                    }
                    catch (BridgeException e) { message = e.Message; code = e.Code.ToString(); }
                    catch (Exception e) when (e is ImageFileException or IOException or UnauthorizedAccessException)
                    {
                        message = CliErrors.Describe(e, j.Input); code = BridgeErrorCode.IoError.ToString();
                    }
                }
                if (output != Path.GetFullPath(j.Output)) TryDelete(output);
                failed++;
                results.Add(new { ok = false, via, input = Full(j.Input), code, error = message });
                if (!json) Console.Error.WriteLine($"[{i + 1}/{jobs.Count}] {j.Input}: failed");
                Console.Error.WriteLine($"latentbalance: error: {message}");
            }
            if (json)
                Console.WriteLine(JsonSerializer.Serialize(results.Count == 1 ? results[0] : results, new JsonSerializerOptions { WriteIndented = true }));
            if (!json) Console.Error.WriteLine($"latentbalance: {jobs.Count - failed} of {jobs.Count} done ({via}) in {clock.Elapsed.TotalSeconds:F1} s");
            return failed > 0 ? 1 : 0;
        }

        /// <summary>The client's part of a done job: the comparison picture, and the rename over the input.</summary>
        static void Finish(Job j, string output)
        {
            if (j.Compare != null) ComparePicture.Write(j.Input, output, j.Compare);
            if (output == Path.GetFullPath(j.Output)) return;
            File.Move(output, j.Output, overwrite: true);
            UnfinishedFiles.Remove(output);
        }

        void Report(int i, Job j, JobResult r, string via)
        {
            var d = r.Details;
            foreach (var note in d.GetValueOrDefault(JobDetails.Notes, "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
                Console.Error.WriteLine($"latentbalance: note: {j.Input}: {note}");
            var facts = new List<string>();
            if (d.TryGetValue(JobDetails.Width, out var w) && d.TryGetValue(JobDetails.Height, out var h)) facts.Add($"{w}x{h}");
            if (d.TryGetValue(JobDetails.TileDeltaE, out var de)) facts.Add($"moved dE00 {Number(de):F2}");
            if (d.GetValueOrDefault(JobDetails.BalancerStrengths, "").Split(',')[0] is { Length: > 0 } s && Number(s) != 1) facts.Add($"balancer strength {Number(s):F2}");
            if (d.TryGetValue(JobDetails.Damping, out var damp) && Number(damp) < 1) facts.Add($"damped to {Number(damp):F2}: little colour to go on");
            facts.Add(via == "daemon" ? $"daemon, {r.ElapsedMs / 1000.0:F1} s" : $"{r.ElapsedMs / 1000.0:F1} s");
            Console.Error.WriteLine($"[{i + 1}/{jobs.Count}] {j.Input} -> {j.Output} ({string.Join(", ", facts)})");
        }

        static string? Full(string? path) => path is null ? null : Path.GetFullPath(path);

        static double Number(string s) => double.Parse(s, CultureInfo.InvariantCulture);

        static void TryDelete(string p)
        {
            try { File.Delete(p); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            UnfinishedFiles.Remove(p);
        }
    }
}
