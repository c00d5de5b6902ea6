using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace LatentBalance.Engine.ModelFiles;

/// <summary>A storage named by a persistent id <c>('storage', torch.XStorage, key, location, numel)</c>.</summary>
internal sealed record PthStorageRef(ElementType Type, string Key, string Location, long Numel);

/// <summary>What <c>torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)</c> describes.</summary>
internal sealed record PthTensorRef(PthStorageRef Storage, long Offset, long[] Size, long[] Stride);

/// <summary>A dict or OrderedDict, in insertion order.</summary>
internal sealed class PthDict
{
    public List<KeyValuePair<object?, object?>> Items { get; } = [];
}

/// <summary>One of the allowed globals (a name only; nothing is ever imported or called).</summary>
internal sealed record PthGlobal(string Module, string Name)
{
    public override string ToString() => Module + "." + Name;
}

/// <summary>
/// A restricted pickle reader for PyTorch state dicts. It understands only the opcodes such a pickle uses
/// and builds plain data (dicts, tuples, numbers, strings, tensor descriptions). Globals are checked against
/// an allow-list the moment they are read (GLOBAL / STACK_GLOBAL): anything but <c>collections.OrderedDict</c>,
/// <c>torch._utils._rebuild_tensor_v2</c>, <c>torch._utils._rebuild_parameter</c> and the <c>torch.*Storage</c>
/// classes is refused with a <see cref="ModelFileException"/>. Nothing in the file is ever executed.
/// </summary>
internal sealed class PthUnpickler
{
    const int MaxDepthItems = 50_000_000; // guards against absurd counts in crafted files

    readonly byte[] _data;
    readonly string _file;
    int _pos;
    readonly List<object?> _stack = [];
    readonly Stack<int> _marks = new();
    readonly Dictionary<long, object?> _memo = [];

    public PthUnpickler(byte[] data, string fileName)
    {
        _data = data;
        _file = fileName;
    }

