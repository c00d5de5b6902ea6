namespace LatentBalance.Filters;

/// <summary>A filter's identity and parameters.</summary>
public sealed record FilterDescription
{
    /// <summary>Stable id used on the wire, e.g. "grey-world" (lower case, dashes).</summary>
    public required string Id { get; init; }
    public required string Label { get; init; }
    public string Description { get; init; } = "";
    public IReadOnlyList<FilterParameter> Parameters { get; init; } = [];
}

/// <summary>Type of a filter parameter.</summary>
public enum FilterParameterKind
{
    Int,
    Double,
    Bool,
    String,
    /// <summary>An absolute file path ("" when optional and not given).</summary>
    Path,
}

/// <summary>
/// One parameter. <see cref="Default"/> is the value used when the caller gives none (null: required);
/// <see cref="Min"/>/<see cref="Max"/> bound numbers (null: unbounded).
/// </summary>
public sealed record FilterParameter
{
    public required string Name { get; init; }
    public required FilterParameterKind Kind { get; init; }
    public object? Default { get; init; }
    public double? Min { get; init; }
    public double? Max { get; init; }
    public string Description { get; init; } = "";

    public static FilterParameter Int(string name, int @default, int min, int max, string description) =>
        new() { Name = name, Kind = FilterParameterKind.Int, Default = @default, Min = min, Max = max, Description = description };

    public static FilterParameter Double(string name, double @default, double min, double max, string description) =>
        new() { Name = name, Kind = FilterParameterKind.Double, Default = @default, Min = min, Max = max, Description = description };

    public static FilterParameter Bool(string name, bool @default, string description) =>
        new() { Name = name, Kind = FilterParameterKind.Bool, Default = @default, Description = description };

    /// <summary>An optional path ("" when not given).</summary>
    public static FilterParameter OptionalPath(string name, string description) =>
        new() { Name = name, Kind = FilterParameterKind.Path, Default = "", Description = description };
}
