using System.Diagnostics;
using LatentBalance.Bridge.Contract;
using LatentBalance.Daemon;

namespace LatentBalance.Cluster;

/// <summary>
/// A silo's engine: the same engine service the CLI and the daemon use (<see cref="EngineService"/>),
/// opened once with warm models; at most <see cref="Jobs"/> photos run at once on this silo (its queue is the
/// service's job registry). Each photo is one <c>Balance</c> request exactly as <c>latentbalance balance</c>
/// sends it, so a photo balanced here equals the CLI's output for it.
/// </summary>
public sealed class SiloEngine : IDisposable
{
    readonly IEngineService _service;
    readonly IDisposable? _owned;

    public SiloEngine(IEngineService service, int jobs, IDisposable? owned = null)
    {
        _service = service;
        Jobs = jobs;
        _owned = owned;
    }

    /// <summary>Opens the engine service (loads the models) with <paramref name="jobs"/> jobs at once.</summary>
    public static SiloEngine Open(string? pack, string runtime, string device, int jobs, DaemonLog log, CancellationToken ct)
    {
        var service = EngineService.Open(new DaemonOptions
        {
            Pack = pack, Runtime = runtime, Device = device, MaxConcurrentJobs = jobs, JobTimeout = TimeSpan.FromMinutes(10),
        }, log, ct);
        if (service.Engine is null)
        {
            var error = service.EngineError!;
            service.Dispose();
            throw new InvalidOperationException("the models did not load: " + error.Message, error);
        }
        return new SiloEngine(service, jobs, service);
    }

    /// <summary>Photos this silo runs at once.</summary>
    public int Jobs { get; }

    /// <summary>Balances one photo into its output (staged beside it and renamed into place by the service).
    /// Hidden staged files a killed silo left for this output are deleted first. Never throws for a bad
    /// photo: the outcome says why it failed.</summary>
    public async Task<PhotoOutcome> RunAsync(PhotoItem photo, IReadOnlyDictionary<string, string> parameters, CancellationToken ct = default)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            var dir = Path.GetDirectoryName(photo.Output)!;
            Directory.CreateDirectory(dir);
            RemoveStaleStaged(photo.Output);
            var request = RequestRules.WithAbsolutePaths(new BalanceRequest
            {
                InputPath = photo.Input, OutputPath = photo.Output, Parameters = new Dictionary<string, string>(parameters),
                // a photo run again after its silo died replaces its own earlier output; an input is
                // never replaced (the service refuses an output that is its input)
                Overwrite = true,
            });
            var ticket = await _service.BalanceAsync(request, ct).ConfigureAwait(false);
            var r = await _service.WaitAsync(ticket.JobId, -1, ct).ConfigureAwait(false);
            if (r.State == JobState.Done) return new PhotoOutcome { State = PhotoState.Done, ElapsedMs = clock.Elapsed.TotalMilliseconds };
            return Failed(photo, r.Error ?? WireNames.ToWire(r.State), r.ErrorCode?.ToString(), clock);
        }
        catch (BridgeException e) { return Failed(photo, e.Message, e.Code.ToString(), clock); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Failed(photo, $"{photo.Output}: {e.Message}", BridgeErrorCode.IoError.ToString(), clock);
        }
    }

    static PhotoOutcome Failed(PhotoItem photo, string error, string? code, Stopwatch clock)
    {
        bool full = DiskFull(photo, error);
        if (!error.Contains(photo.Input) && !error.Contains(photo.Output) && !error.Contains(Path.GetFileName(photo.Input)))
            error = $"{photo.Input}: {error}";
        if (full && !error.Contains("No space left", StringComparison.OrdinalIgnoreCase)) error += " (no space left on the output's file system)";
        return new PhotoOutcome { State = PhotoState.Failed, Error = error.ReplaceLineEndings(" "), Code = code, DiskFull = full, ElapsedMs = clock.Elapsed.TotalMilliseconds };
    }

    /// <summary>A failure is a full disk when the system said so, or when the output's file system has less
    /// room left than the input photo takes (libvips' own write errors do not always carry ENOSPC's text).</summary>
    internal static bool DiskFull(PhotoItem photo, string error)
    {
        if (error.Contains("No space left", StringComparison.OrdinalIgnoreCase) || error.Contains("ENOSPC", StringComparison.Ordinal)) return true;
        try
        {
            var dir = Path.GetDirectoryName(photo.Output)!;
            if (!Directory.Exists(dir)) return false;
            long free = new DriveInfo(dir).AvailableFreeSpace;
            long need = File.Exists(photo.Input) ? new FileInfo(photo.Input).Length : 1 << 20;
            return free < Math.Max(need, 64 * 1024);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { return false; }
    }

    /// <summary>Deletes hidden staged copies of <paramref name="output"/> (".NAME.lb-XXXXXXXX.EXT", the
    /// service's staging names) left by a silo killed while it wrote them. One photo is one grain, so no
    /// other live silo writes them.</summary>
    internal static int RemoveStaleStaged(string output)
    {
        var dir = Path.GetDirectoryName(output)!;
        if (!Directory.Exists(dir)) return 0;
        int n = 0;
        foreach (var f in Directory.EnumerateFiles(dir, $".{Path.GetFileName(output)}.lb-*{Path.GetExtension(output)}"))
        {
            try { File.Delete(f); n++; } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        return n;
    }

    public void Dispose() => _owned?.Dispose();
}
