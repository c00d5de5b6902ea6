namespace LatentBalance.Filters;

/// <summary>
/// A colour map on the sRGB-encoded working space: RGB in 0..1 to RGB (clamped to 0..1 by the host).
/// Must be pure and thread-safe: the host samples it on a grid.
/// </summary>
public interface IColorMap
{
    (float R, float G, float B) Map(float r, float g, float b);
}

/// <summary>An <see cref="IColorMap"/> from a function.</summary>
public sealed class FuncColorMap(Func<float, float, float, (float R, float G, float B)> map) : IColorMap
{
    public (float R, float G, float B) Map(float r, float g, float b) => map(r, g, b);
}
