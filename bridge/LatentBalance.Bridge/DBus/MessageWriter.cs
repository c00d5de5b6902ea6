using System.Runtime.InteropServices;

namespace LatentBalance.Bridge.DBus;

/// <summary>
/// Appends typed arguments to a message body (or to a container being built). Containers are written with
/// callbacks so that they are always closed (or abandoned on an exception).
/// </summary>
public sealed unsafe class MessageWriter : IDisposable
{
    private readonly DBusMessage _message;
    private void* _iter;

    private MessageWriter(DBusMessage message)
    {
        _message = message;
        _iter = NativeMemory.AllocZeroed(LibDBus.DBusMessageIterSize);
    }

    internal static MessageWriter ForMessage(DBusMessage message)
    {
        var w = new MessageWriter(message);
        LibDBus.dbus_message_iter_init_append(message.Handle, w._iter);
        return w;
    }

    private void* Iter => _iter != null ? _iter : throw new ObjectDisposedException(nameof(MessageWriter));

    public MessageWriter WriteString(string value) => WriteStringLike(LibDBus.TypeString, value ?? "");

    public MessageWriter WriteObjectPath(string value)
    {
        Names.CheckPath(value);
        return WriteStringLike(LibDBus.TypeObjectPath, value);
    }

    public MessageWriter WriteInt32(int value) => WriteBasic(LibDBus.TypeInt32, &value);
    public MessageWriter WriteUInt32(uint value) => WriteBasic(LibDBus.TypeUInt32, &value);
    public MessageWriter WriteInt64(long value) => WriteBasic(LibDBus.TypeInt64, &value);
    public MessageWriter WriteUInt64(ulong value) => WriteBasic(LibDBus.TypeUInt64, &value);
    public MessageWriter WriteByte(byte value) => WriteBasic(LibDBus.TypeByte, &value);
    public MessageWriter WriteDouble(double value) => WriteBasic(LibDBus.TypeDouble, &value);

    public MessageWriter WriteBoolean(bool value)
    {
        uint b = value ? 1u : 0u; // dbus_bool_t
        return WriteBasic(LibDBus.TypeBoolean, &b);
    }

    /// <summary>Appends a unix fd ('h'); libdbus duplicates it, the caller keeps its own fd. Needs a connection that can pass fds.</summary>
    public MessageWriter WriteUnixFd(int fd)
    {
        if (fd < 0) throw new ArgumentOutOfRangeException(nameof(fd), fd, "file descriptor must be >= 0");
        return WriteBasic(LibDBus.TypeUnixFd, &fd);
    }

    public MessageWriter WriteStringArray(IEnumerable<string> values) =>
        WriteArray("s", w => { foreach (var v in values) w.WriteString(v); });

    public MessageWriter WriteStringDictionary(IEnumerable<KeyValuePair<string, string>> values) =>
        WriteArray("{ss}", w =>
        {
            foreach (var kv in values) w.WriteDictEntry(e => e.WriteString(kv.Key).WriteString(kv.Value));
        });

    /// <summary>Writes an array whose elements have signature <paramref name="elementSignature"/> (e.g. "s", "{ss}", "(ssss)").</summary>
    public MessageWriter WriteArray(string elementSignature, Action<MessageWriter> writeElements) =>
        WriteContainer(LibDBus.TypeArray, elementSignature, writeElements);

    public MessageWriter WriteStruct(Action<MessageWriter> writeFields) => WriteContainer(LibDBus.TypeStruct, null, writeFields);

    public MessageWriter WriteDictEntry(Action<MessageWriter> writeKeyValue) => WriteContainer(LibDBus.TypeDictEntry, null, writeKeyValue);

    private MessageWriter WriteContainer(int type, string? signature, Action<MessageWriter> body)
    {
        var sub = new MessageWriter(_message);
        try
        {
            if (LibDBus.dbus_message_iter_open_container(Iter, type, signature, sub._iter) == 0)
                throw new OutOfMemoryException("dbus_message_iter_open_container failed");
            try
            {
                body(sub);
            }
            catch
            {
                LibDBus.dbus_message_iter_abandon_container(Iter, sub._iter);
                throw;
            }
            if (LibDBus.dbus_message_iter_close_container(Iter, sub._iter) == 0)
                throw new OutOfMemoryException("dbus_message_iter_close_container failed");
            return this;
        }
        finally
        {
            sub.Dispose();
        }
    }

    private MessageWriter WriteStringLike(int type, string value)
    {
        byte[] bytes = Names.ToUtf8Z(value);
        fixed (byte* p = bytes)
        {
            byte* ptr = p;
            if (LibDBus.dbus_message_iter_append_basic(Iter, type, &ptr) == 0)
                throw new OutOfMemoryException("dbus_message_iter_append_basic failed");
        }
        return this;
    }

    private MessageWriter WriteBasic(int type, void* value)
    {
        if (LibDBus.dbus_message_iter_append_basic(Iter, type, value) == 0)
            throw new OutOfMemoryException("dbus_message_iter_append_basic failed");
        return this;
    }

    public void Dispose()
    {
        if (_iter == null) return;
        NativeMemory.Free(_iter);
        _iter = null;
    }
}
