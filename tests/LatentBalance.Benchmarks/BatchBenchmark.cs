using System.Diagnostics;
using System.Globalization;
using LatentBalance.Engine.Pipeline;
using NetVips;

namespace LatentBalance.Benchmarks;

/// <summary>
/// Issue 16's batch comparison: <c>batch [PHOTOS] [ROUNDS]</c> (PHOTOS else $LATENTBALANCE_BATCH_PHOTOS else 50; 1 round)
/// sends the same PHOTOS different 12 MP JPEGs (<see cref="BenchImages.Jpeg12MpSet"/>) through each tool as one batch,
/// in one run, timed by the wall clock, each batch into a fresh folder:
/// the libvips load+save floor (in this process); LatentBalance through its warm daemon on a private bus
/// (<c>latentbalance balance IN... -o DIR --daemon</c>, one CLI process, default options); darktable-cli's default export
/// (no style), one process per photo as users script it, and one process for the whole batch (<c>--import</c> per photo);
/// GIMP 3's own Colors > Auto > White Balance in one headless GIMP (tests/gimp/batch-white-balance.sh; its time is the
/// gimp-console process, its start counted once). Each tool first runs once on the first photo, untimed: models loaded,
/// darktable's config folder and GIMP's profile made, as a user's are. Every batch's outputs are checked: one JPEG per
/// input under its name, of the input's size. With several rounds the order rotates and the median round counts.
/// </summary>
static class BatchBenchmark
{
    /// <summary>A tool that balances <c>inputs</c> into the folder <c>output</c>; it may report its own time (else the
    /// wall clock of the call counts) and a note.</summary>
    sealed record Contender(string Name, Func<string[], string, Task<(double? Seconds, string? Note)>> Run);

