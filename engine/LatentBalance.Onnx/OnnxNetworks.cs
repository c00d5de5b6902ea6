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

    OnnxNetworks(string vaeName, IDisposable vae, Func<NchwTensor, NchwTensor> encode, Func<NchwTensor, NchwTensor> decode, OnnxBalancer balancer, string device) =>
        (VaeName, _vae, _encode, _decode, _balancer, Device) = (vaeName, vae, encode, decode, balancer, device);

    /// <param name="threads">Intra-op threads per session; null: the cores this process may use.</param>
    /// <param name="device">"auto", "cpu", "cuda" or "cuda:N" (<see cref="OnnxDevice.Parse"/>): CUDA needs a -p:OnnxBackend=cuda
    /// build; "auto" takes CUDA there and falls back to the CPU when a CUDA session cannot start (no GPU, no CUDA libraries).</param>
    public static OnnxNetworks Load(ModelPack pack, ModelStore store, string device = "auto", int? threads = null, CancellationToken cancel = default)
    {
        var dev = OnnxDevice.Parse(device);
        if (!dev.IsCuda) return Load(pack, store, dev, threads, cancel);
        try { return Load(pack, store, dev, threads, cancel); }
        catch (OnnxRuntimeException) when (device.Trim().ToLowerInvariant() == "auto") { return Load(pack, store, OnnxDevice.Cpu, threads, cancel); }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidOperationException($"--device {device}: ONNX Runtime's CUDA provider did not start (it needs an NVIDIA GPU, CUDA 12 and cuDNN 9): {e.Message}", e);
        }
    }

    static OnnxNetworks Load(ModelPack pack, ModelStore store, OnnxDevice dev, int? threads, CancellationToken cancel)
    {
        var balancer = OnnxBalancer.Load(pack.BalancerFolder, threads, dev);
        try
        {
            pack.CheckBalancer(balancer.Config);
            if (pack.TinyConfig is { } tiny)
            {
                var v = pack.Manifest.Vae;
                var vae = OnnxTinyAutoencoder.Load(tiny, pack.ResolveFile(store, v.Encoder!, cancel), pack.ResolveFile(store, v.Decoder!, cancel), threads, dev);
                return Checked(new OnnxNetworks(tiny.Name, vae, vae.Encode, vae.Decode, balancer, dev.ToString()), tiny.LatentChannels);
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
        var (balanced, strength) = _balancer.BalanceWithStrength(z);
        timing?.Invoke("balance", StageClock.Lap(ref t0));
        var pair = new float[2 * z.Data.Length];
        z.Data.CopyTo(pair, 0);
        balanced.Data.CopyTo(pair, z.Data.Length);
        var decoded = _decode(new NchwTensor(pair, 2, z.Channels, z.Height, z.Width)).Data;
        for (int i = 0; i < decoded.Length; i++) decoded[i] = Math.Clamp(decoded[i], 0f, 1f);
        int half = decoded.Length / 2;
        timing?.Invoke("decode", StageClock.Lap(ref t0));
        return new TileDecodes(decoded[..half], decoded[half..], strength[0]);
    }

    public void Dispose()
    {
        _vae.Dispose();
        _balancer.Dispose();
    }
}
