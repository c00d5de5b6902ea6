using LatentBalance.Bridge.Contract;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.ModelFiles;
using NetVips;

namespace LatentBalance.Daemon;

/// <summary>Maps engine exceptions to the bridge's stable error codes (the message names the file and the reason).</summary>
public static class EngineErrors
{
    public static BridgeException ToBridge(Exception ex) => ex switch
    {
        BridgeException b => b,
        AggregateException { InnerExceptions.Count: 1 } agg => ToBridge(agg.InnerExceptions[0]),
        ImageInputException e => new BridgeException(InputCode(e), e.Message, e),
        ImageOutputException e => new BridgeException(OutputCode(e), e.Message, e),
        ModelFileException e => new BridgeException(BridgeErrorCode.Unavailable, "the models are not usable: " + e.Message, e),
        CubeFormatException e => new BridgeException(BridgeErrorCode.InvalidArgument, e.Message, e),
        VipsException e => new BridgeException(BridgeErrorCode.BadImage, "image error: " + OneLine(e.Message), e),
        OperationCanceledException e => new BridgeException(BridgeErrorCode.Cancelled, "cancelled", e),
        OutOfMemoryException e => new BridgeException(BridgeErrorCode.Busy, "not enough memory for this image: " + e.Message, e),
        _ => BridgeException.From(ex),
    };

    static BridgeErrorCode InputCode(ImageInputException e)
    {
        if (e.Reason.Contains("file not found", StringComparison.Ordinal)) return BridgeErrorCode.NotFound;
        if (e.Reason.Contains("directory", StringComparison.Ordinal) || e.Reason.Contains("no file name", StringComparison.Ordinal))
            return BridgeErrorCode.InvalidArgument;
        if (e.InnerException is UnauthorizedAccessException or IOException) return BridgeErrorCode.IoError;
        return BridgeErrorCode.BadImage;
    }

    static BridgeErrorCode OutputCode(ImageOutputException e)
    {
        string r = e.Reason;
        if (r.Contains("does not exist", StringComparison.Ordinal)) return BridgeErrorCode.NotFound;
        if (r.Contains("directory", StringComparison.Ordinal) || r.Contains("input photo itself", StringComparison.Ordinal)
            || r.Contains("would replace the input", StringComparison.Ordinal) || r.Contains("no output file name", StringComparison.Ordinal)
            || r.Contains("extension", StringComparison.OrdinalIgnoreCase) || r.Contains("format", StringComparison.OrdinalIgnoreCase))
            return BridgeErrorCode.InvalidArgument;
        return BridgeErrorCode.IoError;
    }

    static string OneLine(string s) => string.Join("; ", s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().Take(4));
}
