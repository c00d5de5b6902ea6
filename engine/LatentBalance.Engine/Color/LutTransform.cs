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
    /// LUT's grey diagonal. Differs from trilinear by well under one grid step's curvature. Not the
    /// default: the tensor path has no equivalent, and here it measured ~30% slower for 8-bit
    /// (the 8 trilinear loads mostly share cache lines; tetrahedral's setup costs more).</summary>
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
        if (float.IsNaN(x)) x = 0f; // predictable branch; min/max below are the native (non-IEEE) forms
        x = MinF(MaxF(x, 0f), _maxIndex);
        i0 = (int)x;
        if (i0 > _n - 2) i0 = _n - 2;
        f = x - i0;
    }

    // Single-instruction min/max (minss/maxss). Math.Min/Max and Vector128.Min/Max carry IEEE NaN/-0
    // handling that costs several instructions or a data-dependent branch in the hot loop.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float MinF(float a, float b) => Vector128.MinNative(Vector128.CreateScalarUnsafe(a), Vector128.CreateScalarUnsafe(b)).ToScalar();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float MaxF(float a, float b) => Vector128.MaxNative(Vector128.CreateScalarUnsafe(a), Vector128.CreateScalarUnsafe(b)).ToScalar();

    static void CheckArgs(int length, int bands)
    {
        if (bands != 3 && bands != 4) throw new ArgumentOutOfRangeException(nameof(bands), $"LUT transform needs 3 (RGB) or 4 (RGBA) bands, got {bands}");
        if (length % bands != 0) throw new ArgumentException($"pixel span length {length} is not a multiple of {bands} bands");
    }

    public void Apply(Span<byte> pixels, int bands)
    {
        CheckArgs(pixels.Length, bands);
        if (Interpolation == LutInterpolation.Tetrahedral) ApplyBytes<TetrahedralKernel>(pixels, bands);
        else ApplyBytes<TrilinearKernel>(pixels, bands);
    }

    // One specialised loop per kernel (struct generic), so the kernel is inlined and the JIT keeps
    // everything in registers; AggressiveOptimization skips tier-0/OSR for these few-call hot loops.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void ApplyBytes<TKernel>(Span<byte> pixels, int bands) where TKernel : struct, IKernel
    {
        int count = pixels.Length / bands;
        var keep = Vector128.Create(_keep);
        var outScale = Vector128.Create(255f);
        var half = Vector128.Create(0.5f);
        var zero = Vector128<float>.Zero;
        var top = Vector128.Create(255f);
        int sG = _strideG, sB = _strideB;
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
                var v = TKernel.Sample(t + off, sG, sB, fr, fg, fb);
                var input = Vector128.Create((float)r, g, b, 0f);
                var o = Vector128.MinNative(Vector128.MaxNative(input * keep + v * outScale + half, zero), top);
                var oi = Vector128.ConvertToInt32Native(o); // o is already in range: no saturation needed
                px[0] = (byte)oi.GetElement(0);
                px[1] = (byte)oi.GetElement(1);
                px[2] = (byte)oi.GetElement(2);
            }
        }
    }

    public void Apply(Span<ushort> pixels, int bands)
    {
        CheckArgs(pixels.Length, bands);
        if (Interpolation == LutInterpolation.Tetrahedral) ApplyUShorts<TetrahedralKernel>(pixels, bands);
        else ApplyUShorts<TrilinearKernel>(pixels, bands);
    }

    // One specialised loop per kernel (struct generic), so the kernel is inlined and the JIT keeps
    // everything in registers; AggressiveOptimization skips tier-0/OSR for these few-call hot loops.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void ApplyUShorts<TKernel>(Span<ushort> pixels, int bands) where TKernel : struct, IKernel
    {
        int count = pixels.Length / bands;
        var keep = Vector128.Create(_keep);
        var outScale = Vector128.Create(65535f);
        var half = Vector128.Create(0.5f);
        var zero = Vector128<float>.Zero;
        var top = Vector128.Create(65535f);
        const float inv = 1f / 65535f;
        var scale = Vector128.Create(_scale[0] * inv, _scale[1] * inv, _scale[2] * inv, 0f);
        var offset = Vector128.Create(_offset[0], _offset[1], _offset[2], 0f);
        var grid = new GridMapper(_maxIndex, _strideG, _strideB);
        int sG = _strideG, sB = _strideB;
        fixed (ushort* px0 = pixels)
        fixed (float* t = _table)
        {
            ushort* px = px0;
            for (int i = 0; i < count; i++, px += bands)
            {
                var input = Vector128.Create((float)px[0], px[1], px[2], 0f);
                int off = grid.Map(input * scale + offset, out var f);
                var v = TKernel.Sample(t + off, sG, sB, f.GetElement(0), f.GetElement(1), f.GetElement(2));
                var o = Vector128.MinNative(Vector128.MaxNative(input * keep + v * outScale + half, zero), top);
                var oi = Vector128.ConvertToInt32Native(o); // o is already in range: no saturation needed
                px[0] = (ushort)oi.GetElement(0);
                px[1] = (ushort)oi.GetElement(1);
                px[2] = (ushort)oi.GetElement(2);
            }
        }
    }

    public void Apply(Span<float> pixels, int bands)
    {
        CheckArgs(pixels.Length, bands);
        if (Interpolation == LutInterpolation.Tetrahedral) ApplyFloats<TetrahedralKernel>(pixels, bands);
        else ApplyFloats<TrilinearKernel>(pixels, bands);
    }

    // One specialised loop per kernel (struct generic), so the kernel is inlined and the JIT keeps
    // everything in registers; AggressiveOptimization skips tier-0/OSR for these few-call hot loops.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void ApplyFloats<TKernel>(Span<float> pixels, int bands) where TKernel : struct, IKernel
    {
        int count = pixels.Length / bands;
        var keep = Vector128.Create(_keep);
        var scale = Vector128.Create(_scale[0], _scale[1], _scale[2], 0f);
        var offset = Vector128.Create(_offset[0], _offset[1], _offset[2], 0f);
        var grid = new GridMapper(_maxIndex, _strideG, _strideB);
        bool full = _keep == 0f;
        int sG = _strideG, sB = _strideB;
        fixed (float* px0 = pixels)
        fixed (float* t = _table)
        {
            float* px = px0;
            for (int i = 0; i < count; i++, px += bands)
            {
                var input = Vector128.Create(px[0], px[1], px[2], 0f);
                int off = grid.Map(input * scale + offset, out var f);
                var v = TKernel.Sample(t + off, sG, sB, f.GetElement(0), f.GetElement(1), f.GetElement(2));
                var o = full ? v : input * keep + v; // full: NaN input must not leak through 0 * NaN
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

    /// <summary>Vectorised <see cref="GridPos"/> for r, g, b at once: clamps grid coordinates to
    /// [0, n-1] (NaN to 0), returns the floats offset of the cell's lower corner and the fractions.</summary>
    readonly struct GridMapper(float maxIndex, int strideG, int strideB)
    {
        readonly Vector128<float> _max = Vector128.Create(maxIndex);
        readonly Vector128<int> _maxCell = Vector128.Create((int)maxIndex - 1);
        readonly Vector128<int> _strides = Vector128.Create(4, strideG, strideB, 0);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Map(Vector128<float> x, out Vector128<float> frac)
        {
            x &= Vector128.Equals(x, x); // NaN lanes -> 0
            x = Vector128.MinNative(Vector128.MaxNative(x, Vector128<float>.Zero), _max);
            var cell = Vector128.Min(Vector128.ConvertToInt32Native(x), _maxCell);
            frac = x - Vector128.ConvertToSingle(cell);
            return Vector128.Sum(cell * _strides);
        }
    }

    interface IKernel
    {
        /// <summary>Interpolated (r, g, b, 0) in the cell whose lower corner is at p; strides in floats.</summary>
        static abstract Vector128<float> Sample(float* p, int sG, int sB, float fr, float fg, float fb);
    }

    struct TrilinearKernel : IKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Sample(float* p, int sG, int sB, float fr, float fg, float fb)
        {
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
    }

    struct TetrahedralKernel : IKernel
    {
        /// <summary>
        /// Tetrahedral interpolation without data-dependent branches (random pixels made a branchy
        /// version 3x slower): the path from c000 to c111 first steps along the axis with the largest
        /// fraction, then the middle one. Weights: 1-max, max-mid, mid-min, min.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Sample(float* p, int sG, int sB, float fr, float fg, float fb)
        {
            int rg = fr > fg ? 1 : 0, rb = fr > fb ? 1 : 0, gb = fg > fb ? 1 : 0;
            int rMax = rg & rb, gMax = (rg ^ 1) & gb, bMax = 1 - rMax - gMax;
            int rMin = (rg | rb) ^ 1, gMin = rg & (gb ^ 1), bMin = 1 - rMin - gMin;
            int offFirst = rMax * 4 + gMax * sG + bMax * sB;
            int offSecond = 4 + sG + sB - (rMin * 4 + gMin * sG + bMin * sB);
            float hi = MaxF(MaxF(fr, fg), fb), lo = MinF(MinF(fr, fg), fb);
            float mid = fr + fg + fb - hi - lo;
            var c000 = Vector128.Load(p);
            var c1 = Vector128.Load(p + offFirst);
            var c2 = Vector128.Load(p + offSecond);
            var c111 = Vector128.Load(p + sB + sG + 4);
            return c000 * Vector128.Create(1 - hi) + c1 * Vector128.Create(hi - mid) + c2 * Vector128.Create(mid - lo) + c111 * Vector128.Create(lo);
        }
    }
}
