using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace LatentBalance.Engine.ModelFiles;

/// <summary>A config record read from JSON: <see cref="Validate"/> throws a <see cref="ModelFileException"/> naming <c>source</c>.</summary>
public interface IModelConfig
{
    void Validate(string source);
}

/// <summary>
/// The one way a network and its config come off the disk (the way diffusers' model classes take their config in
/// the constructor and load through one <c>from_pretrained</c>): a config JSON read strictly into its record (a field
/// the record does not know is refused, naming the file), and weights (.pth or .safetensors) copied in strictly
/// (every key present, none extra, every shape equal, floating point and finite). Every error names the file.
/// </summary>
public static class Pretrained
{
    /// <summary>snake_case field names (diffusers' config.json style), unknown fields refused.</summary>
    public static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        WriteIndented = true,
    };

    /// <summary>Reads and validates a config file.</summary>
    public static T ReadConfig<T>(string path) where T : IModelConfig
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException($"{path}: cannot read the config: {e.Message}", e);
        }
        return ParseConfig<T>(text, path);
    }

    /// <summary>Parses and validates a config; <paramref name="source"/> names it in errors.</summary>
    public static T ParseConfig<T>(string json, string source) where T : IModelConfig
    {
        T? config;
        try { config = JsonSerializer.Deserialize<T>(json, Json); }
        catch (JsonException e) { throw new ModelFileException($"{source}: invalid config: {e.Message}", e); }
        if (config is null) throw new ModelFileException($"{source}: empty config");
        config.Validate(source);
        return config;
    }

    public static string ToJson<T>(T config) where T : IModelConfig => JsonSerializer.Serialize(config, Json);

    /// <summary>Writes a config atomically (<see cref="Imaging.OutputFiles.Write"/>: staged, then renamed).</summary>
    public static void WriteConfig<T>(T config, string path) where T : IModelConfig =>
        Imaging.OutputFiles.Write(Path.GetFullPath(path), staged => File.WriteAllText(staged, ToJson(config)));

    /// <summary>A weight file (<see cref="WeightArray.ReadFile"/>: .pth, .pt, .ckpt, .bin or .safetensors) as float32 CPU tensors,
    /// made from the reader's arrays. The caller owns (and disposes) them.</summary>
    public static Dictionary<string, Tensor> ReadWeights(string path) =>
        WeightArray.ReadFile(path).ToDictionary(kv => kv.Key, kv => kv.Value.Data.Length == 0 ? zeros(kv.Value.Shape) : tensor(kv.Value.Data, kv.Value.Shape), StringComparer.Ordinal);

    /// <summary>Reads a weight file into <paramref name="module"/> strictly; <paramref name="rename"/> maps old key names first.</summary>
    public static void LoadInto(nn.Module module, string path, Func<string, Tensor, (string Key, Tensor Value)>? rename = null)
    {
        var weights = ReadWeights(path);
        try
        {
            var given = rename is null ? weights : weights.Select(kv => rename(kv.Key, kv.Value)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
            LoadInto(module, given, path);
        }
        finally { foreach (var t in weights.Values) t.Dispose(); }
    }

    /// <summary>
    /// Copies a state dict into <paramref name="module"/>: every key of the module present, none extra, every shape
    /// equal, every tensor floating point and finite, or a <see cref="ModelFileException"/> listing all problems.
    /// The tensors are copied; the caller keeps them.
    /// </summary>
    public static void LoadInto(nn.Module module, IReadOnlyDictionary<string, Tensor> weights, string source)
    {
        var own = module.state_dict();
        // in the module's order (the first layers first), unexpected keys in the file's
        var missing = own.Keys.Where(k => !weights.ContainsKey(k)).ToList();
        var unexpected = weights.Keys.Where(k => !own.ContainsKey(k)).ToList();
        var shapes = own.Where(kv => weights.TryGetValue(kv.Key, out var w) && !w.shape.SequenceEqual(kv.Value.shape))
                        .Select(kv => $"{kv.Key} (file [{string.Join(",", weights[kv.Key].shape)}], model [{string.Join(",", kv.Value.shape)}])").ToList();
        if (missing.Count + unexpected.Count + shapes.Count > 0)
        {
            var sb = new StringBuilder($"{source}: weights do not fit the model");
            if (missing.Count > 0) sb.Append($"; missing {missing.Count}: ").AppendJoin(", ", missing.Take(20));
            if (unexpected.Count > 0) sb.Append($"; unexpected {unexpected.Count}: ").AppendJoin(", ", unexpected.Take(20));
            if (shapes.Count > 0) sb.Append($"; shape mismatch {shapes.Count}: ").AppendJoin(", ", shapes.Take(20));
            throw new ModelFileException(sb.ToString());
        }
        using var _ = no_grad();
        foreach (var (key, p) in own)
        {
            var w = weights[key];
            if (!w.is_floating_point()) throw new ModelFileException($"{source}: '{key}' is a {w.dtype} tensor, not floating point");
            using (var finite = w.isfinite().all())
                if (!finite.item<bool>()) throw new ModelFileException($"{source}: '{key}' holds NaN or infinite values");
            p.copy_(w);
        }
    }

    /// <summary>Builds a network and loads it; the network is disposed when loading fails.</summary>
    public static TNet Build<TNet>(Func<TNet> create, Action<TNet> load) where TNet : IDisposable
    {
        var net = create();
        try { load(net); return net; }
        catch { net.Dispose(); throw; }
    }
}
