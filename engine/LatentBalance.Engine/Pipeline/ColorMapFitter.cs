namespace LatentBalance.Engine.Pipeline;

/// <summary>Settings of the per-image RGB->RGB colour map fit (step 5 of the method); <c>pack.json</c>'s <c>correction.fit</c>.</summary>
/// <remarks>Defaults from the fit benchmark (docs/BENCHMARKS.md, "The colour-map fit"): 64 units at scale 2 with
/// ridge 1e-3 on 8192 pixels reproduce the target better than the 100-step Adam MLP they replace, in a thirtieth of
/// the time, with no libtorch.</remarks>
public sealed record ColorMapFitOptions
{
    /// <summary>Fixed random SiLU units (the map's hidden layer).</summary>
    public int Hidden { get; init; } = 64;
    /// <summary>Slope of the units' ramps (larger: sharper, more local units).</summary>
    public double Scale { get; init; } = 2;
    /// <summary>Ridge penalty on the output weights, relative to the mean squared feature.</summary>
    public double Ridge { get; init; } = 1e-3;
    /// <summary>Pixels the fit uses at most (drawn without replacement from the photo's pixels).</summary>
    public int Samples { get; init; } = 8192;
    /// <summary>Seeds the units and the pixel draw: the fit is a pure function of its inputs.</summary>
    public int Seed { get; init; } = 1234;

    /// <summary>Throws with <paramref name="source"/> and the field's name when a value is out of range.</summary>
    public void Validate(string source)
    {
        void Check(bool ok, string why) { if (!ok) throw new ModelFiles.ModelFileException($"{source}: {why}"); }
        Check(Hidden is >= 1 and <= 1024, $"correction.fit.hidden must be 1..1024, got {Hidden}");
        Check(Scale > 0 && double.IsFinite(Scale), $"correction.fit.scale must be positive, got {Scale}");
        Check(Ridge > 0 && double.IsFinite(Ridge), $"correction.fit.ridge must be positive, got {Ridge}");
        Check(Samples is >= 16 and <= 1_000_000, $"correction.fit.samples must be 16..1000000, got {Samples}");
    }
}

