using System.Runtime.InteropServices;

namespace LatentBalance.Bridge.DBus;

/// <summary>Owns one reference to a libdbus DBusMessage.</summary>
internal sealed class DBusMessageHandle : SafeHandle
{
    public DBusMessageHandle(IntPtr message) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(message);
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle()
    {
        LibDBus.dbus_message_unref(handle);
        return true;
    }
}

/// <summary>
/// A D-Bus message (managed owner of one libdbus reference). Build bodies with <see cref="Writer"/>,
/// read them with <see cref="Reader"/>. Not thread-safe; hand it from thread to thread, do not share.
/// </summary>
public sealed class DBusMessage : IDisposable
{
    private readonly DBusMessageHandle _handle;

    internal DBusMessage(IntPtr message)
    {
        if (message == IntPtr.Zero) throw new OutOfMemoryException("libdbus could not allocate a message");
        _handle = new DBusMessageHandle(message);
    }

    internal IntPtr Handle => _handle.IsClosed ? throw new ObjectDisposedException(nameof(DBusMessage)) : _handle.DangerousGetHandle();

    /// <summary>Gives the reference to libdbus (e.g. after dbus_connection_send copied it) and forgets it here.</summary>
    internal IntPtr Detach()
    {
        var h = Handle;
        _handle.SetHandleAsInvalid();
        return h;
    }

    public static DBusMessage MethodCall(string? destination, string path, string? iface, string member)
    {
        Names.CheckPath(path);
        if (destination is not null) Names.CheckBusName(destination);
        if (iface is not null) Names.CheckInterface(iface);
        Names.CheckMember(member);
        return new DBusMessage(LibDBus.dbus_message_new_method_call(destination, path, iface, member));
    }

    public static DBusMessage Signal(string path, string iface, string member)
    {
        Names.CheckPath(path);
        Names.CheckInterface(iface);
        Names.CheckMember(member);
        return new DBusMessage(LibDBus.dbus_message_new_signal(path, iface, member));
    }

    public DBusMessage CreateReturn() => new(LibDBus.dbus_message_new_method_return(Handle));

    public DBusMessage CreateError(string errorName, string? message)
    {
        Names.CheckInterface(errorName); // error names follow interface-name rules
        return new DBusMessage(LibDBus.dbus_message_new_error(Handle, errorName, Names.Sanitize(message ?? "")));
    }

    public int Type => LibDBus.dbus_message_get_type(Handle);
    public bool IsMethodCall => Type == LibDBus.MessageTypeMethodCall;
    public bool IsError => Type == LibDBus.MessageTypeError;
    public bool IsSignal => Type == LibDBus.MessageTypeSignal;
    public string? Interface => LibDBus.Str(LibDBus.dbus_message_get_interface(Handle));
    public string? Member => LibDBus.Str(LibDBus.dbus_message_get_member(Handle));
    public string? Path => LibDBus.Str(LibDBus.dbus_message_get_path(Handle));
    public string? Sender => LibDBus.Str(LibDBus.dbus_message_get_sender(Handle));
    public string? Destination => LibDBus.Str(LibDBus.dbus_message_get_destination(Handle));
    public string? ErrorName => LibDBus.Str(LibDBus.dbus_message_get_error_name(Handle));
    public string Signature => LibDBus.Str(LibDBus.dbus_message_get_signature(Handle)) ?? "";
    public uint Serial => LibDBus.dbus_message_get_serial(Handle);
    public uint ReplySerial => LibDBus.dbus_message_get_reply_serial(Handle);
    public bool NoReply
    {
        get => LibDBus.dbus_message_get_no_reply(Handle) != 0;
        set => LibDBus.dbus_message_set_no_reply(Handle, value ? 1 : 0);
    }

    /// <summary>For error replies: the first string argument (the human-readable message), if any.</summary>
    public string ErrorMessage
    {
        get
        {
            using var r = Reader();
            return r.CurrentType == LibDBus.TypeString ? r.ReadString() : "";
        }
    }

    /// <summary>Reader positioned at the first argument.</summary>
    public MessageReader Reader() => MessageReader.ForMessage(this);

    /// <summary>Writer that appends arguments to the body.</summary>
    public MessageWriter Writer() => MessageWriter.ForMessage(this);

    public override string ToString() =>
        $"{TypeName(Type)} {Interface}.{Member} path={Path} sender={Sender} sig='{Signature}' serial={Serial}";

    private static string TypeName(int type) => type switch
    {
        LibDBus.MessageTypeMethodCall => "call",
        LibDBus.MessageTypeMethodReturn => "return",
        LibDBus.MessageTypeError => "error",
        LibDBus.MessageTypeSignal => "signal",
        _ => "invalid",
    };

    public void Dispose() => _handle.Dispose();
}
