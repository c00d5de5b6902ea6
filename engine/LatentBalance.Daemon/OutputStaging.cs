using LatentBalance.Bridge.Contract;
using LatentBalance.Engine.Imaging;

namespace LatentBalance.Daemon;

/// <summary>
/// A job writes its outputs to hidden files beside the final ones (same folder and extension); only a job
/// that finished and was not cancelled renames them into place. So a cancelled, timed-out or failed job
/// never leaves or replaces a file at an output path.
/// </summary>
public sealed class OutputStaging : IDisposable
{
    private readonly List<(string Staged, string Final)> _files = new();
    private readonly bool _overwrite;

    public OutputStaging(bool overwrite) => _overwrite = overwrite;

    /// <summary>The hidden path the job writes instead of <paramref name="final"/> (null stays null).</summary>
    public string? Stage(string? final)
    {
        if (final is null) return null;
        var dir = Path.GetDirectoryName(final)!;
        var staged = Path.Combine(dir, $".{Path.GetFileNameWithoutExtension(final)}.lb-{Guid.NewGuid().ToString("N")[..8]}{Path.GetExtension(final)}");
        _files.Add((staged, final));
        return UnfinishedFiles.Add(staged);
    }

    /// <summary>Moves every staged file onto its final path. A missing staged file is an Internal error (the filter wrote nothing).</summary>
    public void Commit()
    {
        foreach (var (staged, final) in _files)
            if (!File.Exists(staged))
                throw new BridgeException(BridgeErrorCode.Internal, $"the filter produced no file for '{final}'");
        foreach (var (staged, final) in _files)
        {
            try { File.Move(staged, final, _overwrite); UnfinishedFiles.Remove(staged); }
            catch (IOException e) when (!_overwrite && File.Exists(final))
            {
                throw new BridgeException(BridgeErrorCode.IoError, $"'{final}' appeared while the job ran (pass overwrite to replace it)", e);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new BridgeException(BridgeErrorCode.IoError, $"cannot move the result into '{final}': {e.Message}", e);
            }
        }
        _files.Clear();
    }

    /// <summary>Replaces staged paths in a message by the final ones (users never asked for the hidden names).</summary>
    public string Explain(string message)
    {
        foreach (var (staged, final) in _files) message = message.Replace(staged, final, StringComparison.Ordinal);
        return message;
    }

    /// <summary>Deletes staged files left behind (a job that failed or was cancelled).</summary>
    public void Discard()
    {
        foreach (var (staged, _) in _files)
        {
            try { File.Delete(staged); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            UnfinishedFiles.Remove(staged);
        }
    }

    public void Dispose() => Discard();
}
