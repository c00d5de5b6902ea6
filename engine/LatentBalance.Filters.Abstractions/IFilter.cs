namespace LatentBalance.Filters;

/// <summary>
/// A colour filter the engine daemon can run. Plug-ins implement it in their own assembly (with a public
/// parameterless constructor) and are discovered at run time; this assembly is shared with the host, so
/// plug-ins must not ship their own copy of it.
/// </summary>
public interface IFilter
{
    /// <summary>What the filter is and the parameters it takes (hosts build their dialogs from this).</summary>
    FilterDescription Description { get; }

    /// <summary>
    /// Runs the filter on one file. Parameters in <paramref name="job"/> are already checked against
    /// <see cref="Description"/> (typed, defaults applied, in range). Write outputs through the host
    /// (<see cref="IFilterHost.ApplyColorMapAsync"/>) or atomically yourself. Throw for failures
    /// (ArgumentException: bad parameter; IOException: file problem); honour the job's cancellation.
    /// </summary>
    Task RunAsync(FilterJob job, IFilterHost host);
}
