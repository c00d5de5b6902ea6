using LatentBalance.Engine.Tests.Imaging;
using Xunit.Abstractions;

namespace LatentBalance.Engine.Tests.Pipeline;

/// <summary>
/// Issue 13: about 300 seeded mutants of small JPEG, PNG, TIFF and WebP images (truncations, bit flips,
/// header edits) through the in-process balance path. Each must balance to a readable output or be
/// refused with one line naming the file, within a time bound, leaving nothing in the output folder.
/// The longer run is the "fuzz" benchmark.
/// </summary>
public class BalanceFuzzTests(ITestOutputHelper output, BalanceEngineTests.EngineFixture fixture) : IClassFixture<BalanceEngineTests.EngineFixture>
{
    public const int Seed = 13;

    [Fact]
    public void Mutated_images_balance_or_are_refused_in_one_line_and_leave_nothing_behind()
    {
        var inputs = TestPaths.TempDir("fuzz-in");
        var outputs = TestPaths.TempDir("fuzz-out");
        // generous for 2 shared cores: a balanced case takes about 2 s there, a refused one milliseconds,
        // but one balance took 23 s while a training job held the cores
        var bound = TimeSpan.FromSeconds(60);
        var results = new List<FuzzResult>();
        foreach (var c in ImageFuzzer.Generate(Seed, 300))
        {
            var r = FuzzRunner.Run(fixture.Engine, c, inputs, outputs, bound);
            results.Add(r);
            if (r.Problem != null) output.WriteLine(r.ToString());
            if (r.Outcome == "hang") break; // the engine is still busy with it
        }
        foreach (var line in FuzzRunner.Summary(results)) output.WriteLine(line);

        Assert.Equal(300, results.Count);
        var broken = results.Where(r => r.Problem != null).ToList();
        Assert.True(broken.Count == 0, string.Join("\n", broken));
        // the fuzz reaches both ends: the controls balance and the damage is refused
        Assert.All(results.Where(r => r.Case.Class == "control"), r => Assert.Equal("balanced", r.Outcome));
        Assert.Contains(results, r => r.Outcome.StartsWith("refused:"));
        Assert.Equal(["jpeg", "png", "tiff", "webp"], results.Select(r => r.Case.Format).Distinct().Order());
        Assert.Empty(Directory.EnumerateFileSystemEntries(outputs));
    }

    [Fact]
    public void The_generator_is_deterministic()
    {
        var a = ImageFuzzer.Generate(Seed, 60).ToList();
        var b = ImageFuzzer.Generate(Seed, 60).ToList();
        Assert.Equal(a.Select(c => c.FileName), b.Select(c => c.FileName));
        Assert.All(a.Zip(b), p => Assert.Equal(p.First.Bytes, p.Second.Bytes));
        Assert.NotEqual(a.Select(c => c.FileName), ImageFuzzer.Generate(Seed + 1, 60).Select(c => c.FileName));
        // and the same in every process: nothing may hang on .NET's per-process hash seed (the first
        // version shuffled with HashCode.Combine, so each run fuzzed another set of cases)
        output.WriteLine(string.Join(", ", a.Take(8).Select(c => '"' + c.FileName + '"')));
        Assert.Equal(FirstCases, a.Take(8).Select(c => c.FileName));
    }

    static readonly string[] FirstCases =
    [
        "0000-jpeg-progressive-dht-garbage.jpg", "0001-png-palette-zero-block.png", "0002-tiff-float-zero-block.tif", "0003-webp-lossless-alpha-control-wrong-ext.png",
        "0004-jpeg-baseline-trunc-header.jpg", "0005-png-rgb8-trunc-25.png", "0006-tiff-float-ifd-loop.tif", "0007-webp-lossy-vp8-partition.webp",
    ];
}
