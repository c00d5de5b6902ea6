using System.Diagnostics;
using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Runtime;
using LatentBalance.Engine.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Pipeline;

/// <summary>The pack's VAE and balancer on libtorch (TorchSharp): the runtime training and <c>eval</c> use, and
/// <c>--runtime torch</c>; the reference the ONNX runtime is tested against.</summary>
public sealed class TorchNetworks : ICorrectionNetworks
{
    public TorchNetworks(IVae vae, BalancerNet balancer, Device device)
    {
        ModelPack.CheckLatentChannels(balancer.Config, vae.Name, vae.LatentChannels);
        (Vae, Balancer, TorchDevice) = (vae, balancer, device);
        Balancer.eval();
    }

    /// <summary>Loads the pack's VAE (fetching its files into the cache if needed) and balancer onto <paramref name="device"/> ("auto", "cpu", "cuda").</summary>
    public static TorchNetworks Load(ModelPack pack, ModelStore store, string device = "auto", CancellationToken cancel = default)
    {
        var dev = Devices.Resolve(device);
        var vae = pack.LoadVae(store, dev, cancel);
        try { return new TorchNetworks(vae, pack.LoadBalancer(dev), dev); }
        catch { vae.Dispose(); throw; }
    }

    public IVae Vae { get; }
    public BalancerNet Balancer { get; }
    public Device TorchDevice { get; }

    public string Runtime => "torch";
    public string Device => TorchDevice.type.ToString().ToLowerInvariant();
    public string VaeName => Vae.Name;
    public int TileSize => Balancer.Config.TileSize;

    public TileDecodes Decode(float[] tile, int size, Action<string, double>? timing = null)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var t0 = Stopwatch.GetTimestamp();
        var z = Vae.Encode(tensor(tile, [1, 3, size, size]).to(TorchDevice));
        timing?.Invoke("encode", StageClock.Lap(ref t0));
        var (balanced, s) = Balancer.BalanceWithStrength(z);
        double strength = s[0].item<float>();
        timing?.Invoke("balance", StageClock.Lap(ref t0));
        var decodes = DecodeLatents(z, balanced);
        timing?.Invoke("decode", StageClock.Lap(ref t0));
        return decodes with { Strength = strength };
    }

    /// <summary>Step 4 alone: decodes two latents [1, C, h, w] (the evaluator also uses it with the clean photo's
    /// latent as the target, to score a perfect balancer). Strength 1.</summary>
    public TileDecodes DecodeLatents(Tensor z, Tensor target)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var both = Vae.Decode(cat([z, target], 0)).ClampTo(0L, 1L).to(float32).cpu().contiguous().data<float>().ToArray();
        int half = both.Length / 2;
        return new TileDecodes(both[..half], both[half..], 1);
    }

    public void Dispose()
    {
        Vae.Dispose();
        Balancer.Dispose();
    }
}
