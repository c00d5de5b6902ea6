namespace LatentBalance.Engine.Pipeline;

/// <summary>
/// A per-photo RGB->RGB colour map (fitted by <see cref="ColorMapFitter"/>, baked by <see cref="LutBaker"/>):
/// <c>y = x + C' phi(x)</c>, where <c>phi</c> is <see cref="Hidden"/> fixed SiLU ramps of <c>u = 2x - 1</c>
/// (<c>silu(scale * (d_j . u - t_j))</c>, unit directions <c>d_j</c> and offsets <c>t_j</c> drawn once from a seed), then
/// <c>u</c> itself and a constant 1. With <c>C = 0</c> it is exactly the identity. Immutable once fitted; thread-safe.
/// </summary>
public sealed class ColorMap
{
    readonly float[] _dir;      // [Hidden, 3]
    readonly float[] _offset;   // [Hidden]
    readonly float _scale;
    float[] _out;               // [Features, 3]

    ColorMap(float[] dir, float[] offset, float scale)
    {
        _dir = dir; _offset = offset; _scale = scale;
        _out = new float[(offset.Length + 4) * 3];
    }

    public int Hidden => _offset.Length;
    /// <summary>Inputs of the output layer: the hidden units, u (3) and 1.</summary>
    public int Features => Hidden + 4;

    /// <summary>Seeded random units, output layer zero (the identity until <see cref="SetOutput"/>).</summary>
    internal static ColorMap RandomUnits(int hidden, double scale, Random rng)
    {
        var dir = new float[hidden * 3];
        var offset = new float[hidden];
        for (int j = 0; j < hidden; j++)
        {
            double x = Gaussian(rng), y = Gaussian(rng), z = Gaussian(rng);
            double norm = Math.Sqrt(x * x + y * y + z * z);
            if (norm < 1e-6) { x = 1; y = 0; z = 0; norm = 1; }
            dir[3 * j] = (float)(x / norm); dir[3 * j + 1] = (float)(y / norm); dir[3 * j + 2] = (float)(z / norm);
            offset[j] = (float)(2 * rng.NextDouble() - 1);
        }
        return new ColorMap(dir, offset, (float)scale);
    }

    static double Gaussian(Random rng)
    {
        double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    internal void SetOutput(double[,] weights)
    {
        var o = new float[Features * 3];
        for (int k = 0; k < Features; k++)
            for (int c = 0; c < 3; c++) o[3 * k + c] = (float)weights[k, c];
        _out = o;
    }

    /// <summary>The output layer's inputs for one colour in [0, 1].</summary>
    internal void FeaturesOf(float r, float g, float b, Span<float> phi)
    {
        float ur = 2 * r - 1, ug = 2 * g - 1, ub = 2 * b - 1;
        int h = Hidden;
        for (int j = 0; j < h; j++)
        {
            float a = _scale * (_dir[3 * j] * ur + _dir[3 * j + 1] * ug + _dir[3 * j + 2] * ub - _offset[j]);
            phi[j] = a / (1 + MathF.Exp(-a));
        }
        phi[h] = ur; phi[h + 1] = ug; phi[h + 2] = ub; phi[h + 3] = 1;
    }

    /// <summary>The map of one colour (inputs clamped to [0, 1]; the output is not clamped).</summary>
    public (float R, float G, float B) Map(float r, float g, float b)
    {
        r = Math.Clamp(r, 0f, 1f); g = Math.Clamp(g, 0f, 1f); b = Math.Clamp(b, 0f, 1f);
        Span<float> phi = stackalloc float[Features];
        FeaturesOf(r, g, b, phi);
        float dr = 0, dg = 0, db = 0;
        for (int k = 0; k < phi.Length; k++)
        {
            float v = phi[k];
            dr += v * _out[3 * k]; dg += v * _out[3 * k + 1]; db += v * _out[3 * k + 2];
        }
        return (r + dr, g + dg, b + db);
    }

    /// <summary>The map applied to a CHW image, each output clamped to [0, 1] (the next iteration's tile).</summary>
    public float[] ApplyChw(ReadOnlySpan<float> chw)
    {
        int pixels = chw.Length / 3;
        var result = new float[chw.Length];
        for (int p = 0; p < pixels; p++)
        {
            var (r, g, b) = Map(chw[p], chw[pixels + p], chw[2 * pixels + p]);
            result[p] = Math.Clamp(r, 0f, 1f); result[pixels + p] = Math.Clamp(g, 0f, 1f); result[2 * pixels + p] = Math.Clamp(b, 0f, 1f);
        }
        return result;
    }
}
