namespace LatentBalance.Filters;

/// <summary>What the engine offers a filter while it runs.</summary>
public interface IFilterHost
{
    /// <summary>Reads an image (small, shrunk on load) and measures its colours.</summary>
    Task<ImageMeasurement> MeasureAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>
    /// Bakes <paramref name="map"/> into a 3D LUT and applies it to the whole image of <paramref name="job"/>
    /// at full resolution through the engine's LUT path (bit depth, ICC profile and metadata kept; written
    /// atomically) to <see cref="FilterJob.OutputPath"/>, and writes the LUT to <see cref="FilterJob.CubePath"/>
    /// when set. Either path may be null.
    /// </summary>
    Task ApplyColorMapAsync(FilterJob job, IColorMap map, string title);

    /// <summary>A service of the engine (e.g. its warm balance pipeline), or null when there is none of that type.</summary>
    object? GetService(Type serviceType);

    /// <summary>Writes a line to the engine's log, tagged with the filter.</summary>
    void Log(string message);
}

/// <summary>Generic <see cref="IFilterHost.GetService"/>.</summary>
public static class FilterHostExtensions
{
    public static T? GetService<T>(this IFilterHost host) where T : class => host.GetService(typeof(T)) as T;

    public static T GetRequiredService<T>(this IFilterHost host) where T : class =>
        host.GetService<T>() ?? throw new InvalidOperationException($"the engine offers no {typeof(T).Name}");
}