    /// <summary>Reads the pickle up to STOP and returns its top object.</summary>
    public object? Load()
    {
        while (true)
        {
            int at = _pos;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    {
                        int proto = ReadByte();
                        if (proto > 5) throw Error($"pickle protocol {proto} is not supported");
                        break;
                    }
                case 0x95: // FRAME (protocol 4): framing is only a read-ahead hint
                    ReadBytes(8);
                    break;
                case (byte)'.': // STOP
                    if (_stack.Count != 1) throw Error($"pickle ended with {_stack.Count} objects on the stack");
                    return _stack[0];
                case (byte)'(': // MARK
                    _marks.Push(_stack.Count);
                    break;
                case (byte)'0': // POP
                    Pop();
                    break;
                case (byte)'1': // POP_MARK
                    PopMark();
                    break;
                case (byte)'2': // DUP
                    Push(Peek());
                    break;
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;  // NEWTRUE
                case 0x89: Push(false); break; // NEWFALSE
                case (byte)'K': Push((long)ReadByte()); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break; // BININT2
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break; // BININT
                case 0x8a: Push(ReadLong(ReadByte())); break; // LONG1
                case 0x8b: Push(ReadLong(CheckedLength(BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))))); break; // LONG4
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break; // BINFLOAT
                case (byte)'X': Push(ReadUtf8(CheckedLength(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))))); break; // BINUNICODE
                case 0x8c: Push(ReadUtf8(ReadByte())); break; // SHORT_BINUNICODE
                case 0x8d: Push(ReadUtf8(CheckedLength(BinaryPrimitives.ReadInt64LittleEndian(ReadBytes(8))))); break; // BINUNICODE8
                case (byte)'U': Push(Encoding.Latin1.GetString(ReadBytes(ReadByte()))); break; // SHORT_BINSTRING
                case (byte)'T': Push(Encoding.Latin1.GetString(ReadBytes(CheckedLength(BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4)))))); break; // BINSTRING
                case (byte)'C': Push(ReadBytes(ReadByte()).ToArray()); break; // SHORT_BINBYTES
                case (byte)'B': Push(ReadBytes(CheckedLength(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))).ToArray()); break; // BINBYTES
                case (byte)')': Push(Array.Empty<object?>()); break; // EMPTY_TUPLE
                case 0x85: Push(new[] { Pop() }); break; // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; } // TUPLE3
                case (byte)'t': Push(PopMark().ToArray()); break; // TUPLE
                case (byte)']': Push(new List<object?>()); break; // EMPTY_LIST
                case (byte)'l': Push(PopMark()); break; // LIST
                case (byte)'a': { var v = Pop(); AsList(Peek()).Add(v); break; } // APPEND
                case (byte)'e': { var items = PopMark(); AsList(Peek()).AddRange(items); break; } // APPENDS
                case (byte)'}': Push(new PthDict()); break; // EMPTY_DICT
                case (byte)'d': // DICT
                    {
                        var items = PopMark();
                        var d = new PthDict();
                        AddPairs(d, items);
                        Push(d);
                        break;
                    }
                case (byte)'s': // SETITEM
                    {
                        var v = Pop(); var k = Pop();
                        AsDict(Peek()).Items.Add(new(k, v));
                        break;
                    }
                case (byte)'u': // SETITEMS
                    {
                        var items = PopMark();
                        AddPairs(AsDict(Peek()), items);
                        break;
                    }
                case (byte)'q': _memo[ReadByte()] = Peek(); break; // BINPUT
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))] = Peek(); break; // LONG_BINPUT
                case 0x94: _memo[_memo.Count] = Peek(); break; // MEMOIZE
                case (byte)'h': Push(MemoGet(ReadByte())); break; // BINGET
                case (byte)'j': Push(MemoGet(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break; // LONG_BINGET
                case (byte)'c': // GLOBAL
                    {
                        string module = ReadLine();
                        string name = ReadLine();
                        Push(ResolveGlobal(module, name));
                        break;
                    }
                case 0x93: // STACK_GLOBAL
                    {
                        var name = Pop() as string ?? throw Error("STACK_GLOBAL needs string names");
                        var module = Pop() as string ?? throw Error("STACK_GLOBAL needs string names");
                        Push(ResolveGlobal(module, name));
                        break;
                    }
                case (byte)'Q': // BINPERSID
                    Push(PersistentLoad(Pop()));
                    break;
                case (byte)'R': // REDUCE
                    {
                        var args = Pop() as object?[] ?? throw Error("REDUCE arguments are not a tuple");
                        var callable = Pop();
                        Push(Reduce(callable, args));
                        break;
                    }
                case (byte)'b': // BUILD
                    {
                        var state = Pop();
                        var target = Peek();
                        // OrderedDict state carries the state_dict's _metadata (module versions): not needed.
                        if (target is not PthDict)
                            throw Error($"BUILD on a {Describe(target)} is not supported");
                        _ = state;
                        break;
                    }
                default:
                    throw Error($"pickle opcode 0x{op:x2} ('{(op >= 32 && op < 127 ? (char)op : '?')}') at byte {at} is not allowed in a state dict");
            }
        }
    }

    object ResolveGlobal(string module, string name)
    {
        bool allowed = (module, name) switch
        {
            ("collections", "OrderedDict") => true,
            ("torch._utils", "_rebuild_tensor_v2") => true,
            ("torch._utils", "_rebuild_parameter") => true,
            ("torch", _) when ElementTypes.FromGlobalName(name) != null => true,
            _ => false,
        };
        if (!allowed)
            throw new ModelFileException(
                $"{_file}: refused pickle global '{module}.{name}': only PyTorch state-dict globals (collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.*Storage) are allowed; the file may be malicious or is not a plain state dict");
        return new PthGlobal(module, name);
    }

    object PersistentLoad(object? pid)
    {
        if (pid is not object?[] t || t.Length != 5 || t[0] is not "storage")
            throw Error($"persistent id {Describe(pid)} is not a ('storage', type, key, location, numel) tuple");
        if (t[1] is not PthGlobal { Module: "torch" } g || ElementTypes.FromGlobalName(g.Name) is not { } type)
            throw Error($"persistent id names storage type {Describe(t[1])}");
        if (t[2] is not string key || key.Length == 0 || key.Contains('/') || key.Contains('\\') || key.Contains(".."))
            throw Error($"persistent id has a bad storage key {Describe(t[2])}");
        if (t[4] is not long numel || numel < 0)
            throw Error($"storage '{key}' has a bad element count {Describe(t[4])}");
        return new PthStorageRef(type, key, t[3] as string ?? "", numel);
    }

    object? Reduce(object? callable, object?[] args)
    {
        if (callable is not PthGlobal g) throw Error($"REDUCE on a {Describe(callable)} is not allowed");
        switch (g.Module, g.Name)
        {
            case ("collections", "OrderedDict"):
                if (args.Length != 0) throw Error("OrderedDict with constructor arguments is not supported");
                return new PthDict();
            case ("torch._utils", "_rebuild_tensor_v2"):
                {
                    if (args.Length < 4) throw Error("_rebuild_tensor_v2 has too few arguments");
                    var storage = args[0] as PthStorageRef ?? throw Error($"_rebuild_tensor_v2 storage is a {Describe(args[0])}");
                    if (args[1] is not long offset || offset < 0) throw Error("_rebuild_tensor_v2 has a bad storage offset");
                    var size = LongTuple(args[2], "size");
                    var stride = LongTuple(args[3], "stride");
                    if (size.Length != stride.Length) throw Error($"tensor size has {size.Length} dims but stride has {stride.Length}");
                    long last = offset; bool empty = false;
                    foreach (var (n, s) in size.Zip(stride))
                    {
                        if (n < 0 || s < 0) throw Error("negative tensor size or stride");
                        if (n == 0) empty = true; else last += (n - 1) * s;
                    }
                    if (!empty && last >= storage.Numel)
                        throw Error($"tensor (offset {offset}, size [{string.Join(",", size)}], stride [{string.Join(",", stride)}]) reaches past storage '{storage.Key}' of {storage.Numel} elements");
                    return new PthTensorRef(storage, offset, size, stride);
                }
            case ("torch._utils", "_rebuild_parameter"):
                if (args.Length < 1 || args[0] is not PthTensorRef tensor) throw Error("_rebuild_parameter needs a tensor");
                return tensor;
            default:
                throw Error($"calling '{g}' is not allowed");
        }
    }

    long[] LongTuple(object? o, string what)
    {
        if (o is not object?[] t) throw Error($"tensor {what} is a {Describe(o)}, not a tuple");
        var r = new long[t.Length];
        for (int i = 0; i < t.Length; i++)
            r[i] = t[i] as long? ?? throw Error($"tensor {what} holds a {Describe(t[i])}");
        return r;
    }

    void AddPairs(PthDict d, List<object?> items)
    {
        if (items.Count % 2 != 0) throw Error("odd number of items for a dict");
        for (int i = 0; i < items.Count; i += 2) d.Items.Add(new(items[i], items[i + 1]));
    }

    List<object?> AsList(object? o) => o as List<object?> ?? throw Error($"APPEND to a {Describe(o)}");
    PthDict AsDict(object? o) => o as PthDict ?? throw Error($"SETITEM on a {Describe(o)}");

    object? MemoGet(long i) => _memo.TryGetValue(i, out var v) ? v : throw Error($"memo entry {i} read before it was written");

    void Push(object? o) => _stack.Add(o);

    object? Peek() => _stack.Count > (_marks.Count > 0 ? _marks.Peek() : 0)
        ? _stack[^1]
        : throw Error("pickle stack underflow");

    object? Pop()
    {
        var o = Peek();
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Error("pickle MARK missing");
        int m = _marks.Pop();
        var items = _stack.GetRange(m, _stack.Count - m);
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    byte ReadByte() => _pos < _data.Length ? _data[_pos++] : throw Error("pickle is truncated");

    ReadOnlySpan<byte> ReadBytes(int n)
    {
        if (n < 0 || n > _data.Length - _pos) throw Error("pickle is truncated");
        var s = _data.AsSpan(_pos, n);
        _pos += n;
        return s;
    }

    int CheckedLength(long n) => n < 0 || n > _data.Length - _pos || n > MaxDepthItems ? throw Error("pickle is truncated (length past the end)") : (int)n;

    string ReadUtf8(int n)
    {
        try { return new UTF8Encoding(false, true).GetString(ReadBytes(n)); }
        catch (DecoderFallbackException e) { throw new ModelFileException($"{_file}: pickle holds invalid UTF-8", e); }
    }

    string ReadLine()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0 || end - _pos > 256) throw Error("GLOBAL name is truncated or too long");
        var s = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    long ReadLong(int n)
    {
        var bytes = ReadBytes(n);
        if (n == 0) return 0;
        if (n > 8) throw Error("integer too large");
        var v = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        return (long)v;
    }

    static string Describe(object? o) => o switch
    {
        null => "None",
        string s => $"'{s}'",
        long l => l.ToString(),
        PthGlobal g => g.ToString(),
        _ => o.GetType().Name,
    };

    ModelFileException Error(string reason) => new($"{_file}: not a valid PyTorch state dict: {reason}");
}
