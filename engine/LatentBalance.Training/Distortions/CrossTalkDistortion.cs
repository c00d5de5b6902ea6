using System.Globalization;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Runtime;
using static TorchSharp.torch;

namespace LatentBalance.Training.Distortions;

/// <summary>
/// Channel cross-talk: a 3x3 mixing matrix near identity applied in linear light. Each row sums to 1,
/// so neutrals stay neutral; only hues and saturation move.
/// </summary>
public sealed class CrossTalkDistortion : IDistortion
{
    public const string OpName = "cross_talk";

    /// <summary>Takes a row-major 3x3 matrix; rows are normalised to sum to 1.</summary>
    public CrossTalkDistortion(double[,] matrix)
    {
        if (matrix.GetLength(0) != 3 || matrix.GetLength(1) != 3)
            throw new ArgumentException("cross_talk needs a 3x3 matrix");
        var m = new double[3, 3];
        for (int i = 0; i < 3; i++)
        {
            double sum = matrix[i, 0] + matrix[i, 1] + matrix[i, 2];
            if (!double.IsFinite(sum) || Math.Abs(sum) < 1e-3)
                throw new ArgumentException($"cross_talk matrix row {i} sums to {sum}; cannot normalise it to 1");
            for (int j = 0; j < 3; j++) m[i, j] = matrix[i, j] / sum;
        }
        Matrix = m;
    }

    public double[,] Matrix { get; }
    public DistortionFamily Family => DistortionFamily.CrossTalk;

    internal static CrossTalkDistortion Sample(Random rng, DistortionOptions o)
    {
        double s = o.CrossTalk.Sample(rng);
        var m = new double[3, 3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                m[i, j] = i == j ? 1.0 : (2 * rng.NextDouble() - 1) * s;
        // round after normalising so the recipe reproduces the exact matrix
        var n = new CrossTalkDistortion(m).Matrix;
        for (int i = 0; i < 3; i++)
        {
            for (int j = 0; j < 3; j++) if (i != j) n[i, j] = Math.Round(n[i, j], 5);
            n[i, i] = 1 - n[i, (i + 1) % 3] - n[i, (i + 2) % 3];
        }
        return new CrossTalkDistortion(n);
    }

    internal static CrossTalkDistortion FromStep(DistortionStep s)
    {
        var m = new double[3, 3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                m[i, j] = s.Get($"m{i}{j}");
        return new CrossTalkDistortion(m);
    }

    public Tensor Apply(Tensor image) => DistortionTensor.Run(image, x =>
        ColorSpaces.LinearToSrgb(ColorSpaces.MixChannels(ColorSpaces.SrgbToLinear(x.ClampTo(0, 1)), Matrix).ClampTo(0, 1)));

    public string Describe()
    {
        var rows = Enumerable.Range(0, 3).Select(i =>
            string.Create(CultureInfo.InvariantCulture, $"{Matrix[i, 0]:0.###} {Matrix[i, 1]:0.###} {Matrix[i, 2]:0.###}"));
        return $"{OpName}([{string.Join("; ", rows)}])";
    }

    public DistortionStep ToStep()
    {
        var p = new Dictionary<string, double>();
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                p[$"m{i}{j}"] = Matrix[i, j];
        return new DistortionStep(OpName, p);
    }
}
