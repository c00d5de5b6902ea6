using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using LatentBalance.Engine.Imaging;

namespace LatentBalance.Engine.Color;

/// <summary>How a <see cref="LutTransform"/> interpolates between LUT grid points.</summary>
public enum LutInterpolation
{
    /// <summary>8 grid points per pixel; matches <c>grid_sample</c> (trilinear, align_corners) and so
    /// <see cref="LutTransform.ApplyToTensor"/>. The default.</summary>
    Trilinear,

    /// <summary>4 grid points per pixel (as in DaVinci Resolve); keeps the grey axis exactly on the
    /// LUT's grey diagonal. Differs from trilinear by well under one grid step's curvature.</summary>
    Tetrahedral,
}

/// <summary>
/// Applies a <see cref="Lut3D"/> with a blend <c>strength</c>: out = in + strength * (lut(in) - in).
/// Inputs are mapped from [DomainMin, DomainMax] onto the grid and clamped to it; alpha (band 4) is
/// left untouched. Byte and ushort outputs are rounded and clamped to the type's range; float output
/// is not clamped (LUTs may produce slightly negative values).
/// <para>Built once (precomputes the LUT as a padded float table pre-multiplied by strength, and the
/// per-value grid positions for 8-bit), then immutable: <see cref="Apply(Span{byte}, int)"/> is
/// single-threaded and safe to call from several threads on different strips at once.</para>
/// </summary>
public sealed unsafe partial class LutTransform : IPixelTransform
{
    readonly float[] _table;   // n^3 entries of 4 floats (r, g, b, 0), = strength * lut value
    readonly int _n;
    readonly int _strideG, _strideB; // in floats
    readonly float _keep;      // 1 - strength
    readonly float _maxIndex;  // n - 1
    readonly float[] _scale = new float[3], _offset = new float[3]; // grid x = v01 * scale + offset
    readonly int[] _byteOffset = new int[3 * 256];    // per channel, per byte value: floats offset of the lower grid point
    readonly float[] _byteFrac = new float[3 * 256];  // and the fraction towards the upper one

    public LutTransform(Lut3D lut, float strength = 1f, LutInterpolation interpolation = LutInterpolation.Trilinear)
    {
        ArgumentNullException.ThrowIfNull(lut);
        if (!(strength >= 0f && strength <= 1f)) throw new ArgumentOutOfRangeException(nameof(strength), $"LUT strength {strength} is outside [0, 1]");
        Lut = lut;
        Strength = strength;
        Interpolation = interpolation;
        _n = lut.Size;
        _strideG = _n * 4;
        _strideB = _n * _n * 4;
        _keep = 1f - strength;
        _maxIndex = _n - 1;

        var src = lut.Data;
        _table = new float[_n * _n * _n * 4];
        for (int i = 0, j = 0; i < src.Length; i += 3, j += 4)
        {
            _table[j] = strength * src[i];
            _table[j + 1] = strength * src[i + 1];
            _table[j + 2] = strength * src[i + 2];
        }

        int[] strides = [4, _strideG, _strideB];
        for (int c = 0; c < 3; c++)
        {
            float lo = lut.DomainMin[c], hi = lut.DomainMax[c];
            if (!(hi > lo)) throw new ArgumentException($"LUT '{lut.Title}' has an empty domain for channel {"RGB"[c]}: [{lo}, {hi}]", nameof(lut));
            _scale[c] = _maxIndex / (hi - lo);
            _offset[c] = -lo * _scale[c];
            for (int v = 0; v < 256; v++)
            {
                GridPos(v / 255f * _scale[c] + _offset[c], out int i0, out float f);
                _byteOffset[c * 256 + v] = i0 * strides[c];
                _byteFrac[c * 256 + v] = f;
            }
        }
    }

    public Lut3D Lut { get; }
    public float Strength { get; }
    public LutInterpolation Interpolation { get; }

    /// <summary>Clamps grid coordinate x to [0, n-1] (NaN to 0) and splits it into a cell index (at
    /// most n-2) and a fraction in [0, 1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void GridPos(float x, out int i0, out float f)
    {
        x = x > 0f ? (x < _maxIndex ? x : _maxIndex) : 0f;
        i0 = (int)x;
        if (i0 > _n - 2) i0 = _n - 2;
        f = x - i0;
    }

