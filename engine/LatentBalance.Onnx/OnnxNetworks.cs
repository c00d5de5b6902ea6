using System.Diagnostics;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Engine.Vae;
using Microsoft.ML.OnnxRuntime;

namespace LatentBalance.Onnx;

/// <summary>The pack's VAE and balancer through ONNX Runtime (one session per network, built at load time from the
/// pack's weight files): the serving runtime. Loads no libtorch.</summary>
public sealed class OnnxNetworks : ICorrectionNetworks
{
    readonly Func<NchwTensor, NchwTensor> _encode, _decode;
    readonly IDisposable _vae;
    readonly OnnxBalancer _balancer;
    readonly bool _concurrentDecodes;

    OnnxNetworks(string vaeName, IDisposable vae, Func<NchwTensor, NchwTensor> encode, Func<NchwTensor, NchwTensor> decode, OnnxBalancer balancer, string device, bool concurrentDecodes = false) =>
        (VaeName, _vae, _encode, _decode, _balancer, Device, _concurrentDecodes) = (vaeName, vae, encode, decode, balancer, device, concurrentDecodes);

    /// <summary>
    /// How the TAESD-family VAE's sessions run, from the cores this process may use (or <paramref name="threads"/>), as measured by
    /// <c>--bench=ort</c> and <c>--bench=engine</c> (docs/BENCHMARKS.md, "ONNX Runtime session settings"). The count still comes
    /// from the machine, split by what runs at the same time: the engine decodes the full-resolution photo on its own thread
    /// while the networks run (the overlap), so the encoder leaves it one core; the two latents are independent, so they are
    /// decoded at once on two threads with half the cores each (on 2 cores: 1 intra-op thread each, no pool to hand work
    /// to or spin, 0.77x the CPU time of one batch-2 Run on 2 threads, the same output bit for bit). One core, or CUDA: every
    /// session on all the cores and one batch-2 Run, as before.
    /// </summary>
    public static (OnnxSessionSettings Encoder, OnnxSessionSettings Decoder, bool ConcurrentDecodes) Plan(int? threads, OnnxDevice device)
    {
        int cores = Math.Max(1, threads ?? Environment.ProcessorCount);
        var all = OnnxSessionSettings.Default with { IntraOpThreads = cores };
        if (device.IsCuda || cores < 2) return (all, all, false);
        return (all with { IntraOpThreads = cores - 1 }, all with { IntraOpThreads = cores / 2 }, true);
    }

