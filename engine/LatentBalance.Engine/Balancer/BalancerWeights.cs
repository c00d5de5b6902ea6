using LatentBalance.Engine.ModelFiles;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Balancer;

/// <summary>
/// A balancer on disk: <c>balancer.safetensors</c> (float32 weights, state-dict names) and
/// <c>balancer.json</c> (its <see cref="BalancerConfig"/>), side by side in one folder.
/// </summary>
public static class BalancerWeights
{
    public const string WeightsFile = "balancer.safetensors";
    public const string ConfigFile = "balancer.json";

    public static void Save(BalancerNet net, string folder, IReadOnlyDictionary<string, string>? metadata = null)
    {
        Directory.CreateDirectory(folder);
        var sd = net.state_dict();
        var tensors = sd.ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().to(float32));
        SafeTensors.Write(Path.Combine(folder, WeightsFile), tensors, metadata);
        foreach (var t in tensors.Values) t.Dispose();
        var cfgPath = Path.Combine(folder, ConfigFile);
        var tmp = cfgPath + ".tmp";
        File.WriteAllText(tmp, net.Config.ToJson());
        File.Move(tmp, cfgPath, true);
    }

    public static BalancerNet Load(string folder)
    {
        var cfgPath = Path.Combine(folder, ConfigFile);
        var wPath = Path.Combine(folder, WeightsFile);
        if (!File.Exists(cfgPath)) throw new ModelFileException($"{cfgPath}: balancer config not found");
        if (!File.Exists(wPath)) throw new ModelFileException($"{wPath}: balancer weights not found");
        var config = BalancerConfig.FromJson(File.ReadAllText(cfgPath), cfgPath);
        var net = new BalancerNet(config);
        LoadInto(net, SafeTensors.Read(wPath), wPath);
        net.eval();
        return net;
    }

    /// <summary>Copies every parameter and buffer of <paramref name="from"/> that <paramref name="to"/>
    /// has with the same name and shape (e.g. a trained balancer into the same shape with a new head).</summary>
    public static void CopyMatching(BalancerNet from, BalancerNet to)
    {
        var src = from.state_dict();
        using var _ = no_grad();
        foreach (var (k, t) in to.state_dict())
            if (src.TryGetValue(k, out var s) && s.shape.SequenceEqual(t.shape)) t.copy_(s);
    }

    /// <summary>Strict load: every parameter and buffer must be present with its shape, and nothing else.</summary>
    public static void LoadInto(nn.Module net, Dictionary<string, Tensor> weights, string nameForErrors)
    {
        var sd = net.state_dict();
        var missing = sd.Keys.Where(k => !weights.ContainsKey(k)).ToList();
        var unexpected = weights.Keys.Where(k => !sd.ContainsKey(k)).ToList();
        var wrong = sd.Keys.Where(weights.ContainsKey)
            .Where(k => !sd[k].shape.SequenceEqual(weights[k].shape))
            .Select(k => $"{k} [{string.Join(",", weights[k].shape)}] (expected [{string.Join(",", sd[k].shape)}])").ToList();
        if (missing.Count + unexpected.Count + wrong.Count > 0)
            throw new ModelFileException($"{nameForErrors}: weights do not match the model: " +
                string.Join("; ", new[] {
                    missing.Count > 0 ? "missing " + string.Join(", ", missing.Take(8)) : null,
                    unexpected.Count > 0 ? "unexpected " + string.Join(", ", unexpected.Take(8)) : null,
                    wrong.Count > 0 ? "wrong shape " + string.Join(", ", wrong.Take(8)) : null }.Where(s => s != null)));
        using (no_grad())
            foreach (var (k, t) in sd) t.copy_(weights[k]);
        foreach (var t in weights.Values) t.Dispose();
    }
}
