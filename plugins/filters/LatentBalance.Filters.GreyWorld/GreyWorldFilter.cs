namespace LatentBalance.Filters.GreyWorld;

/// <summary>
/// The grey-world correction (<see cref="Engine.Color.GreyWorld"/>, whose source this plug-in compiles): measures the
/// channel means in linear light and applies the gains, blended with the identity by <c>strength</c>.
/// A plug-in that proves the filter mechanism.
/// </summary>
public sealed class GreyWorldFilter : IFilter
{
    public const string Id = "grey-world";

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
        var gains = Engine.Color.GreyWorld.Gains(m.MeanLinear, strength);
        host.Log($"grey-world gains R {gains[0]:F3} G {gains[1]:F3} B {gains[2]:F3} (strength {strength:F2})");
        job.Report("applying", 0.3);
        await host.ApplyColorMapAsync(job, new FuncColorMap(Engine.Color.GreyWorld.Map(gains)), $"grey world (strength {strength:0.##})").ConfigureAwait(false);
        job.Report("done", 1);
    }
}
