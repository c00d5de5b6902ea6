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
        ImageFileException e => new BridgeException(Code(e.Kind), e.Message, e),
        ModelFileException e => new BridgeException(BridgeErrorCode.Unavailable, "the models are not usable: " + e.Message, e),
        CubeFormatException e => new BridgeException(BridgeErrorCode.InvalidArgument, e.Message, e),
        VipsException e => new BridgeException(BridgeErrorCode.BadImage, "image error: " + OneLine(e.Message), e),
        OperationCanceledException e => new BridgeException(BridgeErrorCode.Cancelled, "cancelled", e),
        OutOfMemoryException e => new BridgeException(BridgeErrorCode.Busy, "not enough memory for this image: " + e.Message, e),
        _ => BridgeException.From(ex),
    };

    static BridgeErrorCode Code(FileErrorKind kind) => kind switch
    {
        FileErrorKind.InvalidPath => BridgeErrorCode.InvalidArgument,
        FileErrorKind.NotFound => BridgeErrorCode.NotFound,
        FileErrorKind.AccessFailed => BridgeErrorCode.IoError,
        _ => BridgeErrorCode.BadImage,
    };

    static string OneLine(string s) => string.Join("; ", s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().Take(4));
}