/// <summary>
/// Step 5: fits the colour map from the distorted decode to the balanced decode. The two decodes line up pixel for
/// pixel, so every photo pixel is one (input colour, target colour) pair; the padding around a non-square photo is
/// masked out. The map (<see cref="ColorMap"/>) is a one-hidden-layer network whose hidden units are fixed, seeded
/// random SiLU ramps and whose output layer is solved in closed form (ridge regression on the residual target - input),
/// so the fit is exact, deterministic, needs no iterations and no libtorch. A target equal to its input gives exactly
/// the identity.
/// </summary>
public static class ColorMapFitter
{
    /// <param name="source">CHW [3, H*W] distorted decode, [0, 1].</param>
    /// <param name="target">CHW [3, H*W] balanced decode, [0, 1].</param>
    /// <param name="mask">H*W, true where the photo is (null: all).</param>
    public static ColorMap Fit(ReadOnlySpan<float> source, ReadOnlySpan<float> target, ReadOnlySpan<bool> mask, ColorMapFitOptions options)
    {
        if (source.Length != target.Length || source.Length % 3 != 0)
            throw new ArgumentException($"source ({source.Length}) and target ({target.Length}) must both be CHW with 3 channels");
        int pixels = source.Length / 3;
        if (!mask.IsEmpty && mask.Length != pixels) throw new ArgumentException($"mask has {mask.Length} entries for {pixels} pixels");

        var picks = new int[pixels];   // the photo's pixels, then a seeded draw of n of them at the front
        int valid = 0;
        for (int p = 0; p < pixels; p++) if (mask.IsEmpty || mask[p]) picks[valid++] = p;
        if (valid < 16) throw new InvalidOperationException("the colour-map fit needs at least 16 valid pixels");

        var rng = new Random(options.Seed);
        var map = ColorMap.RandomUnits(options.Hidden, options.Scale, rng);
        int n = Math.Min(options.Samples, valid);
        // a seeded partial Fisher-Yates draw: n pixels without replacement
        for (int i = 0; i < n; i++) { int j = i + rng.Next(valid - i); (picks[i], picks[j]) = (picks[j], picks[i]); }

        int f = map.Features;
        var phi = new float[f * n];       // feature-major: phi[k * n + i]
        var residual = new float[3 * n];  // channel-major: target - input
        Span<float> row = stackalloc float[f];
        for (int i = 0; i < n; i++)
        {
            int p = picks[i];
            float r = Math.Clamp(source[p], 0f, 1f), g = Math.Clamp(source[pixels + p], 0f, 1f), b = Math.Clamp(source[2 * pixels + p], 0f, 1f);
            map.FeaturesOf(r, g, b, row);
            for (int k = 0; k < f; k++) phi[k * n + i] = row[k];
            residual[i] = Math.Clamp(target[p], 0f, 1f) - r;
            residual[n + i] = Math.Clamp(target[pixels + p], 0f, 1f) - g;
            residual[2 * n + i] = Math.Clamp(target[2 * pixels + p], 0f, 1f) - b;
        }

        // normal equations (Phi'Phi / n + ridge * mean diagonal * I) C = Phi'R / n, solved by Cholesky in double
        var gram = new double[f, f];
        var rhs = new double[f, 3];
        for (int a = 0; a < f; a++)
        {
            var pa = phi.AsSpan(a * n, n);
            for (int c = a; c < f; c++) gram[a, c] = gram[c, a] = Dot(pa, phi.AsSpan(c * n, n)) / n;
            for (int ch = 0; ch < 3; ch++) rhs[a, ch] = Dot(pa, residual.AsSpan(ch * n, n)) / n;
        }
        double meanDiagonal = 0;
        for (int a = 0; a < f; a++) meanDiagonal += gram[a, a];
        meanDiagonal /= f;
        for (int a = 0; a < f; a++) gram[a, a] += options.Ridge * meanDiagonal;
        map.SetOutput(SolveCholesky(gram, rhs));
        return map;
    }

    static double Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        // float SIMD lanes, summed into double every block: SIMD speed without float drift over 8192 terms
        var xs = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(x);
        var ys = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(y);
        double total = 0;
        var acc = System.Numerics.Vector<float>.Zero;
        for (int i = 0; i < xs.Length; i++)
        {
            acc += xs[i] * ys[i];
            if ((i & 31) == 31) { total += System.Numerics.Vector.Sum(acc); acc = System.Numerics.Vector<float>.Zero; }
        }
        total += System.Numerics.Vector.Sum(acc);
        for (int i = xs.Length * System.Numerics.Vector<float>.Count; i < x.Length; i++) total += x[i] * y[i];
        return total;
    }

    /// <summary>Solves the symmetric positive definite system A X = B (A is overwritten by its Cholesky factor).</summary>
    static double[,] SolveCholesky(double[,] a, double[,] b)
    {
        int n = a.GetLength(0), m = b.GetLength(1);
        for (int j = 0; j < n; j++)
        {
            double d = a[j, j];
            for (int k = 0; k < j; k++) d -= a[j, k] * a[j, k];
            if (!(d > 0)) throw new InvalidOperationException("the colour-map fit's normal equations are not positive definite");
            a[j, j] = Math.Sqrt(d);
            for (int i = j + 1; i < n; i++)
            {
                double s = a[i, j];
                for (int k = 0; k < j; k++) s -= a[i, k] * a[j, k];
                a[i, j] = s / a[j, j];
            }
        }
        var x = (double[,])b.Clone();
        for (int c = 0; c < m; c++)
        {
            for (int i = 0; i < n; i++)
            {
                double s = x[i, c];
                for (int k = 0; k < i; k++) s -= a[i, k] * x[k, c];
                x[i, c] = s / a[i, i];
            }
            for (int i = n - 1; i >= 0; i--)
            {
                double s = x[i, c];
                for (int k = i + 1; k < n; k++) s -= a[k, i] * x[k, c];
                x[i, c] = s / a[i, i];
            }
        }
        return x;
    }
}
