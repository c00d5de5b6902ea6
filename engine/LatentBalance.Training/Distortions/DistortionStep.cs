using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LatentBalance.Training.Distortions;

/// <summary>
/// Serialisable description of one op: its name (e.g. <c>"white_balance"</c>), its numeric parameters and,
/// for LUT ops, the LUT's title.
/// </summary>
public sealed record DistortionStep(string Op, IReadOnlyDictionary<string, double> Parameters, string? Label = null)
{
    public double Get(string name) =>
        Parameters.TryGetValue(name, out var v)
            ? v
            : throw new ArgumentException($"distortion step '{Op}' is missing parameter '{name}' (has: {string.Join(", ", Parameters.Keys)})");

    public override string ToString()
    {
        var sb = new StringBuilder(Op).Append('(');
        bool first = true;
        if (Label != null) { sb.Append('\'').Append(Label).Append('\''); first = false; }
        foreach (var (k, v) in Parameters)
        {
            if (!first) sb.Append(", ");
            sb.Append(k).Append('=').Append(v.ToString("0.####", CultureInfo.InvariantCulture));
            first = false;
        }
        return sb.Append(')').ToString();
    }
}

/// <summary>
/// A sampled distortion: the seed it came from and the ops in the order they are applied. Round-trips
/// through JSON (<see cref="ToJson"/>/<see cref="FromJson"/>); <see cref="ToString"/> is one log line.
/// </summary>
public sealed record DistortionRecipe(int Seed, IReadOnlyList<DistortionStep> Steps)
{
    static readonly JsonSerializerOptions Json = new() { WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public override string ToString() =>
        $"seed {Seed}: " + (Steps.Count == 0 ? "identity" : string.Join(" -> ", Steps.Select(s => s.ToString())));

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static DistortionRecipe FromJson(string json)
    {
        DistortionRecipe? r;
        try { r = JsonSerializer.Deserialize<DistortionRecipe>(json, Json); }
        catch (JsonException e) { throw new FormatException("distortion recipe JSON is malformed: " + e.Message, e); }
        if (r?.Steps == null) throw new FormatException("distortion recipe JSON has no 'Steps' list");
        foreach (var s in r.Steps)
            if (string.IsNullOrEmpty(s.Op) || s.Parameters == null)
                throw new FormatException("distortion recipe JSON has a step without 'Op' or 'Parameters'");
        return r;
    }

    /// <summary>Structural equality on ops, labels and parameter values (records compare lists by reference).</summary>
    public bool SameAs(DistortionRecipe other) =>
        Seed == other.Seed && Steps.Count == other.Steps.Count &&
        Steps.Zip(other.Steps).All(p => p.First.Op == p.Second.Op && p.First.Label == p.Second.Label &&
            p.First.Parameters.Count == p.Second.Parameters.Count &&
            p.First.Parameters.All(kv => p.Second.Parameters.TryGetValue(kv.Key, out var v) && v == kv.Value));
}