    /// <param name="threads">the cores the sessions may use (split between them by <see cref="Plan"/>); null: the cores this process may use.</param>
    /// <param name="device">"auto", "cpu", "cuda" or "cuda:N" (<see cref="OnnxDevice.Parse"/>): CUDA needs a -p:OnnxBackend=cuda
    /// build; "auto" takes CUDA there and falls back to the CPU when a CUDA session cannot start (no GPU, no CUDA libraries).</param>
    /// <param name="beforeIssue16Plan">every session on all the cores and the pair decoded as one batch-2 Run, as before the session
    /// settings were measured: for the engine benchmark's A/B only.</param>
    public static OnnxNetworks Load(ModelPack pack, ModelStore store, string device = "auto", int? threads = null, CancellationToken cancel = default, bool beforeIssue16Plan = false)
    {
        var dev = OnnxDevice.Parse(device);
        if (!dev.IsCuda) return Load(pack, store, dev, threads, cancel, beforeIssue16Plan);
        try { return Load(pack, store, dev, threads, cancel, beforeIssue16Plan); }
        catch (OnnxRuntimeException) when (device.Trim().ToLowerInvariant() == "auto") { return Load(pack, store, OnnxDevice.Cpu, threads, cancel, beforeIssue16Plan); }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidOperationException($"--device {device}: ONNX Runtime's CUDA provider did not start (it needs an NVIDIA GPU, CUDA 12 and cuDNN 9): {e.Message}", e);
        }
    }

    static OnnxNetworks Load(ModelPack pack, ModelStore store, OnnxDevice dev, int? threads, CancellationToken cancel, bool beforeIssue16Plan)
    {
        var balancer = OnnxBalancer.Load(pack.BalancerFolder, threads, dev);
        try
        {
            pack.CheckBalancer(balancer.Config);
            if (pack.TinyConfig is { } tiny)
            {
                var v = pack.Manifest.Vae;
                var (encoder, decoder, concurrent) = Plan(threads, dev);
                if (beforeIssue16Plan) (encoder, decoder, concurrent) = (OnnxSessionSettings.Default with { IntraOpThreads = threads }, OnnxSessionSettings.Default with { IntraOpThreads = threads }, false);
                var vae = OnnxTinyAutoencoder.Load(tiny, pack.ResolveFile(store, v.Encoder!, cancel), pack.ResolveFile(store, v.Decoder!, cancel), encoder, decoder, device: dev);
                return Checked(new OnnxNetworks(tiny.Name, vae, vae.Encode, vae.Decode, balancer, dev.ToString(), concurrent), tiny.LatentChannels);
            }
            var kl = OnnxAutoencoderKL.LoadDirectory(Path.Combine(pack.Directory, pack.Manifest.Vae.Directory ?? "vae"), threads, dev);
            return Checked(new OnnxNetworks(kl.Config.Name, kl, kl.Encode, kl.Decode, balancer, dev.ToString()), kl.LatentChannels);
        }
        catch { balancer.Dispose(); throw; }
    }

    static OnnxNetworks Checked(OnnxNetworks n, int latentChannels)
    {
        try { ModelPack.CheckLatentChannels(n._balancer.Config, n.VaeName, latentChannels); }
        catch { n.Dispose(); throw; }
        return n;
    }

    public string Runtime => "onnx";
    public string Device { get; }
    public string VaeName { get; }
    public int TileSize => _balancer.Config.TileSize;

    public TileDecodes Decode(float[] tile, int size, Action<string, double>? timing = null)
    {
        var t0 = Stopwatch.GetTimestamp();
        var z = _encode(new NchwTensor(tile, 1, 3, size, size));
        timing?.Invoke("encode", StageClock.Lap(ref t0));
        if (_concurrentDecodes)
        {
            // the tile's own latent needs no balancer: it is decoded on a pool thread while this one balances and decodes the balanced latent
            var original = Task.Run(() => _decode(z));
            try
            {
                var (balancedLatent, balancedStrength) = _balancer.BalanceWithStrength(z);
                timing?.Invoke("balance", StageClock.Lap(ref t0));
                var balancedImage = Clamped(_decode(balancedLatent).Data);
                var originalImage = Clamped(original.GetAwaiter().GetResult().Data);
                timing?.Invoke("decode", StageClock.Lap(ref t0));
                return new TileDecodes(originalImage, balancedImage, balancedStrength[0]);
            }
            catch when (!original.IsCompleted)
            {
                // no decode outlives this call (the engine runs one call at a time): wait for it, then fail as this thread did
                try { original.Wait(); } catch (AggregateException) { }
                throw;
            }
        }
        var (balanced, strength) = _balancer.BalanceWithStrength(z);
        timing?.Invoke("balance", StageClock.Lap(ref t0));
        var pair = new float[2 * z.Data.Length];
        z.Data.CopyTo(pair, 0);
        balanced.Data.CopyTo(pair, z.Data.Length);
        var decoded = Clamped(_decode(new NchwTensor(pair, 2, z.Channels, z.Height, z.Width)).Data);
        int half = decoded.Length / 2;
        timing?.Invoke("decode", StageClock.Lap(ref t0));
        return new TileDecodes(decoded[..half], decoded[half..], strength[0]);
    }

    static float[] Clamped(float[] image)
    {
        for (int i = 0; i < image.Length; i++) image[i] = Math.Clamp(image[i], 0f, 1f);
        return image;
    }

    public void Dispose()
    {
        _vae.Dispose();
        _balancer.Dispose();
    }
}
