using System.Globalization;

namespace LatentBalance.Bridge.Contract;

/// <summary>Filter parameters after checking them against a <see cref="FilterDescriptor"/>: typed, defaults applied.</summary>
public sealed class BoundParameters
{
    private readonly IReadOnlyDictionary<string, object> _values;

    internal BoundParameters(string filterId, IReadOnlyDictionary<string, object> values)
    {
        FilterId = filterId;
        _values = values;
    }

    public string FilterId { get; }
    public IReadOnlyDictionary<string, object> Values => _values;

    public int GetInt(string name) => (int)Get(name);
    public double GetDouble(string name) => Get(name) is int i ? i : (double)Get(name);
    public bool GetBool(string name) => (bool)Get(name);
    public string GetString(string name) => (string)Get(name);
    public bool Has(string name) => _values.ContainsKey(name);

    private object Get(string name) => _values.TryGetValue(name, out var v)
        ? v
        : throw new KeyNotFoundException($"filter '{FilterId}' has no value for parameter '{name}'");
}

/// <summary>
/// Parses wire text parameters (a{ss} / JSON object of strings) against a filter's descriptors:
/// unknown names, unparsable values, out-of-range numbers and missing required values are InvalidArgument.
/// Text forms (invariant culture): int "12", double "0.5", bool "true"/"false"/"1"/"0", string/path as is (path must be absolute).
/// </summary>
public static class ParameterBinder
{
    public static BoundParameters Bind(FilterDescriptor filter, IReadOnlyDictionary<string, string>? values)
    {
        ArgumentNullException.ThrowIfNull(filter);
        values ??= new Dictionary<string, string>();
        var byName = filter.Parameters.ToDictionary(p => p.Name, StringComparer.Ordinal);
        foreach (var key in values.Keys)
            if (!byName.ContainsKey(key))
                throw new BridgeException(BridgeErrorCode.InvalidArgument,
                    $"unknown parameter '{key}' for filter '{filter.Id}' (known: {string.Join(", ", byName.Keys)})");

        var bound = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var p in filter.Parameters)
        {
            string? text = values.TryGetValue(p.Name, out var given) ? given : p.Default;
            if (text is null)
                throw new BridgeException(BridgeErrorCode.InvalidArgument, $"parameter '{p.Name}' of filter '{filter.Id}' is required");
            bound[p.Name] = Parse(filter.Id, p, text);
        }
        return new BoundParameters(filter.Id, bound);
    }

    public static object Parse(string filterId, ParameterDescriptor p, string text)
    {
        var inv = CultureInfo.InvariantCulture;
        string where = $"parameter '{p.Name}' of filter '{filterId}'";
        switch (p.Type)
        {
            case ParameterType.Int:
                if (!int.TryParse(text.Trim(), NumberStyles.Integer, inv, out int i))
                    throw Invalid($"{where} must be an integer, got '{text}'");
                CheckRange(where, p, i);
                return i;
            case ParameterType.Double:
                if (!double.TryParse(text.Trim(), NumberStyles.Float, inv, out double d) || !double.IsFinite(d))
                    throw Invalid($"{where} must be a finite number, got '{text}'");
                CheckRange(where, p, d);
                return d;
            case ParameterType.Bool:
                return text.Trim().ToLowerInvariant() switch
                {
                    "true" or "1" or "yes" => true,
                    "false" or "0" or "no" => false,
                    _ => throw Invalid($"{where} must be true or false, got '{text}'"),
                };
            case ParameterType.Path:
                if (text.Length > 0 && !Path.IsPathFullyQualified(text))
                    throw Invalid($"{where} must be an absolute path, got '{text}'");
                return text;
            default:
                return text;
        }
    }

    private static void CheckRange(string where, ParameterDescriptor p, double value)
    {
        if (p.Min is double min && value < min) throw Invalid($"{where} must be >= {min.ToString(CultureInfo.InvariantCulture)}, got {value.ToString(CultureInfo.InvariantCulture)}");
        if (p.Max is double max && value > max) throw Invalid($"{where} must be <= {max.ToString(CultureInfo.InvariantCulture)}, got {value.ToString(CultureInfo.InvariantCulture)}");
    }

    private static BridgeException Invalid(string message) => new(BridgeErrorCode.InvalidArgument, message);
}
