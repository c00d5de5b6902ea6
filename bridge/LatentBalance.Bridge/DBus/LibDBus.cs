using System.Runtime.InteropServices;

namespace LatentBalance.Bridge.DBus;

/// <summary>
/// P/Invoke surface of libdbus-1.so.3 (only what the bridge uses). Strings passed in are UTF-8;
/// const char* results are borrowed (never freed) unless noted. libdbus aborts the process on
/// "check failures" (invalid names, get_basic on the wrong type...), so callers validate first.
/// </summary>
internal static unsafe partial class LibDBus
{
    private const string Lib = "libdbus-1.so.3";

    // Message types (dbus-protocol.h).
    public const int MessageTypeMethodCall = 1;
    public const int MessageTypeMethodReturn = 2;
    public const int MessageTypeError = 3;
    public const int MessageTypeSignal = 4;

    // Type codes.
    public const int TypeInvalid = 0;
    public const int TypeByte = 'y';
    public const int TypeBoolean = 'b';
    public const int TypeInt16 = 'n';
    public const int TypeUInt16 = 'q';
    public const int TypeInt32 = 'i';
    public const int TypeUInt32 = 'u';
    public const int TypeInt64 = 'x';
    public const int TypeUInt64 = 't';
    public const int TypeDouble = 'd';
    public const int TypeString = 's';
    public const int TypeObjectPath = 'o';
    public const int TypeSignature = 'g';
    public const int TypeUnixFd = 'h';
    public const int TypeArray = 'a';
    public const int TypeVariant = 'v';
    public const int TypeStruct = 'r';
    public const int TypeDictEntry = 'e';

    public const int BusSession = 0;
    public const uint NameFlagDoNotQueue = 4;
    public const int RequestNameReplyPrimaryOwner = 1;
    public const int RequestNameReplyInQueue = 2;
    public const int RequestNameReplyExists = 3;
    public const int RequestNameReplyAlreadyOwner = 4;
    public const int TimeoutInfinite = 0x7fffffff;

    /// <summary>sizeof(DBusError) is 32 on LP64 (2 pointers, bitfield word, pointer); we allocate more.</summary>
    public const int DBusErrorSize = 64;
    /// <summary>sizeof(DBusMessageIter) is 72 on LP64; we allocate more.</summary>
    public const int DBusMessageIterSize = 128;

    [LibraryImport(Lib)] public static partial int dbus_threads_init_default();

    [LibraryImport(Lib)] public static partial void dbus_error_init(void* error);
    [LibraryImport(Lib)] public static partial int dbus_error_is_set(void* error);
    [LibraryImport(Lib)] public static partial void dbus_error_free(void* error);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr dbus_connection_open_private(string address, void* error);
    [LibraryImport(Lib)] public static partial IntPtr dbus_bus_get_private(int type, void* error);
    [LibraryImport(Lib)] public static partial int dbus_bus_register(IntPtr connection, void* error);
    [LibraryImport(Lib)] public static partial IntPtr dbus_bus_get_unique_name(IntPtr connection);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int dbus_bus_request_name(IntPtr connection, string name, uint flags, void* error);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int dbus_bus_name_has_owner(IntPtr connection, string name, void* error);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial void dbus_bus_add_match(IntPtr connection, string rule, void* error);

