using LatentBalance.Daemon.Filters;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Daemon.Tests.Support;
using LatentBalance.Filters;

namespace LatentBalance.Daemon.Tests.Filters;

/// <summary>The grey-world plug-in run in this process through the daemon's filter host (no models needed).</summary>
public sealed class GreyWorldTests : IDisposable
{
    private readonly TempDir _dir = new("grey");

    private static IFilter Grey() => new FilterCatalog([]).LoadPlugins([CliPaths.BundledFilters], DaemonLog.Silent).Get("grey-world");

    private static FilterJob Job(IFilter f, string input, string? output, string? cube, double strength) => new()
    {
        InputPath = input, OutputPath = output, CubePath = cube,
        Parameters = FilterContract.Bind(f.Description, new Dictionary<string, string> { ["strength"] = strength.ToString(System.Globalization.CultureInfo.InvariantCulture) }),
    };

    [Fact]
    public async Task Full_strength_equalises_the_channel_means_and_zero_strength_is_the_identity()
    {
        var f = Grey();
        var host = new EngineFilterHost(null, null, DaemonLog.Silent, f.Description.Id);
        var input = TestImages.Gradient(_dir.File("in.png"), 64, 48, [1.0, 0.75, 0.5]);
        await f.RunAsync(Job(f, input, _dir.File("full.png"), _dir.File("full.cube"), 1), host);
        await f.RunAsync(Job(f, input, _dir.File("none.png"), null, 0), host);

        var m = (await host.MeasureAsync(_dir.File("full.png"))).MeanLinear;
        var before = (await host.MeasureAsync(input)).MeanLinear;
        Assert.True(m.Max() - m.Min() < 0.25 * (before.Max() - before.Min()), $"linear means {string.Join(", ", m.Select(v => v.ToString("F3")))}");
        Assert.True(TestImages.MeanAbsDiff(input, _dir.File("none.png")) < 0.6, "strength 0 should leave the picture alone");
        Assert.Contains("LUT_3D_SIZE 33", File.ReadAllText(_dir.File("full.cube")));
    }

    [Fact]
    public async Task The_plugin_bakes_the_engine_grey_world_that_the_evaluator_scores()
    {
        var f = Grey();
        var host = new EngineFilterHost(null, null, DaemonLog.Silent, f.Description.Id);
        var input = TestImages.Gradient(_dir.File("cast.png"), 64, 48, [1.0, 0.8, 0.55]);
        await f.RunAsync(Job(f, input, null, _dir.File("g.cube"), 0.7), host);
        var shipped = CubeFile.Read(_dir.File("g.cube"));
        var gains = GreyWorld.Gains((await host.MeasureAsync(input)).MeanLinear, 0.7);
        Assert.True(gains.Max() / gains.Min() > 1.2, $"gains {string.Join(", ", gains)}: not a real correction");
        var engine = LutBaker.Bake(GreyWorld.Map(gains));
        Assert.Equal(engine.Size, shipped.Size);
        for (int i = 0; i < engine.Data.Length; i++) Assert.Equal(engine.Data[i], (double)shipped.Data[i], 1e-6); // .cube: 6 decimals
    }

    [Fact]
    public async Task Without_the_models_latent_balance_says_the_engine_is_unavailable()
    {
        var f = new LatentBalanceFilter();
        var host = new EngineFilterHost(null, new InvalidOperationException("no pack here"), DaemonLog.Silent, f.Description.Id);
        var input = TestImages.Gradient(_dir.File("in2.png"), 16, 16);
        var e = await Assert.ThrowsAsync<LatentBalance.Engine.ModelFiles.ModelFileException>(() => f.RunAsync(Job2(f, input), host));
        Assert.Contains("no pack here", e.Message);
        Assert.Equal(LatentBalance.Bridge.Contract.BridgeErrorCode.Unavailable, EngineErrors.ToBridge(e).Code);

        static FilterJob Job2(IFilter f, string input) => new()
        {
            InputPath = input, OutputPath = input + ".out.png", Parameters = FilterContract.Bind(f.Description, null),
        };
    }

    public void Dispose() => _dir.Dispose();
}
