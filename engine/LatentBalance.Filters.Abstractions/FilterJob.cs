namespace LatentBalance.Filters;

/// <summary>One run of a filter: files, checked parameters, progress and cancellation.</summary>
public sealed record FilterJob
{
    /// <summary>Absolute path of the input image.</summary>
    public required string InputPath { get; init; }
    /// <summary>Absolute path of the output image; null when only the correction (.cube) is wanted.</summary>
    public string? OutputPath { get; init; }
    public required FilterParameters Parameters { get; init; }
    /// <summary>Also (or only, without <see cref="OutputPath"/>) write the correction as a .cube here.</summary>
    public string? CubePath { get; init; }
    /// <summary>Edge length of the .cube; 0: the filter's or engine's default.</summary>
    public int LutSize { get; init; }
    public IProgress<FilterProgress>? Progress { get; init; }
    public CancellationToken Cancellation { get; init; }
    /// <summary>What the filter reports about its result (the job result's details: "width", "notes", ...).</summary>
    public IDictionary<string, string> Details { get; init; } = new Dictionary<string, string>();

    public void Report(string stage, double fraction) => Progress?.Report(new FilterProgress(stage, fraction));
}

/// <summary>Progress of a job: a stage name and the fraction done (0..1).</summary>
public readonly record struct FilterProgress(string Stage, double Fraction);
