namespace LatentBalance.Filters;

/// <summary>Checked, typed parameter values of one job (every declared parameter has a value).</summary>
public sealed class FilterParameters
{
    private readonly IReadOnlyDictionary<string, object> _values;

    public FilterParameters(IReadOnlyDictionary<string, object> values) => _values = values ?? throw new ArgumentNullException(nameof(values));

    public IReadOnlyDictionary<string, object> Values => _values;

    public int GetInt(string name) => Get<int>(name);
    public bool GetBool(string name) => Get<bool>(name);
    public string GetString(string name) => Get<string>(name);

    /// <summary>The value as a double (ints widen).</summary>
    public double GetDouble(string name) => _values.TryGetValue(name, out var v) && v is int i ? i : Get<double>(name);

    /// <summary>A path parameter, or null when it was left empty.</summary>
    public string? GetPath(string name) => Get<string>(name) is { Length: > 0 } p ? p : null;

    private T Get<T>(string name)
    {
        if (!_values.TryGetValue(name, out var v)) throw new KeyNotFoundException($"no value for filter parameter '{name}'");
        return v is T t ? t : throw new InvalidCastException($"filter parameter '{name}' is a {v?.GetType().Name ?? "null"}, not a {typeof(T).Name}");
    }
}
