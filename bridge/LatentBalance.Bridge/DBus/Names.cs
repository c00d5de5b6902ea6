using System.Text;
using System.Text.RegularExpressions;

namespace LatentBalance.Bridge.DBus;

/// <summary>
/// Managed checks of D-Bus names before they reach libdbus (which aborts the process on an invalid name).
/// Rules from the D-Bus specification, "Valid Names".
/// </summary>
public static partial class Names
{
    [GeneratedRegex(@"^/$|^(/[A-Za-z0-9_]+)+$")] private static partial Regex PathRx();
    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")] private static partial Regex InterfaceRx();
    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*$")] private static partial Regex MemberRx();
    [GeneratedRegex(@"^(:[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+|[A-Za-z_-][A-Za-z0-9_-]*(\.[A-Za-z_-][A-Za-z0-9_-]*)+)$")] private static partial Regex BusNameRx();

    public static bool IsValidPath(string? s) => s is not null && PathRx().IsMatch(s);
    public static bool IsValidInterface(string? s) => s is not null && s.Length <= 255 && InterfaceRx().IsMatch(s);
    public static bool IsValidMember(string? s) => s is not null && s.Length <= 255 && MemberRx().IsMatch(s);
    public static bool IsValidBusName(string? s) => s is not null && s.Length <= 255 && BusNameRx().IsMatch(s);

    public static void CheckPath(string s) { if (!IsValidPath(s)) throw new ArgumentException($"invalid D-Bus object path '{s}'"); }
    public static void CheckInterface(string s) { if (!IsValidInterface(s)) throw new ArgumentException($"invalid D-Bus interface or error name '{s}'"); }
    public static void CheckMember(string s) { if (!IsValidMember(s)) throw new ArgumentException($"invalid D-Bus member name '{s}'"); }
    public static void CheckBusName(string s) { if (!IsValidBusName(s)) throw new ArgumentException($"invalid D-Bus bus name '{s}'"); }

    /// <summary>UTF-8 bytes (NUL-terminated) that libdbus accepts: lone surrogates become U+FFFD, NUL becomes U+FFFD.</summary>
    internal static byte[] ToUtf8Z(string s)
    {
        s = Sanitize(s);
        var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, 0, s.Length, bytes, 0);
        return bytes;
    }

    internal static string Sanitize(string s)
    {
        if (s.Contains('\0')) s = s.Replace('\0', '\uFFFD');
        // Encoding.UTF8 replaces lone surrogates with U+FFFD, so the round trip yields valid UTF-8 only.
        return Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s));
    }
}
