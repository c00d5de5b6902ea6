using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.Pipeline;
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

    /// <summary>The two latents decoded at once on two threads (the plan on 2 or more cores) give what one batch-2 Run gives (the plan on 1 core).</summary>
    [Fact]
    public void ConcurrentDecodesGiveWhatOneBatchGives()
    {
        Assert.True(OnnxNetworks.Plan(2, OnnxDevice.Cpu).ConcurrentDecodes);
        Assert.Equal((1, 1), (OnnxNetworks.Plan(2, OnnxDevice.Cpu).Encoder.Threads, OnnxNetworks.Plan(2, OnnxDevice.Cpu).Decoder.Threads));
        Assert.Equal((15, 8), (OnnxNetworks.Plan(16, OnnxDevice.Cpu).Encoder.Threads, OnnxNetworks.Plan(16, OnnxDevice.Cpu).Decoder.Threads));
        Assert.False(OnnxNetworks.Plan(1, OnnxDevice.Cpu).ConcurrentDecodes);
        using var store = TestPack.Store();
        var pack = ModelPack.Open(TestPack.Directory);
        using var concurrent = OnnxNetworks.Load(pack, store, "cpu", threads: 2);
        using var batch = OnnxNetworks.Load(pack, store, "cpu", threads: 1);
        using var img = Image.NewFromFile(Path.Combine(TestPaths.Photos, "bsds500", "100075.jpg"));
        var tile = ThumbnailFit.FromImage(img);
        var a = concurrent.Decode(tile.Chw, tile.Size);
        var b = batch.Decode(tile.Chw, tile.Size);
        float source = a.Source.Zip(b.Source, (x, y) => Math.Abs(x - y)).Max(), target = a.Target.Zip(b.Target, (x, y) => Math.Abs(x - y)).Max();
        output.WriteLine($"concurrent vs batch: max |diff| source {source:E2}, target {target:E2}, strength {a.Strength} vs {b.Strength}");
        Assert.True(source < 1e-5 && target < 1e-5, $"source {source}, target {target}");
        Assert.Equal(b.Strength, a.Strength, 1e-6);
        Assert.NotEqual(a.Source, a.Target); // the balancer moved the latent: the two decodes are not swapped copies of one
    }

    [Fact]
    public void AnUnknownRuntimeIsRefusedByName()
    {
        var e = Assert.Throws<ArgumentException>(() => EngineRuntime.Load(TestPack.Directory, "tensorflow"));
        Assert.Contains("'tensorflow'", e.Message);
    }
}