    static void CheckArgs(int length, int bands)
    {
        if (bands != 3 && bands != 4) throw new ArgumentOutOfRangeException(nameof(bands), $"LUT transform needs 3 (RGB) or 4 (RGBA) bands, got {bands}");
        if (length % bands != 0) throw new ArgumentException($"pixel span length {length} is not a multiple of {bands} bands");
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop called few times: skip tier-0/OSR
    public void Apply(Span<byte> pixels, int bands)
    {
        CheckArgs(pixels.Length, bands);
        int count = pixels.Length / bands;
        var keep = Vector128.Create(_keep);
        var outScale = Vector128.Create(255f);
        var half = Vector128.Create(0.5f);
        var zero = Vector128<float>.Zero;
        var top = Vector128.Create(255f);
        bool tetra = Interpolation == LutInterpolation.Tetrahedral;
        fixed (byte* px0 = pixels)
        fixed (float* t = _table)
        fixed (int* offs = _byteOffset)
        fixed (float* fracs = _byteFrac)
        {
            byte* px = px0;
            for (int i = 0; i < count; i++, px += bands)
            {
                int r = px[0], g = px[1], b = px[2];
                int off = offs[r] + offs[256 + g] + offs[512 + b];
                float fr = fracs[r], fg = fracs[256 + g], fb = fracs[512 + b];
                var v = tetra ? Tetrahedral(t + off, fr, fg, fb) : Trilinear(t + off, fr, fg, fb);
                var input = Vector128.Create((float)r, g, b, 0f);
                var o = Vector128.Min(Vector128.Max(input * keep + v * outScale + half, zero), top);
                var oi = Vector128.ConvertToInt32(o);
                px[0] = (byte)oi.GetElement(0);
                px[1] = (byte)oi.GetElement(1);
                px[2] = (byte)oi.GetElement(2);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop called few times: skip tier-0/OSR
    public void Apply(Span<ushort> pixels, int bands)
    {
        CheckArgs(pixels.Length, bands);
        int count = pixels.Length / bands;
        var keep = Vector128.Create(_keep);
        var outScale = Vector128.Create(65535f);
        var half = Vector128.Create(0.5f);
        var zero = Vector128<float>.Zero;
        var top = Vector128.Create(65535f);
        const float inv = 1f / 65535f;
        float sr = _scale[0] * inv, sg = _scale[1] * inv, sb = _scale[2] * inv;
        float or = _offset[0], og = _offset[1], ob = _offset[2];
        bool tetra = Interpolation == LutInterpolation.Tetrahedral;
        fixed (ushort* px0 = pixels)
        fixed (float* t = _table)
        {
            ushort* px = px0;
            for (int i = 0; i < count; i++, px += bands)
            {
                float r = px[0], g = px[1], b = px[2];
                GridPos(r * sr + or, out int ir, out float fr);
                GridPos(g * sg + og, out int ig, out float fg);
                GridPos(b * sb + ob, out int ib, out float fb);
                float* p = t + ir * 4 + ig * _strideG + ib * _strideB;
                var v = tetra ? Tetrahedral(p, fr, fg, fb) : Trilinear(p, fr, fg, fb);
                var input = Vector128.Create(r, g, b, 0f);
                var o = Vector128.Min(Vector128.Max(input * keep + v * outScale + half, zero), top);
                var oi = Vector128.ConvertToInt32(o);
                px[0] = (ushort)oi.GetElement(0);
                px[1] = (ushort)oi.GetElement(1);
                px[2] = (ushort)oi.GetElement(2);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop called few times: skip tier-0/OSR
    public void Apply(Span<float> pixels, int bands)
    {
        CheckArgs(pixels.Length, bands);
        int count = pixels.Length / bands;
        var keep = Vector128.Create(_keep);
        float sr = _scale[0], sg = _scale[1], sb = _scale[2];
        float or = _offset[0], og = _offset[1], ob = _offset[2];
        bool full = _keep == 0f;
        bool tetra = Interpolation == LutInterpolation.Tetrahedral;
        fixed (float* px0 = pixels)
        fixed (float* t = _table)
        {
            float* px = px0;
            for (int i = 0; i < count; i++, px += bands)
            {
                float r = px[0], g = px[1], b = px[2];
                GridPos(r * sr + or, out int ir, out float fr);
                GridPos(g * sg + og, out int ig, out float fg);
                GridPos(b * sb + ob, out int ib, out float fb);
                float* p = t + ir * 4 + ig * _strideG + ib * _strideB;
                var v = tetra ? Tetrahedral(p, fr, fg, fb) : Trilinear(p, fr, fg, fb);
                var o = full ? v : Vector128.Create(r, g, b, 0f) * keep + v; // full: NaN input must not leak through 0 * NaN
                px[0] = o.GetElement(0);
                px[1] = o.GetElement(1);
                px[2] = o.GetElement(2);
            }
        }
    }

    /// <summary>Applies the transform to one normalised colour (for tests and single-colour callers).</summary>
    public (float R, float G, float B) Map(float r, float g, float b)
    {
        Span<float> px = [r, g, b];
        Apply(px, 3);
        return (px[0], px[1], px[2]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    Vector128<float> Trilinear(float* p, float fr, float fg, float fb)
    {
        int sG = _strideG, sB = _strideB;
        var vr = Vector128.Create(fr);
        var c000 = Vector128.Load(p);
        var c100 = Vector128.Load(p + 4);
        var c010 = Vector128.Load(p + sG);
        var c110 = Vector128.Load(p + sG + 4);
        var c001 = Vector128.Load(p + sB);
        var c101 = Vector128.Load(p + sB + 4);
        var c011 = Vector128.Load(p + sB + sG);
        var c111 = Vector128.Load(p + sB + sG + 4);
        var c00 = c000 + (c100 - c000) * vr;
        var c10 = c010 + (c110 - c010) * vr;
        var c01 = c001 + (c101 - c001) * vr;
        var c11 = c011 + (c111 - c011) * vr;
        var vg = Vector128.Create(fg);
        var c0 = c00 + (c10 - c00) * vg;
        var c1 = c01 + (c11 - c01) * vg;
        return c0 + (c1 - c0) * Vector128.Create(fb);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    Vector128<float> Tetrahedral(float* p, float fr, float fg, float fb)
    {
        int sG = _strideG, sB = _strideB;
        var c000 = Vector128.Load(p);
        var c111 = Vector128.Load(p + sB + sG + 4);
        // Walk from c000 to c111 along the edges in order of decreasing fraction.
        float w0, w1, w2, w3;
        Vector128<float> a, b;
        if (fr > fg)
        {
            if (fg > fb) { a = Vector128.Load(p + 4); b = Vector128.Load(p + sG + 4); w0 = 1 - fr; w1 = fr - fg; w2 = fg - fb; w3 = fb; }
            else if (fr > fb) { a = Vector128.Load(p + 4); b = Vector128.Load(p + sB + 4); w0 = 1 - fr; w1 = fr - fb; w2 = fb - fg; w3 = fg; }
            else { a = Vector128.Load(p + sB); b = Vector128.Load(p + sB + 4); w0 = 1 - fb; w1 = fb - fr; w2 = fr - fg; w3 = fg; }
        }
        else
        {
            if (fb > fg) { a = Vector128.Load(p + sB); b = Vector128.Load(p + sB + sG); w0 = 1 - fb; w1 = fb - fg; w2 = fg - fr; w3 = fr; }
            else if (fb > fr) { a = Vector128.Load(p + sG); b = Vector128.Load(p + sB + sG); w0 = 1 - fg; w1 = fg - fb; w2 = fb - fr; w3 = fr; }
            else { a = Vector128.Load(p + sG); b = Vector128.Load(p + sG + 4); w0 = 1 - fg; w1 = fg - fr; w2 = fr - fb; w3 = fb; }
        }
        return c000 * Vector128.Create(w0) + a * Vector128.Create(w1) + b * Vector128.Create(w2) + c111 * Vector128.Create(w3);
    }
}
