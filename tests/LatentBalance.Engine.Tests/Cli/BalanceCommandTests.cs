using System.Text.Json;
using Xunit.Abstractions;

namespace LatentBalance.Engine.Tests.Cli;

/// <summary>The CLI as users run it: real process, real pack (TAEF2 + a test balancer), real files.</summary>
public class BalanceCommandTests(ITestOutputHelper output)
{
    static string Photo(string name) => Directory.GetFiles(Path.Combine(TestPaths.Photos, "debian-skimage-data"), name + "*").First();

    [Fact]
    public void BalancesOnePhotoWithLutCompareAndJson()
    {
        var dir = TestPaths.TempDir("cli-one");
        var outPath = Path.Combine(dir, "out.jpg");
        var r = CliRunner.Run(null, "balance", Photo("coffee"), "-o", outPath, "--lut", Path.Combine(dir, "fix.cube"), "--compare", Path.Combine(dir, "cmp.jpg"), "--json");
        output.WriteLine(r.Stderr);
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.True(doc.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal(outPath, doc.RootElement.GetProperty("output").GetString());
        Assert.Equal("in-process", doc.RootElement.GetProperty("via").GetString());
        var details = doc.RootElement.GetProperty("details");
        Assert.True(double.Parse(details.GetProperty("tile_delta_e").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        using (var photo = NetVips.Image.NewFromFile(Photo("coffee")))
            Assert.Equal(photo.Width.ToString(), details.GetProperty("width").GetString());
        Assert.True(File.Exists(outPath));
        Assert.True(File.Exists(Path.Combine(dir, "fix.cube")));
        Assert.True(File.Exists(Path.Combine(dir, "cmp.jpg")));
    }

    /// <summary>Training ships in its own assembly (issue 12): balancing never loads it. The CLI is run
    /// from a copy of its folder (hard links) without LatentBalance.Training.dll.</summary>
    [Fact]
    public void BalancingNeverLoadsTheTrainingAssembly()
    {
        var dir = TestPaths.TempDir("cli-no-training");
        var bin = Path.Combine(dir, "bin");
        using (var cp = System.Diagnostics.Process.Start("cp", ["-al", Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory), bin])!) cp.WaitForExit();
        File.Delete(Path.Combine(bin, "LatentBalance.Training.dll"));
        var outPath = Path.Combine(dir, "out.jpg");
        var r = CliRunner.Run(null, Path.Combine(bin, "latentbalance.dll"), ["balance", Photo("coffee"), "-o", outPath]);
        output.WriteLine(r.Stderr);
        Assert.Equal(0, r.ExitCode);
        Assert.True(File.Exists(outPath));
        // the copy really lacks it: training cannot run there
        var t = CliRunner.Run(null, Path.Combine(bin, "latentbalance.dll"), ["train", "--stage", "fit", "--cache", Path.Combine(dir, "no-cache")]);
        Assert.NotEqual(0, t.ExitCode);
        Assert.Contains("LatentBalance.Training", t.Stderr);
    }

    /// <summary>Issue 16: the serving path runs on ONNX Runtime and the plain-C# colour-map fit, so a balance needs no
    /// libtorch at all. The CLI is run from a copy of its folder (hard links) with every libtorch/TorchSharp native
    /// library removed, and the dynamic loader's log of the run names none of them.</summary>
    [Fact]
    public void BalancingLoadsNoLibTorch()
    {
        var dir = TestPaths.TempDir("cli-lean");
        var bin = Path.Combine(dir, "bin");
        using (var cp = System.Diagnostics.Process.Start("cp", ["-al", Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory), bin])!) cp.WaitForExit();
        var removed = Directory.GetFiles(Path.Combine(bin, "runtimes"), "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) is var n && (n.Contains("torch", StringComparison.OrdinalIgnoreCase) || n.StartsWith("libc10"))).ToList();
        foreach (var f in removed) File.Delete(f);
        Assert.Contains(removed, f => Path.GetFileName(f) == "libtorch_cpu.so");
        Assert.Contains(removed, f => Path.GetFileName(f) == "libLibTorchSharp.so");
        var outPath = Path.Combine(dir, "out.jpg");
        var log = Path.Combine(dir, "ld");
        var env = new Dictionary<string, string>(TestPack.Environment) { ["LD_DEBUG"] = "files", ["LD_DEBUG_OUTPUT"] = log };
        var r = CliRunner.Run(env, Path.Combine(bin, "latentbalance.dll"), ["balance", Photo("coffee"), "-o", outPath, "--in-process"]);
        output.WriteLine(r.Stderr);
        Assert.Equal(0, r.ExitCode);
        Assert.True(File.Exists(outPath));
        // the names of the libraries the loader was asked for (file=PATH [n]; ...)
        var loaded = Directory.GetFiles(dir, "ld.*").SelectMany(File.ReadLines)
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"file=(\S+)")).Where(m => m.Success)
            .Select(m => Path.GetFileName(m.Groups[1].Value)).Distinct().ToList();
        Assert.Contains("libonnxruntime.so", loaded);   // the log is real: the networks' runtime is in it
        Assert.DoesNotContain(loaded, n => n.Contains("torch", StringComparison.OrdinalIgnoreCase) || n.StartsWith("libc10"));
    }

