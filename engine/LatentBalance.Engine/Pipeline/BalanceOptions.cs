namespace LatentBalance.Engine.Pipeline;

/// <summary>What a caller can ask of one balance.</summary>
public sealed record BalanceOptions
{
    /// <summary>How many times the whole method runs on its own output (1..10).</summary>
    public int Iterations { get; init; } = 1;
    /// <summary>0: the original, 1: the full correction; blends in the LUT.</summary>
    public double Strength { get; init; } = 1.0;
    /// <summary>Points per side of the baked 3D LUT.</summary>
    public int LutSize { get; init; } = LutBaker.DefaultSize;
    public ColorMapFitOptions Fit { get; init; } = new();
    /// <summary>JPEG and WebP quality of the written photo, 1..100.</summary>
    public int JpegQuality { get; init; } = 95;

    public void Validate()
    {
        if (Iterations is < 1 or > 10) throw new ArgumentException($"iterations must be 1..10, got {Iterations}");
        if (!(Strength >= 0 && Strength <= 1)) throw new ArgumentException($"strength must be 0..1, got {Strength}");
        if (LutSize is < 2 or > 129) throw new ArgumentException($"LUT size must be 2..129, got {LutSize}");
        if (JpegQuality is < 1 or > 100) throw new ArgumentException($"JPEG quality must be 1..100, got {JpegQuality}");
    }
}

/// <summary>Progress of one balance: a stage name and the overall fraction done.</summary>
public readonly record struct BalanceProgress(string Stage, double Fraction);