    public static async Task RunAsync()
    {
        var args = Environment.GetCommandLineArgs().SkipWhile(a => !a.Equals("batch", StringComparison.OrdinalIgnoreCase)).Skip(1).ToArray();
        int photos = int.Parse(args.FirstOrDefault() ?? Environment.GetEnvironmentVariable("LATENTBALANCE_BATCH_PHOTOS") ?? "50", CultureInfo.InvariantCulture);
        int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1;
        var dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "latentbalance-bench", "batch")).FullName;
        var clock = Stopwatch.StartNew();
        var inputs = BenchImages.Jpeg12MpSet(Path.Combine(dir, $"photos-{photos}"), photos);
        Console.WriteLine($"{photos} different 12 MP JPEGs (4000x3000 mosaics of real photos, q 92) ready in {clock.Elapsed.TotalSeconds:F0} s: {Path.GetDirectoryName(inputs[0])}");

        using var bus = DaemonBenchmark.BenchBus.Start(dir);
        var daemonArgs = (Environment.GetEnvironmentVariable("LATENTBALANCE_BATCH_DAEMON_ARGS") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        using var daemon = DaemonBenchmark.StartDaemon(bus.Address, ModelPack.DefaultDirectory(), daemonArgs);
        var seconds = new Dictionary<string, List<double>>();
        var notes = new Dictionary<string, string>();
        string loadBefore = LoadAverage();
        try
        {
            await DaemonBenchmark.WaitUntilServing(bus.Address, daemon);
            var contenders = Contenders(dir, bus.Address);
            foreach (var c in contenders)
            {
                var warm = Fresh(dir, "warm");
                await c.Run([inputs[0]], warm);
                Check(c.Name, [inputs[0]], warm);
            }
            for (int r = 0; r < rounds; r++)
                for (int k = 0; k < contenders.Count; k++)
                {
                    var c = contenders[(k + r) % contenders.Count];
                    var output = Fresh(dir, "out");
                    var sw = Stopwatch.StartNew();
                    var (own, note) = await c.Run(inputs, output);
                    double s = own ?? sw.Elapsed.TotalSeconds;
                    Check(c.Name, inputs, output);
                    Directory.Delete(output, recursive: true);
                    seconds.TryAdd(c.Name, []);
                    seconds[c.Name].Add(s);
                    if (note != null) notes[c.Name] = note;
                    Console.WriteLine($"  round {r + 1}: {c.Name}: {s:F1} s");
                }
        }
        finally { daemon.Kill(entireProcessTree: true); }

        Console.WriteLine($"{photos} photos of 12 MP, {rounds} round(s), whole batch by the wall clock{(rounds > 1 ? ", medians" : "")}; " +
            $"{Environment.ProcessorCount} cores, load average before {loadBefore}, after {LoadAverage()}" +
            (Environment.GetEnvironmentVariable("OMP_NUM_THREADS") is { } omp ? $"; OMP_NUM_THREADS={omp} (darktable and libtorch take it)" : ""));
        double floor = BenchImages.Median(seconds[Floor]), ours = BenchImages.Median(seconds[LatentBalance]);
        Console.WriteLine($"{"",-50} {"s",8} {"s/photo",8} {"photos/min",10} {"x floor",8} {"LB x",6}   (x floor: its time / the floor's; LB x: LatentBalance's photos/min / its)");
        foreach (var (name, runs) in seconds)
        {
            double s = BenchImages.Median(runs);
            Console.WriteLine($"{name,-50} {s,8:F1} {s / photos,8:F2} {60 * photos / s,10:F1} {s / floor,8:F2} {s / ours,6:F2}" +
                (notes.TryGetValue(name, out var n) ? $"   ({n})" : ""));
        }
    }

    const string Floor = "libvips load+save (floor)", LatentBalance = "LatentBalance, warm daemon (CLI batch --daemon)";

    static List<Contender> Contenders(string dir, string busAddress)
    {
        var cli = DaemonBenchmark.CliDll();
        var darktableConfig = Path.Combine(dir, "darktable-config");
        if (Directory.Exists(darktableConfig)) Directory.Delete(darktableConfig, recursive: true);
        var gimpScript = Path.Combine(RepoRoot(), "tests", "gimp", "batch-white-balance.sh");
        var gimpProfile = Path.Combine(dir, "gimp-profile");
        var list = new List<Contender>
        {
            new(Floor, (inputs, output) =>
            {
                foreach (var p in inputs) BenchImages.LibvipsLoadSave(p, Path.Combine(output, Path.GetFileName(p)));
                return Task.FromResult<(double?, string?)>((null, null));
            }),
            new(LatentBalance, async (inputs, output) =>
            {
                var text = await Exec("dotnet", [cli, "balance", .. inputs, "-o", output + "/", "--daemon"], busAddress);
                if (!text.Contains($"{inputs.Length} of {inputs.Length} done (daemon)", StringComparison.Ordinal))
                    throw new InvalidOperationException("latentbalance balance did not report every photo done through the daemon:\n" + Tail(text));
                return (null, null);
            }),
        };
        if (OnPath("darktable-cli") is { } darktable)
        {
            list.Add(new("darktable-cli default export, 1 process per photo", async (inputs, output) =>
            {
                foreach (var p in inputs)
                    await Exec(darktable, [p, Path.Combine(output, Path.GetFileName(p)), "--core", "--configdir", darktableConfig]);
                return (null, null);
            }));
            list.Add(new("darktable-cli default export, 1 process (--import)", async (inputs, output) =>
            {
                await Exec(darktable, [.. inputs.SelectMany(p => new[] { "--import", p }), output, "--core", "--configdir", darktableConfig]);
                return (null, null);
            }));
        }
        else Console.WriteLine("darktable-cli: skipped, not on PATH");
        if (Environment.IsPrivilegedProcess && File.Exists(gimpScript))
            list.Add(new("GIMP 3 Colors>Auto>White Balance, 1 process", async (inputs, output) =>
            {
                // the script takes a folder: the photos' own when it holds just them, else a copy
                var folder = Path.GetDirectoryName(inputs[0])!;
                if (Directory.GetFiles(folder).Length != inputs.Length || inputs.Any(p => Path.GetDirectoryName(p) != folder))
                {
                    folder = Fresh(dir, "gimp-in");
                    foreach (var p in inputs) File.Copy(p, Path.Combine(folder, Path.GetFileName(p)));
                }
                var text = await Exec(gimpScript, [folder, output, gimpProfile]);
                var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("gimp-batch: photos ", StringComparison.Ordinal))?.Split(' ');
                if (line is not ["gimp-batch:", "photos", _, "process", var process, "loop", var loop])
                    throw new InvalidOperationException("batch-white-balance.sh printed no timings:\n" + Tail(text));
                double run = double.Parse(process, CultureInfo.InvariantCulture), l = double.Parse(loop, CultureInfo.InvariantCulture);
                return (run, $"gimp-console start {run - l:F1} s; the photos alone {60 * inputs.Length / l:F1} photos/min");
            }));
        else Console.WriteLine("GIMP: skipped, tests/gimp/batch-white-balance.sh needs root (chroot, mounts)");
        return list;
    }

    /// <summary>One output per input, under its name, a JPEG of the input's size.</summary>
    static void Check(string tool, string[] inputs, string output)
    {
        var names = Directory.GetFiles(output).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        var want = inputs.Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        if (!names.SequenceEqual(want))
            throw new InvalidOperationException($"{tool}: {output} holds {names.Count} files, not the {want.Count} inputs' names");
        foreach (var p in inputs)
        {
            using var a = Image.NewFromFile(p);
            using var b = Image.NewFromFile(Path.Combine(output, Path.GetFileName(p)));
            if (b.Width != a.Width || b.Height != a.Height || (string)b.Get("vips-loader") != "jpegload")
                throw new InvalidOperationException($"{tool}: {Path.GetFileName(p)}: wrote a {b.Width}x{b.Height} {b.Get("vips-loader")}, not a {a.Width}x{a.Height} JPEG");
        }
    }

    static async Task<string> Exec(string file, IEnumerable<string> args, string? busAddress = null)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (busAddress != null) psi.Environment["DBUS_SESSION_BUS_ADDRESS"] = busAddress;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        var text = await stdout + await stderr;
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} exited with code {p.ExitCode}:\n{Tail(text)}");
        return text;
    }

    static string Tail(string text) => string.Join('\n', text.Trim().Split('\n').TakeLast(15));

    static string? OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);

    static string Fresh(string dir, string name)
    {
        var path = Path.Combine(dir, name);
        if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        return Directory.CreateDirectory(path).FullName;
    }

    static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "LatentBalance.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("LatentBalance.sln not found above " + AppContext.BaseDirectory);
    }

    static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
}
