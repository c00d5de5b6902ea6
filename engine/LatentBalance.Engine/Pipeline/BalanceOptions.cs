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
    /// <summary>Also write the correction as a .cube file here.</summary>
    public string? LutPath { get; init; }
    /// <summary>Also write a before/after picture here.</summary>
    public string? ComparePath { get; init; }
    /// <summary>Allow the output to replace the input file.</summary>
    public bool OverwriteInput { get; init; }
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

/// <summary>What one balance did.</summary>
public sealed record BalanceResult
{
    public required string Input { get; init; }
    public string? Output { get; init; }
    public string? LutPath { get; init; }
    public string? ComparePath { get; init; }
    public int Width { get; init; }
    public int Height { get; init; }
    public int Iterations { get; init; }
    public double Strength { get; init; }
    /// <summary>Mean CIEDE2000 between the tile before and after the correction: how much it moved.</summary>
    public double TileDeltaE { get; init; }
    /// <summary>The balancer's own strength per iteration (a pack with a calibrated-strength head
    /// predicts it per photo: near 0 for a photo it judges balanced; 1 without a head). The user's
    /// <see cref="Strength"/> multiplies it.</summary>
    public IReadOnlyList<double> BalancerStrengths { get; init; } = [];
    /// <summary>1, or below 1 where the correction was damped toward the identity because the photo
    /// holds too little colour information to fit a map on (near-black, near-white or flat).</summary>
    public double Damping { get; init; } = 1;
    /// <summary>What the user should know about this photo, one line each (e.g. only the first page of a
    /// multi-page file was balanced).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
    /// <summary>Milliseconds per stage.</summary>
    public Dictionary<string, double> TimingsMs { get; init; } = [];
}
