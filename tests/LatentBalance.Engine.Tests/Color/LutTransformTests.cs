using LatentBalance.Engine.Color;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Color;

public class LutTransformTests
{
    /// <summary>A smooth non-linear colour map used to check interpolation accuracy.</summary>
    static (float, float, float) F(double r, double g, double b) => (
        (float)(0.5 + 0.4 * Math.Sin(1.3 * r + 0.4 * g) * Math.Cos(0.7 * b)),
        (float)(0.2 + 0.6 * g * g * (0.8 + 0.2 * r)),
        (float)(0.1 + 0.8 * Math.Sqrt(0.2 + b) / Math.Sqrt(1.2) * (1 - 0.1 * g)));

    /// <summary>LUT of size n sampling <paramref name="f"/> over the given domain.</summary>
    static Lut3D Sample(int n, Func<double, double, double, (float, float, float)> f, float[]? dmin = null, float[]? dmax = null)
    {
        dmin ??= [0f, 0f, 0f]; dmax ??= [1f, 1f, 1f];
        var d = new float[n * n * n * 3];
        int i = 0;
        for (int b = 0; b < n; b++)
            for (int g = 0; g < n; g++)
                for (int r = 0; r < n; r++)
                {
                    var (x, y, z) = f(dmin[0] + (dmax[0] - dmin[0]) * r / (n - 1.0), dmin[1] + (dmax[1] - dmin[1]) * g / (n - 1.0), dmin[2] + (dmax[2] - dmin[2]) * b / (n - 1.0));
                    d[i++] = x; d[i++] = y; d[i++] = z;
                }
        return new Lut3D(n, d) { DomainMin = dmin, DomainMax = dmax };
    }

    public static TheoryData<LutInterpolation> Modes => [LutInterpolation.Trilinear, LutInterpolation.Tetrahedral];

