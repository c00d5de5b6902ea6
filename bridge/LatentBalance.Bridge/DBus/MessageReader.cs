using System.Runtime.InteropServices;

namespace LatentBalance.Bridge.DBus;

/// <summary>Thrown when a message body does not have the expected types (maps to org.freedesktop.DBus.Error.InvalidArgs).</summary>
public sealed class DBusSignatureException(string message) : Exception(message);

/// <summary>
/// Sequential typed reader over a message body or a container inside it. Every read checks the argument type
/// first (libdbus aborts on a mismatched get_basic) and throws <see cref="DBusSignatureException"/> on mismatch.
/// </summary>
public sealed unsafe class MessageReader : IDisposable
{
    private readonly DBusMessage _message; // keeps the message alive while we read it
    private void* _iter;
    private bool _hasArgs;

    private MessageReader(DBusMessage message)
    {
        _message = message;
        _iter = NativeMemory.AllocZeroed(LibDBus.DBusMessageIterSize);
    }

    internal static MessageReader ForMessage(DBusMessage message)
    {
        var r = new MessageReader(message);
        r._hasArgs = LibDBus.dbus_message_iter_init(message.Handle, r._iter) != 0;
        return r;
    }

    /// <summary>Type code at the cursor ('s', 'i', 'a', 'r', 'e', 'v'...), or 0 at the end.</summary>
    public int CurrentType => _hasArgs ? LibDBus.dbus_message_iter_get_arg_type(Iter) : LibDBus.TypeInvalid;

    public bool AtEnd => CurrentType == LibDBus.TypeInvalid;

    private void* Iter => _iter != null ? _iter : throw new ObjectDisposedException(nameof(MessageReader));

    public string ReadString() => ReadStringLike(LibDBus.TypeString);
    public string ReadObjectPath() => ReadStringLike(LibDBus.TypeObjectPath);
    public string ReadSignature() => ReadStringLike(LibDBus.TypeSignature);
    public int ReadInt32() => (int)ReadBasic(LibDBus.TypeInt32);
    public uint ReadUInt32() => (uint)ReadBasic(LibDBus.TypeUInt32);
    public long ReadInt64() => (long)ReadBasic(LibDBus.TypeInt64);
    public ulong ReadUInt64() => ReadBasic(LibDBus.TypeUInt64);
    public byte ReadByte() => (byte)ReadBasic(LibDBus.TypeByte);
    public bool ReadBoolean() => (uint)ReadBasic(LibDBus.TypeBoolean) != 0;
    public double ReadDouble() => BitConverter.UInt64BitsToDouble(ReadBasic(LibDBus.TypeDouble));

    /// <summary>Reads a unix fd ('h'). libdbus hands out a duplicate: the caller owns and must close it.</summary>
    public int ReadUnixFd() => (int)ReadBasic(LibDBus.TypeUnixFd);

    public string[] ReadStringArray()
    {
        var list = new List<string>();
        ReadArray(r => list.Add(r.ReadString()));
        return [.. list];
    }

    /// <summary>Reads a{ss}. Duplicate keys: the last wins.</summary>
    public Dictionary<string, string> ReadStringDictionary()
    {
        var dict = new Dictionary<string, string>(StringComparer.Ordinal);
        ReadArray(r => r.ReadDictEntry(e => dict[e.ReadString()] = e.ReadString()));
        return dict;
    }

    /// <summary>Reads an array, calling <paramref name="readElement"/> once per element with a reader positioned on it.</summary>
    public void ReadArray(Action<MessageReader> readElement)
    {
        using var sub = Enter(LibDBus.TypeArray);
        while (!sub.AtEnd)
        {
            var before = sub.Position();
            readElement(sub);
            if (sub.Position() == before) throw new InvalidOperationException("array element reader consumed nothing");
        }
    }

    public List<T> ReadArray<T>(Func<MessageReader, T> readElement)
    {
        var list = new List<T>();
        ReadArray(r => list.Add(readElement(r)));
        return list;
    }

    public T ReadStruct<T>(Func<MessageReader, T> readFields)
    {
        using var sub = Enter(LibDBus.TypeStruct);
        return readFields(sub);
    }

    public void ReadDictEntry(Action<MessageReader> readKeyValue)
    {
        using var sub = Enter(LibDBus.TypeDictEntry);
        readKeyValue(sub);
    }

    private int _position;
    private int Position() => _position;

    /// <summary>Opens the container at the cursor and advances past it.</summary>
    private MessageReader Enter(int type)
    {
        Expect(type);
        var sub = new MessageReader(_message) { _hasArgs = true };
        LibDBus.dbus_message_iter_recurse(Iter, sub._iter);
        Advance();
        return sub;
    }

    private string ReadStringLike(int type)
    {
        Expect(type);
        IntPtr p;
        LibDBus.dbus_message_iter_get_basic(Iter, &p);
        var s = LibDBus.Str(p) ?? "";
        Advance();
        return s;
    }

    private ulong ReadBasic(int type)
    {
        Expect(type);
        ulong value = 0; // DBusBasicValue is 8 bytes
        LibDBus.dbus_message_iter_get_basic(Iter, &value);
        Advance();
        return value;
    }

    private void Expect(int type)
    {
        int actual = CurrentType;
        if (actual != type)
            throw new DBusSignatureException(actual == LibDBus.TypeInvalid
                ? $"expected an argument of type '{(char)type}' but the message has no more arguments (signature '{_message.Signature}')"
                : $"expected an argument of type '{(char)type}' but found '{(char)actual}' (signature '{_message.Signature}')");
    }

    private void Advance()
    {
        _position++;
        if (LibDBus.dbus_message_iter_next(Iter) == 0) _hasArgs = false;
    }

    public void Dispose()
    {
        if (_iter == null) return;
        NativeMemory.Free(_iter);
        _iter = null;
    }
}
