using System.Runtime.InteropServices;

namespace LatentBalance.Bridge.DBus;

/// <summary>An initialised DBusError in unmanaged memory (freed with dbus_error_free on dispose).</summary>
internal sealed unsafe class NativeError : IDisposable
{
    public NativeError()
    {
        Ptr = NativeMemory.AllocZeroed(LibDBus.DBusErrorSize);
        LibDBus.dbus_error_init(Ptr);
    }

    public void* Ptr { get; private set; }

    public bool IsSet => LibDBus.dbus_error_is_set(Ptr) != 0;

    // struct DBusError { const char *name; const char *message; ... }
    public string? Name => LibDBus.Str(((IntPtr*)Ptr)[0]);
    public string? Message => LibDBus.Str(((IntPtr*)Ptr)[1]);

    /// <summary>Throws <see cref="DBusErrorException"/> if the error is set.</summary>
    public void ThrowIfSet(string what)
    {
        if (IsSet) throw new DBusErrorException(Name ?? "org.freedesktop.DBus.Error.Failed", $"{what}: {Message}");
    }

    public void Dispose()
    {
        if (Ptr == null) return;
        LibDBus.dbus_error_free(Ptr);
        NativeMemory.Free(Ptr);
        Ptr = null;
    }
}

/// <summary>A D-Bus error: either an error reply to a call or a failure reported by libdbus.</summary>
public sealed class DBusErrorException(string errorName, string message) : Exception(message)
{
    /// <summary>The D-Bus error name, e.g. "org.freedesktop.DBus.Error.ServiceUnknown".</summary>
    public string ErrorName { get; } = errorName;

    public override string ToString() => $"{ErrorName}: {Message}";
}