    [Theory]
    [MemberData(nameof(Modes))]
    public void IdentityIsExactForEveryByteColour(LutInterpolation mode)
    {
        var t = new LutTransform(Lut3D.Identity(33), 1f, mode);
        var px = new byte[256 * 256 * 3];
        for (int b = 0; b < 256; b += 5) // 52 blue planes x all (r, g)
        {
            int i = 0;
            for (int g = 0; g < 256; g++)
                for (int r = 0; r < 256; r++) { px[i++] = (byte)r; px[i++] = (byte)g; px[i++] = (byte)b; }
            t.Apply(px, 3);
            i = 0;
            for (int g = 0; g < 256; g++)
                for (int r = 0; r < 256; r++, i += 3)
                    if (px[i] != r || px[i + 1] != g || px[i + 2] != b)
                        Assert.Fail($"({r},{g},{b}) -> ({px[i]},{px[i + 1]},{px[i + 2]})");
        }
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void IdentityWithinOneLsbForUshortAndFloat(LutInterpolation mode)
    {
        var t = new LutTransform(Lut3D.Identity(17), 1f, mode);
        var rnd = new Random(5);
        var u = new ushort[300_000];
        for (int i = 0; i < u.Length; i++) u[i] = (ushort)rnd.Next(65536);
        u[0] = 0; u[1] = 65535; u[2] = 65535; u[3] = 1;
        var u0 = (ushort[])u.Clone();
        t.Apply(u, 3);
        for (int i = 0; i < u.Length; i++) Assert.True(Math.Abs(u[i] - u0[i]) <= 1, $"{u0[i]} -> {u[i]}");
        Assert.Equal(65535, u[1]);
        Assert.Equal(0, u[0]);

        var f = new float[300_000];
        for (int i = 0; i < f.Length; i++) f[i] = (float)rnd.NextDouble();
        f[0] = 0; f[1] = 1;
        var f0 = (float[])f.Clone();
        t.Apply(f, 3);
        for (int i = 0; i < f.Length; i++) Assert.True(Math.Abs(f[i] - f0[i]) <= 1e-6f, $"{f0[i]} -> {f[i]}");
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void SmoothFunctionIsReproducedBetweenGridPoints(LutInterpolation mode)
    {
        var lut = Sample(33, F);
        var t = new LutTransform(lut, 1f, mode);
        var rnd = new Random(7);
        double maxErr = 0;
        for (int k = 0; k < 20000; k++)
        {
            float r = (float)rnd.NextDouble(), g = (float)rnd.NextDouble(), b = (float)rnd.NextDouble();
            var (er, eg, eb) = F(r, g, b);
            var (or, og, ob) = t.Map(r, g, b);
            maxErr = Math.Max(maxErr, Math.Max(Math.Abs(or - er), Math.Max(Math.Abs(og - eg), Math.Abs(ob - eb))));
        }
        Assert.True(maxErr < 5e-4, $"max error {maxErr}");
        // and a coarse LUT is visibly worse, so the check has teeth
        var coarse = new LutTransform(Sample(3, F), 1f, mode);
        var (cr, _, _) = coarse.Map(0.3f, 0.7f, 0.45f);
        Assert.True(Math.Abs(cr - F(0.3, 0.7, 0.45).Item1) > 1e-3);

        // 8-bit within 1 LSB of the rounded function
        var px = new byte[3000];
        for (int i = 0; i < px.Length; i++) px[i] = (byte)rnd.Next(256);
        var src = (byte[])px.Clone();
        t.Apply(px, 3);
        for (int i = 0; i < px.Length; i += 3)
        {
            var (er, eg, eb) = F(src[i] / 255.0, src[i + 1] / 255.0, src[i + 2] / 255.0);
            Assert.True(Math.Abs(px[i] - er * 255) <= 1 && Math.Abs(px[i + 1] - eg * 255) <= 1 && Math.Abs(px[i + 2] - eb * 255) <= 1);
        }
    }

    [Fact]
    public void GridPointsAreHitExactly()
    {
        var lut = CubeFile.Read(Path.Combine(TestPaths.ArtisticLuts, "LUT_BROWN__Era.cube"));
        var t = new LutTransform(lut);
        int n = lut.Size;
        foreach (var (r, g, b) in new[] { (0, 0, 0), (n - 1, n - 1, n - 1), (3, 17, 29), (n - 1, 0, 5) })
        {
            var (or, og, ob) = t.Map(r / (n - 1f), g / (n - 1f), b / (n - 1f));
            int i = lut.Index(r, g, b);
            Assert.Equal(lut.Data[i], or, 5); Assert.Equal(lut.Data[i + 1], og, 5); Assert.Equal(lut.Data[i + 2], ob, 5);
        }
    }

    [Fact]
    public void DomainIsRespectedAndInputsOutsideAreClamped()
    {
        float[] lo = [0.2f, 0.1f, 0f], hi = [0.6f, 0.9f, 0.5f];
        var lut = Sample(17, F, lo, hi);
        var t = new LutTransform(lut);
        var (r, g, b) = t.Map(0.4f, 0.5f, 0.25f);
        var e = F(0.4, 0.5, 0.25);
        Assert.Equal(e.Item1, r, 3); Assert.Equal(e.Item2, g, 3); Assert.Equal(e.Item3, b, 3);
        // outside: clamped to the domain edge
        (r, g, b) = t.Map(0.9f, -0.3f, 0.8f);
        e = F(0.6, 0.1, 0.5);
        Assert.Equal(e.Item1, r, 4); Assert.Equal(e.Item2, g, 4); Assert.Equal(e.Item3, b, 4);
        // NaN input does not crash or read out of bounds; at full strength it maps like the domain minimum
        (r, _, _) = t.Map(float.NaN, 0.5f, 0.5f);
        Assert.Equal(t.Map(0f, 0.5f, 0.5f).R, r);
    }

    [Fact]
    public void StrengthZeroIsIdentityAndHalfIsHalfway()
    {
        var lut = CubeFile.Read(Path.Combine(TestPaths.ArtisticLuts, "LUT_NOIR__Trent_18.CUBE"));
        var rnd = new Random(9);
        var b8 = new byte[4096]; rnd.NextBytes(b8);
        var u16 = Enumerable.Range(0, 4095).Select(_ => (ushort)rnd.Next(65536)).ToArray();
        var f = Enumerable.Range(0, 4095).Select(_ => (float)rnd.NextDouble() * 1.2f - 0.1f).ToArray();
        var zero = new LutTransform(lut, 0f);
        var c8 = (byte[])b8.Clone(); zero.Apply(c8, 4); Assert.Equal(b8, c8);
        var c16 = (ushort[])u16.Clone(); zero.Apply(c16, 3); Assert.Equal(u16, c16);
        var cf = (float[])f.Clone(); zero.Apply(cf, 3); Assert.Equal(f, cf);

        var full = new LutTransform(lut, 1f);
        var half = new LutTransform(lut, 0.5f);
        var ff = (float[])f.Clone(); full.Apply(ff, 3);
        var fh = (float[])f.Clone(); half.Apply(fh, 3);
        for (int i = 0; i < f.Length; i++) Assert.Equal(f[i] + 0.5f * (ff[i] - f[i]), fh[i], 5);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LutTransform(lut, 1.5f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LutTransform(lut, float.NaN));
    }


    /// <summary>The .cube of a partial correction is the LUT blended in LUT space (<see cref="Lut3D.Blend"/>):
    /// applied at full strength it gives what the photo got, the LUT applied at that strength.</summary>
    [Fact]
    public void TheLutSpaceBlendGivesWhatThePixelBlendGives()
    {
        var lut = CubeFile.Read(Path.Combine(TestPaths.ArtisticLuts, "LUT_NOIR__Trent_18.CUBE"));
        var rnd = new Random(11);
        var f = Enumerable.Range(0, 3 * 4000).Select(_ => (float)rnd.NextDouble()).ToArray();
        foreach (var s in new[] { 0.0, 0.3, 0.5, 0.85 })
        {
            var pixel = (float[])f.Clone(); new LutTransform(lut, (float)s).Apply(pixel, 3);
            var blended = (float[])f.Clone(); new LutTransform(lut.Blend(s)).Apply(blended, 3);
            for (int i = 0; i < f.Length; i++) Assert.InRange(Math.Abs(pixel[i] - blended[i]), 0, 1e-6);
        }
        Assert.Same(lut, lut.Blend(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => lut.Blend(1.01));
    }
    [Theory]
    [MemberData(nameof(Modes))]
    public void AlphaIsUntouchedAndRgbMatchesThreeBands(LutInterpolation mode)
    {
        var lut = CubeFile.Read(Path.Combine(TestPaths.ArtisticLuts, "LUT_OTHER__Subtle_Yellow.cube"));
        var t = new LutTransform(lut, 0.8f, mode);
        var rnd = new Random(11);
        int n = 1000;
        var rgba = new byte[n * 4]; rnd.NextBytes(rgba);
        var rgb = new byte[n * 3];
        for (int i = 0; i < n; i++) for (int c = 0; c < 3; c++) rgb[i * 3 + c] = rgba[i * 4 + c];
        var before = (byte[])rgba.Clone();
        t.Apply(rgba, 4); t.Apply(rgb, 3);
        bool changed = false;
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(before[i * 4 + 3], rgba[i * 4 + 3]);
            for (int c = 0; c < 3; c++) Assert.Equal(rgb[i * 3 + c], rgba[i * 4 + c]);
            changed |= rgba[i * 4] != before[i * 4];
        }
        Assert.True(changed);

        var u = Enumerable.Range(0, n * 4).Select(_ => (ushort)rnd.Next(65536)).ToArray();
        var u0 = (ushort[])u.Clone(); t.Apply(u, 4);
        var fl = Enumerable.Range(0, n * 4).Select(_ => (float)rnd.NextDouble()).ToArray();
        var f0 = (float[])fl.Clone(); t.Apply(fl, 4);
        for (int i = 3; i < n * 4; i += 4) { Assert.Equal(u0[i], u[i]); Assert.Equal(f0[i], fl[i]); }
    }

    [Fact]
    public void TypesAgreeWithEachOther()
    {
        var lut = CubeFile.Read(Path.Combine(TestPaths.ArtisticLuts, "LUT_CINEMA__Kodak_2383_19.A006C019_181009_E70F.cube"));
        var t = new LutTransform(lut, 0.7f);
        var b = new byte[3 * 5000]; new Random(12).NextBytes(b);
        var u = b.Select(x => (ushort)(x * 257)).ToArray();
        var f = b.Select(x => x / 255f).ToArray();
        t.Apply(b, 3); t.Apply(u, 3); t.Apply(f, 3);
        for (int i = 0; i < b.Length; i++)
        {
            float e = Math.Clamp(f[i], 0f, 1f);
            Assert.True(Math.Abs(b[i] - e * 255) <= 0.5001f, $"byte {b[i]} vs {e * 255}");
            Assert.True(Math.Abs(u[i] - e * 65535) <= 0.5001f + 65535 * 2e-6f, $"ushort {u[i]} vs {e * 65535}");
        }
    }

    [Fact]
    public void BadArgumentsThrow()
    {
        var t = new LutTransform(Lut3D.Identity(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Apply(new byte[10], 5));
        Assert.Throws<ArgumentException>(() => t.Apply(new byte[10], 3));
        Assert.Throws<ArgumentException>(() => t.Apply(new float[7], 4));
        t.Apply(Span<byte>.Empty, 3);
    }

    [Fact]
    public void ParallelStripsEqualOneCall()
    {
        var lut = CubeFile.Read(Path.Combine(TestPaths.ArtisticLuts, "LUT_BLUE__Fusion_88.CUBE"));
        var t = new LutTransform(lut, 0.9f);
        var img = new byte[640 * 480 * 3]; new Random(13).NextBytes(img);
        var one = (byte[])img.Clone(); t.Apply(one, 3);
        var par = (byte[])img.Clone();
        int row = 640 * 3;
        Parallel.For(0, 480, new ParallelOptions { MaxDegreeOfParallelism = 4 }, y => t.Apply(par.AsSpan(y * row, row), 3));
        Assert.Equal(one, par);
    }

    [Theory]
    [InlineData("LUT_BROWN__Era.cube", 1f)]
    [InlineData("LUTs__Neon_770.CUBE", 0.6f)]
    public void TensorVersionAgreesWithTransform(string file, float strength)
    {
        using var scope = NewDisposeScope();
        var lut = CubeFile.Read(Path.Combine(TestPaths.ArtisticLuts, file));
        CheckTensorAgreement(lut, strength);
    }

    [Fact]
    public void TensorVersionAgreesWithTransformOnAsymmetricDomainAndLut()
    {
        using var scope = NewDisposeScope();
        // Non-symmetric function and domain: any r/g/b axis mix-up in grid_sample shows up.
        var lut = Sample(9, (r, g, b) => ((float)(r * r), (float)(0.3 * g + 0.1), (float)(b * 0.5 + r * 0.2)), [0f, 0.1f, -0.2f], [1f, 0.8f, 1.2f]);
        CheckTensorAgreement(lut, 1f);
        // and against the function itself at a known point
        var x = tensor(new float[] { 0.5f, 0.4f, 0.3f }, [1, 3, 1, 1]);
        var y = LutTransform.ApplyToTensor(lut, x).data<float>().ToArray();
        Assert.Equal(0.25f, y[0], 2); Assert.Equal(0.22f, y[1], 3); Assert.Equal(0.25f, y[2], 3);
    }

    static void CheckTensorAgreement(Lut3D lut, float strength)
    {
        int n = 2, h = 13, w = 17, plane = h * w;
        var rnd = new Random(21);
        var data = new float[n * 3 * plane];
        for (int i = 0; i < data.Length; i++) data[i] = (float)rnd.NextDouble() * 1.1f - 0.05f; // some outside [0,1]
        var img = tensor(data, [n, 3, h, w]);
        var outT = LutTransform.ApplyToTensor(lut, img, strength);
        Assert.Equal(img.shape, outT.shape);
        var o = outT.data<float>().ToArray();

        var t = new LutTransform(lut, strength);
        double maxDiff = 0;
        var px = new float[3];
        for (int b = 0; b < n; b++)
            for (int p = 0; p < plane; p++)
            {
                int o0 = b * 3 * plane + p;
                for (int c = 0; c < 3; c++) px[c] = data[o0 + c * plane];
                t.Apply(px, 3);
                for (int c = 0; c < 3; c++) maxDiff = Math.Max(maxDiff, Math.Abs(o[o0 + c * plane] - px[c]));
            }
        Assert.True(maxDiff < 2e-5, $"tensor vs transform differ by {maxDiff}");
        // [3,H,W] input works too and equals the batched result
        var single = LutTransform.ApplyToTensor(lut, img[0], strength);
        Assert.Equal(new long[] { 3, h, w }, single.shape);
        Assert.True((single - outT[0]).abs().max().item<float>() < 1e-6f);
    }
}