    [LibraryImport(Lib)] public static partial void dbus_connection_set_exit_on_disconnect(IntPtr connection, int exitOnDisconnect);
    [LibraryImport(Lib)] public static partial void dbus_connection_close(IntPtr connection);
    [LibraryImport(Lib)] public static partial void dbus_connection_unref(IntPtr connection);
    [LibraryImport(Lib)] public static partial int dbus_connection_get_is_connected(IntPtr connection);
    [LibraryImport(Lib)] public static partial int dbus_connection_get_unix_fd(IntPtr connection, int* fd);
    [LibraryImport(Lib)] public static partial int dbus_connection_can_send_type(IntPtr connection, int type);
    [LibraryImport(Lib)] public static partial int dbus_connection_read_write(IntPtr connection, int timeoutMs);
    [LibraryImport(Lib)] public static partial int dbus_connection_read_write_dispatch(IntPtr connection, int timeoutMs);
    [LibraryImport(Lib)] public static partial IntPtr dbus_connection_pop_message(IntPtr connection);
    [LibraryImport(Lib)] public static partial int dbus_connection_send(IntPtr connection, IntPtr message, uint* serial);
    [LibraryImport(Lib)] public static partial IntPtr dbus_connection_send_with_reply_and_block(IntPtr connection, IntPtr message, int timeoutMs, void* error);
    [LibraryImport(Lib)] public static partial void dbus_connection_flush(IntPtr connection);
    [LibraryImport(Lib)] public static partial int dbus_connection_has_messages_to_send(IntPtr connection);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr dbus_message_new_method_call(string? destination, string path, string? iface, string method);
    [LibraryImport(Lib)] public static partial IntPtr dbus_message_new_method_return(IntPtr methodCall);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr dbus_message_new_error(IntPtr replyTo, string errorName, string? errorMessage);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr dbus_message_new_signal(string path, string iface, string name);
    [LibraryImport(Lib)] public static partial IntPtr dbus_message_ref(IntPtr message);
    [LibraryImport(Lib)] public static partial void dbus_message_unref(IntPtr message);
    [LibraryImport(Lib)] public static partial int dbus_message_get_type(IntPtr message);
    [LibraryImport(Lib)] public static partial IntPtr dbus_message_get_interface(IntPtr message);
    [LibraryImport(Lib)] public static partial IntPtr dbus_message_get_member(IntPtr message);
    [LibraryImport(Lib)] public static partial IntPtr dbus_message_get_path(IntPtr message);
    [LibraryImport(Lib)] public static partial IntPtr dbus_message_get_sender(IntPtr message);
    [LibraryImport(Lib)] public static partial IntPtr dbus_message_get_destination(IntPtr message);
    [LibraryImport(Lib)] public static partial IntPtr dbus_message_get_error_name(IntPtr message);
    [LibraryImport(Lib)] public static partial IntPtr dbus_message_get_signature(IntPtr message);
    [LibraryImport(Lib)] public static partial uint dbus_message_get_serial(IntPtr message);
    [LibraryImport(Lib)] public static partial uint dbus_message_get_reply_serial(IntPtr message);
    [LibraryImport(Lib)] public static partial int dbus_message_get_no_reply(IntPtr message);
    [LibraryImport(Lib)] public static partial void dbus_message_set_no_reply(IntPtr message, int noReply);

    [LibraryImport(Lib)] public static partial int dbus_message_iter_init(IntPtr message, void* iter);
    [LibraryImport(Lib)] public static partial void dbus_message_iter_init_append(IntPtr message, void* iter);
    [LibraryImport(Lib)] public static partial int dbus_message_iter_get_arg_type(void* iter);
    [LibraryImport(Lib)] public static partial int dbus_message_iter_get_element_type(void* iter);
    [LibraryImport(Lib)] public static partial void dbus_message_iter_get_basic(void* iter, void* value);
    [LibraryImport(Lib)] public static partial int dbus_message_iter_next(void* iter);
    [LibraryImport(Lib)] public static partial void dbus_message_iter_recurse(void* iter, void* sub);
    [LibraryImport(Lib)] public static partial int dbus_message_iter_append_basic(void* iter, int type, void* value);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int dbus_message_iter_open_container(void* iter, int type, string? containedSignature, void* sub);
    [LibraryImport(Lib)] public static partial int dbus_message_iter_close_container(void* iter, void* sub);
    [LibraryImport(Lib)] public static partial void dbus_message_iter_abandon_container(void* iter, void* sub);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int dbus_validate_bus_name(string name, void* error);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int dbus_validate_path(string path, void* error);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int dbus_signature_validate(string signature, void* error);

    [LibraryImport(Lib)] public static partial IntPtr dbus_try_get_local_machine_id(void* error);
    [LibraryImport(Lib)] public static partial void dbus_free(IntPtr memory);

    public static string? Str(IntPtr p) => p == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(p);

    private static int _threadsInitialised;

    /// <summary>Makes libdbus thread-safe; must run before the first connection is opened.</summary>
    public static void EnsureThreadsInitialised()
    {
        if (Interlocked.Exchange(ref _threadsInitialised, 1) == 0 && dbus_threads_init_default() == 0)
            throw new OutOfMemoryException("dbus_threads_init_default failed");
    }
}

/// <summary>libc calls used by the connection loop (poll + eventfd wake-up).</summary>
internal static unsafe partial class LibC
{
    public const short PollIn = 0x001;
    public const short PollOut = 0x004;
    public const short PollErr = 0x008;
    public const short PollHup = 0x010;
    public const short PollNval = 0x020;
    public const int EfdCloexec = 0x80000;
    public const int EfdNonblock = 0x800;
    public const int EINTR = 4;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    [LibraryImport("libc", SetLastError = true)] public static partial int poll(PollFd* fds, nuint nfds, int timeoutMs);
    [LibraryImport("libc", SetLastError = true)] public static partial int eventfd(uint initval, int flags);
    [LibraryImport("libc", SetLastError = true)] public static partial nint read(int fd, void* buf, nuint count);
    [LibraryImport("libc", SetLastError = true)] public static partial nint write(int fd, void* buf, nuint count);
    [LibraryImport("libc", SetLastError = true)] public static partial int close(int fd);
}
