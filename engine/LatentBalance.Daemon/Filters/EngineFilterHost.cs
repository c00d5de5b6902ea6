using System.Globalization;
using LatentBalance.Bridge.Contract;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Filters;

namespace LatentBalance.Daemon.Filters;

/// <summary>What filters get from the engine service: measuring, the full-resolution LUT path, the warm engine, the log.</summary>
public sealed class EngineFilterHost : IFilterHost
{
    private readonly Func<EngineLoad> _loaded;
    private readonly DaemonLog _log;
    private readonly string _filterId;

    /// <param name="engine">the warm engine, or null when it could not be loaded (<paramref name="engineError"/> says why).</param>
    public EngineFilterHost(BalanceEngine? engine, Exception? engineError, DaemonLog log, string filterId)
        : this(() => new EngineLoad(engine, engineError), log, filterId) { }

    /// <param name="loaded">the engine once loaded (the daemon loads it in the background after taking its bus
    /// name: asking for it waits for the load); called only when a filter needs the engine.</param>
    public EngineFilterHost(Func<EngineLoad> loaded, DaemonLog log, string filterId)
    {
        _loaded = loaded;
        _log = log;
        _filterId = filterId;
    }

    private BalanceEngine? _engine => _loaded().Engine;
    private Exception? _engineError => _loaded().Error;

    public Task<ImageMeasurement> MeasureAsync(string path, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(ImageMeasurer.Measure(path));
    }

    public Task ApplyColorMapAsync(FilterJob job, IColorMap map, string title)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(map);
        var lut = LutBaker.Bake(map.Map, job.LutSize != 0 ? job.LutSize : _engine?.Correction.LutSize ?? LutBaker.DefaultSize, title);
        WriteCorrection(job, job.OutputPath != null ? PhotoReader.Open(job.InputPath) : null, lut, 1, title, PhotoWriterOptions.Default);
        return Task.CompletedTask;
    }

    /// <summary>Every filter's last step: the job's photo through <paramref name="lut"/> at <paramref name="strength"/>
    /// and the .cube (<see cref="CorrectionFiles"/>, to the job's staged paths), and the photo's size and
    /// reader's notes in the job's details.</summary>
    public void WriteCorrection(FilterJob job, SourceImage? source, Lut3D lut, double strength, string title, PhotoWriterOptions writer, string? settings = null)
    {
        if (job.OutputPath != null) job.Report("writing", 0.75);
        CorrectionFiles.Write(source, lut, strength, job.OutputPath, job.CubePath, writer,
            title, [$"filter: {_filterId}", $"source: {Path.GetFileName(job.InputPath)}", .. settings is null ? [] : new[] { settings }], job.Cancellation);
        if (source is null) return;
        job.Details[JobDetails.Width] = source.Width.ToString(CultureInfo.InvariantCulture);
        job.Details[JobDetails.Height] = source.Height.ToString(CultureInfo.InvariantCulture);
        if (source.Notes.Count > 0) job.Details[JobDetails.Notes] = string.Join('\n', source.Notes);
    }

    public object? GetService(Type serviceType)
    {
        if (serviceType == typeof(BalanceEngine))
            return _engine ?? throw new Engine.ModelFiles.ModelFileException(
                "the engine's models did not load: " + (_engineError?.Message ?? "no model pack"), _engineError);
        if (serviceType == typeof(IFilterHost) || serviceType == typeof(EngineFilterHost)) return this;
        return null;
    }

    public void Log(string message) => _log.Info("filter_log", ("filter", _filterId), ("message", message));
}
