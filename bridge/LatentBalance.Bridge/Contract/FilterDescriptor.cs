namespace LatentBalance.Bridge.Contract;

/// <summary>One filter. D-Bus struct (s id, s label, s description, a(ssbssss) parameters).</summary>
public sealed record FilterDescriptor
{
    public string Id { get; init; } = "";
    public string Label { get; init; } = "";
    public string Description { get; init; } = "";
    public IReadOnlyList<ParameterDescriptor> Parameters { get; init; } = [];
}

/// <summary>
/// One filter parameter. D-Bus struct (s name, s type, b required, s default, s min, s max, s description):
/// required = (Default is null); min/max/default are invariant-culture text, "" min/max means unbounded. Values travel as text in a{ss}; see <see cref="ParameterBinder"/>.
/// </summary>
public sealed record ParameterDescriptor
{
    public string Name { get; init; } = "";
    public ParameterType Type { get; init; } = ParameterType.String;
    /// <summary>Default in wire text form (e.g. "0.5", "true"), or null when the parameter is required.</summary>
    public string? Default { get; init; }
    public double? Min { get; init; }
    public double? Max { get; init; }
    public string Description { get; init; } = "";
}
