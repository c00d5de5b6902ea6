namespace LatentBalance.Engine.Imaging;

/// <summary>
/// A per-pixel colour transform applied to interleaved pixel rows in place. <c>bands</c> is 3 (RGB)
/// or 4 (RGBA); alpha is left untouched. Values are full-range for the type (0..255, 0..65535,
/// 0..1 for float). Implementations must be thread-safe: strips may be processed in parallel.
/// </summary>
public interface IPixelTransform
{
    void Apply(Span<byte> pixels, int bands);
    void Apply(Span<ushort> pixels, int bands);
    void Apply(Span<float> pixels, int bands);
}
