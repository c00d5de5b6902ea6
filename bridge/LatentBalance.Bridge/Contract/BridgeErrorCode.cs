namespace LatentBalance.Bridge.Contract;

/// <summary>
/// Stable error codes shared by every transport. The numeric values are part of the wire contract
/// (JSON-RPC error code = 1000 + value) and must never be renumbered; add new codes at the end.
/// </summary>
public enum BridgeErrorCode
{
    /// <summary>A request field is missing, malformed, out of range, or of the wrong type.</summary>
    InvalidArgument = 1,
    /// <summary>A job id, filter id, input file or model does not exist.</summary>
    NotFound = 2,
    /// <summary>The input file exists but is not a decodable image.</summary>
    BadImage = 3,
    /// <summary>Reading or writing a file failed (permissions, disk full, output exists without overwrite...).</summary>
    IoError = 4,
    /// <summary>The job or call was cancelled.</summary>
    Cancelled = 5,
    /// <summary>A wait or call ran past its time limit.</summary>
    Timeout = 6,
    /// <summary>The engine cannot take the request now (name already owned, queue full...).</summary>
    Busy = 7,
    /// <summary>Unknown method or a feature this engine does not support.</summary>
    Unsupported = 8,
    /// <summary>No engine is reachable: the daemon is not running or the connection was lost.</summary>
    Unavailable = 9,
    /// <summary>A bug or unexpected failure inside the engine.</summary>
    Internal = 10,
}
