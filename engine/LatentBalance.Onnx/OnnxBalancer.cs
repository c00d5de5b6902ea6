using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.ModelFiles;

namespace LatentBalance.Onnx;

/// <summary>
/// The engine's <see cref="BalancerNet"/> through ONNX Runtime: its graph (<see cref="BalancerGraph"/>) built at load time from a
/// balancer folder (<c>balancer.json</c> + <c>balancer.safetensors</c>, read without libtorch), one session, reused.
/// </summary>
public sealed class OnnxBalancer : IDisposable
{
    readonly OnnxNetwork _network;

    public BalancerConfig Config { get; }

    OnnxBalancer(BalancerConfig config, OnnxNetwork network) => (Config, _network) = (config, network);

    /// <summary>Reads the folder strictly: an unknown config field, or weights that do not fit the config, are refused naming the file.</summary>
    /// <exception cref="ModelFileException">unreadable or unfitting config or weights.</exception>
    public static OnnxBalancer Load(string folder, int? threads = null, OnnxDevice? device = null)
    {
        var config = Pretrained.ReadConfig<BalancerConfig>(Path.Combine(folder, BalancerNet.ConfigFile));
        var graph = BalancerGraph.Build(config, StateDict.Read(Path.Combine(folder, BalancerNet.WeightsFile)));
        return new(config, new OnnxNetwork(graph, BalancerGraph.Input, [BalancerGraph.Output, BalancerGraph.Strength], threads, device));
    }

    /// <summary>What <see cref="BalancerNet.BalanceWithStrength"/> gives: the balanced latents z + s (mean - z) and the strength s
    /// of each (1 without a strength head).</summary>
    public (NchwTensor Balanced, float[] Strength) BalanceWithStrength(NchwTensor latent)
    {
        if (latent.Channels != Config.LatentChannels)
            throw new ArgumentException($"balancer: latent must have {Config.LatentChannels} channels, got [{string.Join(",", latent.Shape)}]");
        var outputs = _network.RunAll(latent);
        return (new NchwTensor(outputs[0].Data, latent.Batch, latent.Channels, latent.Height, latent.Width), outputs[1].Data);
    }

    public void Dispose() => _network.Dispose();
}
