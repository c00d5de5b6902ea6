using System.Diagnostics;
using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Engine.Vae;
using LatentBalance.Onnx;
using NetVips;
using static TorchSharp.torch;

namespace LatentBalance.Benchmarks;

/// <summary>
/// Issue 16, first slice: the default pack's TAEF2 through ONNX Runtime (LatentBalance.Onnx) against the engine's
/// TorchSharp TinyAutoencoder, same weights, same real photo tile, both on 2 threads, runs interleaved: encode 224x224,
/// decode one latent, and decode the pair the engine decodes (original and balanced latent, batch 2); and the pack's balancer
/// (OnnxBalancer against BalancerNet.BalanceWithStrength) on that tile's latent. Medians.
/// </summary>
static class OnnxBenchmark
{
    const int Threads = 2, WarmUp = 3, Runs = 15;

    public static Task RunAsync()
    {
        var loadBefore = File.ReadAllText("/proc/loadavg").Trim();
        var pack = ModelPack.Open(ModelPack.DefaultDirectory());
        using var store = new ModelStore();
        var config = Path.Combine(pack.Directory, pack.Manifest.Vae.Config!);
        string encoder = store.Resolve(pack.Manifest.Vae.Encoder!), decoder = store.Resolve(pack.Manifest.Vae.Decoder!);

        set_num_threads(Threads);
        var sw = Stopwatch.StartNew();
        using var torchVae = TinyAutoencoder.Load(config, encoder, decoder);
        double torchLoad = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        using var onnx = OnnxTinyAutoencoder.Load(config, encoder, decoder, Threads);
        double onnxLoad = sw.Elapsed.TotalMilliseconds;
        var balancerFolder = Path.Combine(pack.Directory, pack.Manifest.Balancer);
        sw.Restart();
        using var torchBalancer = BalancerNet.Load(balancerFolder);
        double torchBalancerLoad = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        using var onnxBalancer = OnnxBalancer.Load(balancerFolder, Threads);
        double onnxBalancerLoad = sw.Elapsed.TotalMilliseconds;

        using var img = Image.NewFromFile(Path.Combine(BenchImages.SharedPhotos(), "bsds500", "100075.jpg"));
        var tile = ThumbnailFit.FromImage(img);
        using var x = tensor(tile.Chw, [1, 3, tile.Size, tile.Size]);
        using var z = torchVae.Encode(x);
        using var pair = cat([z, z * 0.9f], 0);
        var image = new NchwTensor(tile.Chw, 1, 3, tile.Size, tile.Size);
        var latent = Nchw(z);
        var latentPair = Nchw(pair);

        var cases = new (string Name, Action Torch, Action Onnx)[]
        {
            ("encode 224x224", () => torchVae.Encode(x).Dispose(), () => onnx.Encode(image)),
            ("decode 28x28 -> 224x224", () => torchVae.Decode(z).Dispose(), () => onnx.Decode(latent)),
            ("decode the pair (batch 2)", () => torchVae.Decode(pair).Dispose(), () => onnx.Decode(latentPair)),
            ("balancer 28x28 (with strength)", () => { var (b, st) = torchBalancer.BalanceWithStrength(z); b.Dispose(); st.Dispose(); }, () => onnxBalancer.BalanceWithStrength(latent)),
        };
        var times = cases.Select(_ => (Torch: new List<double>(), Onnx: new List<double>())).ToArray();
        for (int run = 0; run < WarmUp + Runs; run++)
            for (int c = 0; c < cases.Length; c++)
            {
                double t = Time(cases[c].Torch), o = Time(cases[c].Onnx);
                if (run >= WarmUp) { times[c].Torch.Add(t); times[c].Onnx.Add(o); }
            }

        Console.WriteLine($"TAEF2 and the pack's balancer, real photo tile, {Threads} threads each, {Runs} runs after {WarmUp} warm-up, interleaved, medians; {Environment.ProcessorCount} cores, load average before {loadBefore}, after {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine($"load (weights read, graph built, session made): TAEF2 TorchSharp {torchLoad:F0} ms, ONNX Runtime {onnxLoad:F0} ms; balancer TorchSharp {torchBalancerLoad:F0} ms, ONNX Runtime {onnxBalancerLoad:F0} ms");
        Console.WriteLine("| | TorchSharp ms | ONNX Runtime ms | ONNX / TorchSharp |");
        Console.WriteLine("|---|---|---|---|");
        for (int c = 0; c < cases.Length; c++)
        {
            double t = BenchImages.Median(times[c].Torch), o = BenchImages.Median(times[c].Onnx);
            Console.WriteLine($"| {cases[c].Name} | {t:F1} | {o:F1} | {o / t:F2} |");
        }
        AutoencoderKLRows(img);
        Console.WriteLine($"linux-x64 native libraries: ONNX Runtime {NativeMb("libonnxruntime*.so")} MB, libtorch with TorchSharp's glue {NativeMb("lib*.so*", "libonnxruntime", "libvips")} MB (every other .so in runtimes/linux-x64/native but libvips)");
        return Task.CompletedTask;
    }

    /// <summary>AutoencoderKL slice: the tests' small diffusers VAE (block_out_channels [32, 64], one layer per block,
    /// mid-block attention; seeded random weights in a temporary diffusers folder) in both runtimes on a 128x128 tile of the
    /// same photo, interleaved as above: encode, and decode the pair. Two more rows of the table.</summary>
    static void AutoencoderKLRows(Image photo)
    {
        var dir = Directory.CreateTempSubdirectory("lb-bench-kl").FullName;
        var configPath = Path.Combine(dir, AutoencoderKL.ConfigFileName);
        File.WriteAllText(configPath, """{"block_out_channels": [32, 64], "layers_per_block": 1, "norm_num_groups": 8, "name": "small-kl"}""");
        var g = new Generator(17);
        var shapes = AutoencoderKL.ExpectedParameters(Pretrained.ReadConfig<AutoencoderKLConfig>(configPath));
        SafeTensors.Write(Path.Combine(dir, AutoencoderKL.WeightsFileName), shapes.ToDictionary(kv => kv.Key, kv =>
            kv.Key.Contains("norm") && !kv.Key.Contains("conv_") && kv.Key.EndsWith(".weight") ? 1 + 0.1 * randn(kv.Value, generator: g)
            : randn(kv.Value, generator: g) / Math.Sqrt(kv.Value.Skip(1).Aggregate(1L, (a, x) => a * x))));
        using var torchVae = AutoencoderKL.LoadDirectory(dir);
        using var onnx = OnnxAutoencoderKL.LoadDirectory(dir, Threads);
        Directory.Delete(dir, true);

        var tile = ThumbnailFit.FromImage(photo, new ThumbnailFitOptions { Size = 128 });
        using var x = tensor(tile.Chw, [1, 3, tile.Size, tile.Size]);
        using var z = torchVae.Encode(x);
        using var pair = cat([z, z * 0.9f], 0);
        var image = new NchwTensor(tile.Chw, 1, 3, tile.Size, tile.Size);
        var latentPair = Nchw(pair);
        var (encodeTorch, encodeOnnx, decodeTorch, decodeOnnx) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        for (int run = 0; run < WarmUp + Runs; run++)
        {
            double et = Time(() => torchVae.Encode(x).Dispose()), eo = Time(() => onnx.Encode(image));
            double dt = Time(() => torchVae.Decode(pair).Dispose()), d = Time(() => onnx.Decode(latentPair));
            if (run >= WarmUp) { encodeTorch.Add(et); encodeOnnx.Add(eo); decodeTorch.Add(dt); decodeOnnx.Add(d); }
        }
        foreach (var (name, t, o) in new[] { ("AutoencoderKL small, encode 128x128", encodeTorch, encodeOnnx), ("AutoencoderKL small, decode the pair 64x64 -> 128x128", decodeTorch, decodeOnnx) })
            Console.WriteLine($"| {name} | {BenchImages.Median(t):F1} | {BenchImages.Median(o):F1} | {BenchImages.Median(o) / BenchImages.Median(t):F2} |");
    }

    static NchwTensor Nchw(Tensor t) =>
        new(t.contiguous().data<float>().ToArray(), (int)t.shape[0], (int)t.shape[1], (int)t.shape[2], (int)t.shape[3]);

    static double Time(Action run)
    {
        var sw = Stopwatch.StartNew();
        run();
        return sw.Elapsed.TotalMilliseconds;
    }

    /// <summary>Megabytes of the files matching <paramref name="pattern"/> beside this program, less those whose names start with <paramref name="except"/>.</summary>
    static string NativeMb(string pattern, params string[] except)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native");
        var bytes = Directory.Exists(dir)
            ? Directory.GetFiles(dir, pattern).Where(f => !except.Any(Path.GetFileName(f).StartsWith)).Sum(f => new FileInfo(f).Length)
            : 0;
        return (bytes / 1e6).ToString("F1");
    }
}
