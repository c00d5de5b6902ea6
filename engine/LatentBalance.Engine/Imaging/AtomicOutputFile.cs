namespace LatentBalance.Engine.Imaging;

/// <summary>
/// Output path checks and write-to-temp-then-rename, so a failed or interrupted write never leaves a
/// partial or wrong file at the output path.
/// </summary>
public static class AtomicOutputFile
{
    /// <summary>Checks an output path and returns it made absolute. Refuses directories, missing folders
    /// and the input photo itself (unless <paramref name="allowOverwriteInput"/>).</summary>
    public static string Check(string outputPath, string? inputPath, bool allowOverwriteInput)
    {
        if (string.IsNullOrWhiteSpace(outputPath)) throw new ImageOutputException(outputPath ?? "", FileErrorKind.InvalidPath, "no output file name given");
        string full = Path.GetFullPath(outputPath);
        if (Directory.Exists(full)) throw new ImageOutputException(outputPath, FileErrorKind.InvalidPath, "it is an existing directory; give a file name");
        var dir = Path.GetDirectoryName(full);
        if (string.IsNullOrEmpty(dir) || !Directory.Exists(dir))
            throw new ImageOutputException(outputPath, FileErrorKind.NotFound, $"the folder '{dir}' does not exist");
        if (inputPath != null && SameFile(full, inputPath) && !allowOverwriteInput)
            throw new ImageOutputException(outputPath, FileErrorKind.InvalidPath, "it is the input photo itself; refusing to overwrite the original (pass the explicit overwrite option to replace it)");
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

    /// <summary>A hidden temporary file name in the output's own folder (so the final rename is atomic).</summary>
    public static string TempPathFor(string fullOutputPath) =>
        Path.Combine(Path.GetDirectoryName(fullOutputPath)!, $".{Path.GetFileName(fullOutputPath)}.{Guid.NewGuid().ToString("N")[..8]}.tmp");

    /// <summary>Runs <paramref name="write"/> on a temp path, then renames it onto the output; on any failure the temp file is deleted and nothing appears at the output.</summary>
    public static void Write(string fullOutputPath, Action<string> write)
    {
        var temp = UnfinishedFiles.Add(TempPathFor(fullOutputPath));
        try
        {
            write(temp);
            if (!File.Exists(temp)) throw new ImageOutputException(fullOutputPath, "the encoder produced no file");
            File.Move(temp, fullOutputPath, overwrite: true);
        }
        catch (Exception e)
        {
            TryDelete(temp);
            if (e is IOException or UnauthorizedAccessException)
                throw new ImageOutputException(fullOutputPath, e.Message, e);
            throw;
        }
        finally
        {
            UnfinishedFiles.Remove(temp);
        }
    }

    static void TryDelete(string p)
    {
        try { if (File.Exists(p)) File.Delete(p); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
