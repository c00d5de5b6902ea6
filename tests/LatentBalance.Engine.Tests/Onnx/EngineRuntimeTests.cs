using LatentBalance.Engine.Imaging;
using LatentBalance.Onnx;
using NetVips;
using Xunit.Abstractions;

namespace LatentBalance.Engine.Tests.Onnx;

/// <summary>Both runtimes of the default pack from the one loader: the ONNX Runtime engine (the serving default) and the
/// TorchSharp engine (the reference) give the same correction LUT on 10 real photos.</summary>
public class EngineRuntimeTests(ITestOutputHelper output)
{
    [Fact]
    public void OnnxAndTorchGiveTheSameLutOnTenPhotos()
    {
        using var store = TestPack.Store();
        using var onnx = EngineRuntime.Load(TestPack.Directory, EngineRuntime.Onnx, "cpu", store);
        using var torch = EngineRuntime.Load(TestPack.Directory, EngineRuntime.Torch, "cpu", store);
        Assert.Equal(("onnx", "torch"), (onnx.Networks.Runtime, torch.Networks.Runtime));
        var photos = Directory.GetFiles(Path.Combine(TestPaths.Photos, "bsds500"), "*.jpg").Order(StringComparer.Ordinal).Take(10).ToList();
        Assert.Equal(10, photos.Count);
        float worst = 0;
        foreach (var photo in photos)
        {
            using var img = Image.NewFromFile(photo);
            var tile = ThumbnailFit.FromImage(img, onnx.TileOptions);
            var a = onnx.EstimateCorrection(tile, onnx.Options());
            var b = torch.EstimateCorrection(tile, torch.Options());
            float max = a.Data.Zip(b.Data, (x, y) => Math.Abs(x - y)).Max();
            output.WriteLine($"{Path.GetFileName(photo)}: max LUT difference {max * 255:F3}/255");
            worst = Math.Max(worst, max);
        }
        Assert.True(worst <= 1f / 255, $"ONNX and TorchSharp LUTs differ by {worst * 255:F3}/255");
    }

    [Fact]
    public void AnUnknownRuntimeIsRefusedByName()
    {
        var e = Assert.Throws<ArgumentException>(() => EngineRuntime.Load(TestPack.Directory, "tensorflow"));
        Assert.Contains("'tensorflow'", e.Message);
    }
}
