namespace LatentBalance.Bridge.Contract;

/// <summary>
/// The one exception type that crosses the bridge. Engine implementations throw it with a stable
/// <see cref="Code"/>; hosts turn it into a D-Bus error (<c>org.latentbalance.Engine1.Error.&lt;Code&gt;</c>)
/// or a JSON-RPC error (code <c>1000 + (int)Code</c>, data <c>{"code":"&lt;Code&gt;"}</c>); clients turn those back into it.
/// </summary>
public sealed class BridgeException : Exception
{
    public BridgeException(BridgeErrorCode code, string message, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
    }

    public BridgeErrorCode Code { get; }

    public override string ToString() => $"{Code}: {Message}";

    /// <summary>Maps any exception to a bridge error (used by hosts before replying).</summary>
    public static BridgeException From(Exception ex) => ex switch
    {
        BridgeException b => b,
        OperationCanceledException => new BridgeException(BridgeErrorCode.Cancelled, ex.Message, ex),
        TimeoutException => new BridgeException(BridgeErrorCode.Timeout, ex.Message, ex),
        FileNotFoundException or DirectoryNotFoundException => new BridgeException(BridgeErrorCode.NotFound, ex.Message, ex),
        UnauthorizedAccessException or IOException => new BridgeException(BridgeErrorCode.IoError, ex.Message, ex),
        ArgumentException or FormatException => new BridgeException(BridgeErrorCode.InvalidArgument, ex.Message, ex),
        NotSupportedException or NotImplementedException => new BridgeException(BridgeErrorCode.Unsupported, ex.Message, ex),
        _ => new BridgeException(BridgeErrorCode.Internal, $"{ex.GetType().Name}: {ex.Message}", ex),
    };
}
