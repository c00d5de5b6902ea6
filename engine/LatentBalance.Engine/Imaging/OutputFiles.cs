namespace LatentBalance.Engine.Imaging;

/// <summary>
/// The one owner of output files. <see cref="Check"/> is the only check of an output path, made once
/// where a request or command enters (before any model work); <see cref="StagedOutputs"/> is the only
/// write-to-a-hidden-name-then-rename, so a failed, cancelled or interrupted job never leaves a partial
/// or wrong file at an output path. Writers (<see cref="PhotoWriter"/>, CubeFile) write to the name
/// they are given.
/// </summary>
public static class OutputFiles
{
    /// <summary>Checks an output path and returns it made absolute: a name, not a directory, its folder
    /// exists, not the input (unless <paramref name="allowInput"/>), a known image type when
    /// <paramref name="image"/>, and no existing file unless <paramref name="overwrite"/>.</summary>
    /// <param name="field">what the path is, for the message ("output", "lutPath", ...).</param>
    public static string Check(string path, string? inputPath, string field, bool image, bool overwrite, bool allowInput = false)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ImageOutputException(path ?? "", FileErrorKind.InvalidPath, $"no {field} file name given");
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new ImageOutputException(path, FileErrorKind.InvalidPath, $"{field} is an existing directory; give a file name");
        var dir = Path.GetDirectoryName(full);
        if (string.IsNullOrEmpty(dir) || !Directory.Exists(dir))
            throw new ImageOutputException(path, FileErrorKind.NotFound, $"the folder of {field} ('{dir}') does not exist");
        bool isInput = inputPath != null && SameFile(full, inputPath);
        if (isInput && !allowInput)
            throw new ImageOutputException(path, FileErrorKind.InvalidPath, $"{field} is the input photo itself; refusing to overwrite the original");
        if (image && OutputFormats.TryFromPath(path) is null)
            throw new ImageOutputException(path, FileErrorKind.InvalidPath, $"unknown image type '{Path.GetExtension(path)}' (use .jpg, .png, .tif or .webp)");
        if (!overwrite && !isInput && File.Exists(full))
            throw new ImageOutputException(path, FileErrorKind.AccessFailed, $"{field} exists (pass overwrite to replace it)");
        return full;
    }

    public static bool SameFile(string a, string b) =>
        string.Equals(Resolve(a), Resolve(b), OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

    static string Resolve(string p)
    {
        var full = Path.GetFullPath(p);
        try
        {
            if (File.Exists(full) && File.ResolveLinkTarget(full, returnFinalTarget: true) is { } target) return target.FullName;
        }
        catch (IOException) { }
        return full;
    }

    /// <summary>Runs <paramref name="write"/> on a staged name and renames it onto <paramref name="fullOutputPath"/>
    /// (a one-file <see cref="StagedOutputs"/>).</summary>
    public static void Write(string fullOutputPath, Action<string> write)
    {
        using var staged = new StagedOutputs(overwrite: true);
        write(staged.Stage(fullOutputPath)!);
        staged.Commit();
    }
}

/// <summary>
/// A job's outputs, written to hidden names beside the final ones (same folder and extension) and renamed
/// into place together by <see cref="Commit"/>, only once everything was written. Anything not committed
/// is deleted by <see cref="Discard"/> (also on Dispose), and by <see cref="UnfinishedFiles"/> when the
/// process stops.
/// </summary>
public sealed class StagedOutputs : IDisposable
{
    readonly List<(string Staged, string Final)> _files = [];
    readonly bool _overwrite;

    /// <param name="overwrite">whether a file that appeared at a final path while the job ran may be replaced.</param>
    public StagedOutputs(bool overwrite) => _overwrite = overwrite;

    /// <summary>The hidden path to write instead of <paramref name="final"/> (null stays null).</summary>
    public string? Stage(string? final)
    {
        if (final is null) return null;
        var dir = Path.GetDirectoryName(final)!;
        // hidden, with the final name in it (an error about it still names the file) and the final extension (the format)
        var staged = Path.Combine(dir, $".{Path.GetFileName(final)}.lb-{Guid.NewGuid().ToString("N")[..8]}{Path.GetExtension(final)}");
        _files.Add((staged, final));
        return UnfinishedFiles.Add(staged);
    }

    /// <summary>Moves every staged file onto its final path; a staged file that was never written is an error.</summary>
    public void Commit()
    {
        foreach (var (staged, final) in _files)
            if (!File.Exists(staged))
                throw new ImageOutputException(final, "nothing was written for it");
        foreach (var (staged, final) in _files)
        {
            try { File.Move(staged, final, _overwrite); UnfinishedFiles.Remove(staged); }
            catch (IOException e) when (!_overwrite && File.Exists(final))
            {
                throw new ImageOutputException(final, "it appeared while the job ran (pass overwrite to replace it)", e);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ImageOutputException(final, $"cannot move the result into place: {e.Message}", e);
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

    /// <summary>Deletes staged files not committed (a job that failed or was cancelled).</summary>
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
