using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Pipeline;

namespace LatentBalance.Onnx;

/// <summary>
/// Loads a model pack's networks on a runtime into a <see cref="BalanceEngine"/>: the one place the runtime is chosen.
/// "onnx" (the default: ONNX Runtime, no libtorch loaded) or "torch" (TorchSharp: training, <c>eval</c>, <c>--runtime torch</c>).
/// </summary>
public static class EngineRuntime
{
    public const string Onnx = "onnx", Torch = "torch", Default = Onnx;
    public static readonly IReadOnlyList<string> Names = [Onnx, Torch];

    /// <param name="packDir">null: the default pack (<see cref="ModelPack.DefaultDirectory"/>).</param>
    /// <param name="device">"auto", "cpu" or "cuda".</param>
    public static BalanceEngine Load(string? packDir = null, string runtime = Default, string device = "auto", ModelStore? store = null, CancellationToken cancel = default)
    {
        if (!Names.Contains(runtime)) throw new ArgumentException($"unknown runtime '{runtime}': use {string.Join(" or ", Names)}");
        var pack = ModelPack.Open(packDir ?? ModelPack.DefaultDirectory());
        using var ownStore = store == null ? new ModelStore() : null;
        ICorrectionNetworks networks = runtime == Torch
            ? TorchNetworks.Load(pack, store ?? ownStore!, device, cancel)
            : OnnxNetworks.Load(pack, store ?? ownStore!, device, cancel: cancel);
        try { return new BalanceEngine(networks, pack.Manifest.Name, pack.Correction); }
        catch { networks.Dispose(); throw; }
    }
}