    [Fact]
    public void BadInputsGetOneLineErrorsNamingTheFileAndNoOutput()
    {
        var dir = TestPaths.TempDir("cli-bad");
        var text = Path.Combine(dir, "notes.jpg");
        File.WriteAllText(text, "not a photo at all");
        var cut = Path.Combine(dir, "cut.jpg");
        var bytes = File.ReadAllBytes(Photo("coffee"));
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 3)]);
        var missing = Path.Combine(dir, "missing.jpg");
        var outDir = Path.Combine(dir, "out");
        var r = CliRunner.Run(null, "balance", text, cut, missing, Photo("astronaut"), "-o", outDir);
        output.WriteLine(r.Stderr);
        Assert.Equal(1, r.ExitCode);
        var errors = r.Stderr.Split('\n').Where(l => l.StartsWith("latentbalance: error:")).ToList();
        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, l => l.Contains("notes.jpg"));
        Assert.Contains(errors, l => l.Contains("cut.jpg"));
        Assert.Contains(errors, l => l.Contains("missing.jpg"));
        // the good photo in the same batch is still balanced; nothing else is written
        Assert.Equal(new[] { "astronaut.jpg" }, Directory.GetFiles(outDir).Select(Path.GetFileName).ToArray());
    }

    [Fact]
    public void ANanSampleInAFloatPhotoStaysAtItsOwnPixel()
    {
        // issue 13 item 1: one NaN sample made every output sample NaN (daemon) or crashed `--json`
        var dir = TestPaths.TempDir("cli-nan");
        var src = Path.Combine(dir, "holes.tif");
        var outPath = Path.Combine(dir, "out.tif");
        using (var im = NetVips.Image.NewFromFile(Photo("coffee")))
        using (var f = im.Cast(NetVips.Enums.BandFormat.Float).Linear([1 / 255.0], [0]))
        using (var holes = Imaging.TestImages.WithSamples(f, [(50, 60, 0, float.NaN), (200, 100, 2, float.PositiveInfinity)]))
            holes.Tiffsave(src);
        var r = CliRunner.Run(null, "balance", src, "-o", outPath, "--json");
        output.WriteLine(r.Stderr);
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.True(doc.RootElement.GetProperty("ok").GetBoolean());
        using var got = NetVips.Image.NewFromFile(outPath);
        var px = got.WriteToMemory<float>();
        int bands = got.Bands, w = got.Width;
        var bad = Enumerable.Range(0, px.Length).Where(i => !float.IsFinite(px[i])).Select(i => i / bands).Distinct().ToList();
        Assert.True(bad.All(p => p == 60 * w + 50 || p == 100 * w + 200), $"{bad.Count} pixels not finite, first at {bad.FirstOrDefault()}");
        // and the photo was balanced, not left alone or blanked
        Assert.InRange(px.Where(float.IsFinite).Average(), 0.05, 0.95);
    }

    [Fact]
    public void ANamedPipeCalledPhotoJpgIsRefusedAtOnce()
    {
        // issue 13 item 2: the CLI waited forever for someone to write to the pipe
        var dir = TestPaths.TempDir("cli-fifo");
        var fifo = Path.Combine(dir, "photo.jpg");
        using (var p = System.Diagnostics.Process.Start("mkfifo", [fifo])) p.WaitForExit();
        var run = Task.Run(() => CliRunner.Run(null, "balance", fifo, "-o", Path.Combine(dir, "out.jpg")));
        Assert.True(run.Wait(TimeSpan.FromSeconds(90)), "the CLI blocked on a named pipe");
        output.WriteLine(run.Result.Stderr);
        Assert.Equal(1, run.Result.ExitCode);
        var line = Assert.Single(run.Result.Stderr.Split('\n'), l => l.StartsWith("latentbalance: error:"));
        Assert.Contains("photo.jpg", line);
        Assert.Contains("named pipe", line);
        Assert.Equal(new[] { "photo.jpg" }, Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).ToArray());
    }

    [Fact]
    public void AMultiPageTiffIsBalancedWithANoteThatOnlyItsFirstPageIs()
    {
        var dir = TestPaths.TempDir("cli-pages");
        var src = Path.Combine(dir, "scan.tif");
        using (var im = NetVips.Image.NewFromFile(Photo("coffee")))
        using (var pages = NetVips.Image.Arrayjoin([im, im], across: 1))
        using (var tagged = pages.Mutate(m => m.Set(NetVips.GValue.GIntType, "page-height", im.Height)))
            tagged.Tiffsave(src);
        var r = CliRunner.Run(null, "balance", src, "-o", Path.Combine(dir, "out.tif"));
        output.WriteLine(r.Stderr);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains(r.Stderr.Split('\n'), l => l.StartsWith("latentbalance: note:") && l.Contains("scan.tif") && l.Contains("2 pages"));
        r = CliRunner.Run(null, "balance", src, "-o", Path.Combine(dir, "out2.tif"), "--json");
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Contains("2 pages", doc.RootElement.GetProperty("details").GetProperty("notes").GetString());
    }

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public void ASignalDuringTheWriteStopsWithin2SecondsAndLeavesNoPartialFile(string signal)
    {
        // issue 13 item 4: Ctrl-C or SIGTERM during the write left a hidden .*.tmp partial file
        var dir = TestPaths.TempDir("cli-signal");
        var src = Path.Combine(dir, "big.png");
        using (var im = Imaging.TestImages.Rgb8(8000, 6000)) im.Pngsave(src, compression: 1); // its PNG write (level 6) outlasts the grace period
        var outDir = Directory.CreateDirectory(Path.Combine(dir, "out")).FullName;
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "latentbalance.dll"));
        foreach (var a in new[] { "balance", src, "-o", Path.Combine(outDir, "big.png") }) psi.ArgumentList.Add(a);
        foreach (var (k, v) in TestPack.Environment) psi.Environment[k] = v;
        psi.Environment["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/nonexistent/latentbalance-test-bus";
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var wait = System.Diagnostics.Stopwatch.StartNew();
        while (Directory.GetFiles(outDir, ".*").Length == 0 && !p.HasExited && wait.Elapsed < TimeSpan.FromMinutes(5)) Thread.Sleep(10);
        Assert.False(p.HasExited, "the CLI ended before it wrote");
        using (var kill = System.Diagnostics.Process.Start("kill", ["-" + signal, p.Id.ToString()])) kill.WaitForExit();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)), "the CLI did not stop");
        output.WriteLine($"SIG{signal} during the write: stopped in {clock.Elapsed.TotalSeconds:F2} s, exit code {p.ExitCode}\n{stderr.Result}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2.5), $"took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Empty(Directory.GetFiles(outDir, ".*")); // no partial file
        if (p.ExitCode == 0) // the write finished inside the grace period: then it is whole
            using (var got = NetVips.Image.NewFromFile(Path.Combine(outDir, "big.png"))) Assert.Equal((8000, 6000), (got.Width, got.Height));
        else Assert.Empty(Directory.GetFiles(outDir));
    }

    [Fact]
    public void AnOutputThatIsItsInputIsReplacedOnlyWithOverwrite()
    {
        // the output check is the engine service's, once; --overwrite balances into a hidden name and renames it over the input
        var dir = TestPaths.TempDir("cli-overwrite");
        var photo = Path.Combine(dir, "photo.png");
        using (var im = NetVips.Image.NewFromFile(Photo("coffee"))) im.Pngsave(photo);
        var before = File.ReadAllBytes(photo);
        var refused = CliRunner.Run(null, "balance", photo, "-o", photo);
        output.WriteLine(refused.Stderr);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("input photo itself", refused.Stderr);
        Assert.Equal(before, File.ReadAllBytes(photo));
        var r = CliRunner.Run(null, "balance", photo, "-o", photo, "--overwrite", "--json");
        Assert.Equal(0, r.ExitCode);
        Assert.NotEqual(before, File.ReadAllBytes(photo));
        Assert.Equal(["photo.png"], Directory.GetFiles(dir).Select(Path.GetFileName).ToArray()); // nothing hidden left
    }

    [Fact]
    public void UsageErrorsExitNonZero()
    {
        var dir = TestPaths.TempDir("cli-usage");
        Assert.NotEqual(0, CliRunner.Run(null, "balance", Photo("coffee")).ExitCode);                          // no -o
        var r = CliRunner.Run(null, "balance", Photo("coffee"), "-o", Path.Combine(dir, "x.jpg"), "--strength", "3");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("strength", r.Stderr);
        Assert.False(File.Exists(Path.Combine(dir, "x.jpg")));
    }

    [Fact]
    public void ModelsVerifyAndListUseTheMirror()
    {
        var env = new Dictionary<string, string>(TestPack.Environment) { ["LATENTBALANCE_CACHE"] = TestPaths.TempDir("cli-cache") };
        var before = CliRunner.Run(env, "models", "verify");
        Assert.Equal(1, before.ExitCode);                    // empty cache: missing
        Assert.Contains("Missing", before.Stdout);
        var pull = CliRunner.Run(env, "models", "pull");
        output.WriteLine(pull.Stdout + pull.Stderr);
        Assert.Equal(0, pull.ExitCode);
        var after = CliRunner.Run(env, "models", "verify");
        Assert.Equal(0, after.ExitCode);
        Assert.Contains("Ok", after.Stdout);
        // a corrupted cached file is detected
        File.AppendAllText(Path.Combine(env["LATENTBALANCE_CACHE"], "taef2", "taef2_decoder.pth"), "x");
        var corrupt = CliRunner.Run(env, "models", "verify");
        Assert.Equal(1, corrupt.ExitCode);
        Assert.Contains("Corrupt", corrupt.Stdout);
    }
}
