using LatentBalance.Bridge.Contract;
using LatentBalance.Engine.Imaging;

namespace LatentBalance.Daemon;

/// <summary>
/// Checks made when a request arrives, before it is queued, so that the common mistakes come back as an
/// error reply at once (missing or unreadable input, not an image, absurd header, bad output path) rather
/// than as a failed job. Reads only the image header.
/// </summary>
public static class RequestChecks
{
    public static void Input(string path)
    {
        // the reader checks the path's kind first (a named pipe would block this thread for good), then
        // that it opens, then the header
        try { _ = PhotoReader.Open(path); }
        catch (Exception e) when (e is ImageInputException or NetVips.VipsException)
        {
            throw EngineErrors.ToBridge(e);
        }
    }

    /// <summary>An output file path: not a directory, its folder exists, not the input, no existing file unless <paramref name="overwrite"/>.</summary>
    public static void Output(string path, string inputPath, bool overwrite, string field, bool image)
    {
        if (Directory.Exists(path))
            throw new BridgeException(BridgeErrorCode.InvalidArgument, $"{field} '{path}' is a directory; give a file name");
        var dir = Path.GetDirectoryName(path);
        if (string.IsNullOrEmpty(dir) || !Directory.Exists(dir))
            throw new BridgeException(BridgeErrorCode.NotFound, $"the folder of {field} '{path}' does not exist");
        if (AtomicOutputFile.SameFile(path, inputPath))
            throw new BridgeException(BridgeErrorCode.InvalidArgument, $"{field} '{path}' is the input itself; refusing to overwrite the original");
        if (image && OutputFormats.TryFromPath(path) is null)
            throw new BridgeException(BridgeErrorCode.InvalidArgument, $"{field} '{path}': unknown image type '{Path.GetExtension(path)}' (use .jpg, .png, .tif or .webp)");
        if (!overwrite && File.Exists(path))
            throw new BridgeException(BridgeErrorCode.IoError, $"{field} '{path}' exists (pass overwrite to replace it)");
    }
}
