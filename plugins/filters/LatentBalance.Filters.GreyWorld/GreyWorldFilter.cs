namespace LatentBalance.Filters.GreyWorld;

/// <summary>
/// The grey-world assumption: the average colour of a scene is neutral grey. Measures the mean of each
/// channel in linear light, scales the channels so the means are equal (keeping the mean luminance),
/// and blends the gains with the identity by <c>strength</c>. A plug-in that proves the filter mechanism.
/// </summary>
public sealed class GreyWorldFilter : IFilter
{
    public const string Id = "grey-world";

    /// <summary>Gains are limited to this factor either way, so a one-colour picture is not blown out.</summary>
    public const double MaxGain = 4.0;

    public FilterDescription Description { get; } = new()
    {
        Id = Id,
        Label = "Grey world",
        Description = "Scales R, G and B so the picture averages to neutral grey (a classic automatic white balance).",
        Parameters = [FilterParameter.Double("strength", 1.0, 0, 1, "How much of the correction to apply, 0..1.")],
    };

    public async Task RunAsync(FilterJob job, IFilterHost host)
    {
        double strength = job.Parameters.GetDouble("strength");
        job.Report("measuring", 0.05);
        var m = await host.MeasureAsync(job.InputPath, job.Cancellation).ConfigureAwait(false);
        job.Cancellation.ThrowIfCancellationRequested();
        var gains = GreyWorldGains.Compute(m.MeanLinear, strength, MaxGain);
        host.Log($"grey-world gains R {gains[0]:F3} G {gains[1]:F3} B {gains[2]:F3} (strength {strength:F2})");
        job.Report("applying", 0.3);
        await host.ApplyColorMapAsync(job, new FuncColorMap((r, g, b) =>
            (SrgbCurve.Scale(r, gains[0]), SrgbCurve.Scale(g, gains[1]), SrgbCurve.Scale(b, gains[2]))),
            $"grey world (strength {strength:0.##})").ConfigureAwait(false);
        job.Report("done", 1);
    }
}
