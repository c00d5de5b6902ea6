using System.Globalization;
using LatentBalance.Bridge.Contract;
using LatentBalance.Filters;

namespace LatentBalance.Daemon.Filters;

/// <summary>Translates between a filter's own description and the bridge contract (descriptors, parameter binding).</summary>
public static class FilterContract
{
    public static FilterDescriptor ToDescriptor(FilterDescription d) => new()
    {
        Id = d.Id,
        Label = d.Label,
        Description = d.Description,
        Parameters = d.Parameters.Select(p => new ParameterDescriptor
        {
            Name = p.Name,
            Type = p.Kind switch
            {
                FilterParameterKind.Int => ParameterType.Int,
                FilterParameterKind.Double => ParameterType.Double,
                FilterParameterKind.Bool => ParameterType.Bool,
                FilterParameterKind.Path => ParameterType.Path,
                _ => ParameterType.String,
            },
            Default = WireText(p.Default),
            Min = p.Min,
            Max = p.Max,
            Description = p.Description,
        }).ToArray(),
    };

    /// <summary>Checks wire text values against the filter (InvalidArgument on any problem) and types them.</summary>
    public static FilterParameters Bind(FilterDescription d, IReadOnlyDictionary<string, string>? values) =>
        new(ParameterBinder.Bind(ToDescriptor(d), values).Values);

    static string? WireText(object? value) => value switch
    {
        null => null,
        bool b => b ? "true" : "false",
        double x => x.ToString("R", CultureInfo.InvariantCulture),
        float x => x.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };
}
