using System.Text;
using LatentBalance.Engine.ModelFiles;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Vae;

/// <summary>Strict state-dict loading: every key present, none extra, every shape equal, or a <see cref="ModelFileException"/> listing all problems.</summary>
internal static class TinyAutoencoderWeights
{
    public static void LoadStrict(nn.Module module, IReadOnlyDictionary<string, Tensor> weights, string source)
    {
        var own = module.state_dict();
        var missing = own.Keys.Where(k => !weights.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var unexpected = weights.Keys.Where(k => !own.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var shapes = own.Where(kv => weights.TryGetValue(kv.Key, out var w) && !w.shape.SequenceEqual(kv.Value.shape))
                        .Select(kv => $"{kv.Key} (file [{string.Join(",", weights[kv.Key].shape)}], model [{string.Join(",", kv.Value.shape)}])")
                        .ToList();
        if (missing.Count + unexpected.Count + shapes.Count > 0)
        {
            var sb = new StringBuilder($"{source}: weights do not fit the model");
            if (missing.Count > 0) sb.Append($"; missing {missing.Count}: ").AppendJoin(", ", missing.Take(20));
            if (unexpected.Count > 0) sb.Append($"; unexpected {unexpected.Count}: ").AppendJoin(", ", unexpected.Take(20));
            if (shapes.Count > 0) sb.Append($"; shape mismatch {shapes.Count}: ").AppendJoin(", ", shapes.Take(20));
            throw new ModelFileException(sb.ToString());
        }
        using var _ = torch.no_grad();
        foreach (var (key, p) in own)
        {
            var w = weights[key];
            if (!w.is_floating_point()) throw new ModelFileException($"{source}: '{key}' is not a floating-point tensor");
            using (var finite = w.isfinite().all())
                if (!finite.item<bool>()) throw new ModelFileException($"{source}: '{key}' holds NaN or infinite values");
            p.copy_(w);
        }
    }
}
