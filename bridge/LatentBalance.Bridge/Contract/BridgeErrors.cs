namespace LatentBalance.Bridge.Contract;

/// <summary>Transport names and numbers for <see cref="BridgeErrorCode"/>, in one place.</summary>
public static class BridgeErrors
{
    /// <summary>Prefix of our D-Bus error names.</summary>
    public const string DBusErrorPrefix = EngineBusNames.Interface + ".Error.";

    /// <summary>JSON-RPC application error codes are 1000 + the enum value (outside the reserved -32768..-32000 range).</summary>
    public const int JsonRpcBase = 1000;

    public static string ToDBusName(BridgeErrorCode code) => DBusErrorPrefix + code;

    public static int ToJsonRpcCode(BridgeErrorCode code) => JsonRpcBase + (int)code;

    /// <summary>The wire spelling of a code (its enum name), e.g. "NotFound".</summary>
    public static string ToWire(BridgeErrorCode code) => code.ToString();

    public static bool TryParseWire(string? text, out BridgeErrorCode code)
    {
        code = default;
        return !string.IsNullOrEmpty(text)
            && Enum.TryParse(text, ignoreCase: false, out code)
            && Enum.IsDefined(code);
    }

    /// <summary>Maps a D-Bus error name (ours or a standard freedesktop one) to a code.</summary>
    public static BridgeErrorCode FromDBusName(string? name)
    {
        if (name is null) return BridgeErrorCode.Internal;
        if (name.StartsWith(DBusErrorPrefix, StringComparison.Ordinal)
            && TryParseWire(name[DBusErrorPrefix.Length..], out var code))
            return code;
        return name switch
        {
            "org.freedesktop.DBus.Error.InvalidArgs" or "org.freedesktop.DBus.Error.InvalidSignature" => BridgeErrorCode.InvalidArgument,
            "org.freedesktop.DBus.Error.UnknownMethod" or "org.freedesktop.DBus.Error.UnknownInterface"
                or "org.freedesktop.DBus.Error.UnknownObject" or "org.freedesktop.DBus.Error.NotSupported" => BridgeErrorCode.Unsupported,
            "org.freedesktop.DBus.Error.ServiceUnknown" or "org.freedesktop.DBus.Error.NameHasNoOwner"
                or "org.freedesktop.DBus.Error.NoServer" or "org.freedesktop.DBus.Error.Disconnected" => BridgeErrorCode.Unavailable,
            "org.freedesktop.DBus.Error.NoReply" or "org.freedesktop.DBus.Error.Timeout" or "org.freedesktop.DBus.Error.TimedOut" => BridgeErrorCode.Timeout,
            "org.freedesktop.DBus.Error.AccessDenied" or "org.freedesktop.DBus.Error.FileNotFound" => BridgeErrorCode.IoError,
            "org.freedesktop.DBus.Error.LimitsExceeded" => BridgeErrorCode.Busy,
            _ => BridgeErrorCode.Internal,
        };
    }

    /// <summary>Maps a JSON-RPC error code (ours or a standard one) to a code.</summary>
    public static BridgeErrorCode FromJsonRpcCode(int code, string? dataCode)
    {
        if (TryParseWire(dataCode, out var fromData)) return fromData;
        int value = code - JsonRpcBase;
        if (Enum.IsDefined(typeof(BridgeErrorCode), value)) return (BridgeErrorCode)value;
        return code switch
        {
            -32602 or -32700 or -32600 => BridgeErrorCode.InvalidArgument, // invalid params / parse error / invalid request
            -32601 => BridgeErrorCode.Unsupported,                         // method not found
            _ => BridgeErrorCode.Internal,
        };
    }
}
