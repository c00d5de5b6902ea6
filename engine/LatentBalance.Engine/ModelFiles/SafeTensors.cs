using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.ModelFiles;

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length N, N bytes of
/// UTF-8 JSON (<c>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}</c>,
/// offsets relative to the byte after the header), then the raw little-endian tensor data.
/// Every problem with a file is reported as a <see cref="ModelFileException"/> naming the file.
/// </summary>
public static class SafeTensors
{
    /// <summary>Header size limit; the reference implementation refuses more than 100 MB as well.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    const string MetadataKey = "__metadata__";

    /// <summary>One tensor's entry in the header.</summary>
    public sealed record TensorInfo(string Name, string DType, long[] Shape, long Begin, long End);

    /// <summary>
    /// Reads every tensor into a float32 array (F16, BF16, F64 and the integer and bool types converted; those last
    /// marked not <see cref="WeightArray.FloatingPoint"/>). No libtorch is involved.
    /// </summary>
    public static Dictionary<string, WeightArray> Read(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("SafeTensors needs a little-endian host");
        var (infos, _, dataStart, _) = ReadHeader(path);
        var result = new Dictionary<string, WeightArray>(StringComparer.Ordinal);
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            foreach (var info in infos.OrderBy(i => i.Begin))
                result[info.Name] = ReadTensor(fs, path, info, dataStart);
        }
        catch (Exception e) when (e is not ModelFileException)
        {
            throw new ModelFileException($"{path}: cannot read tensor data: {e.Message}", e);
        }
        return result;
    }

    /// <summary>The <c>__metadata__</c> string map (empty when the file has none).</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path) => ReadHeader(path).Metadata;

    /// <summary>The tensor entries of the header (name, dtype, shape, offsets) without reading any data.</summary>
    public static IReadOnlyList<TensorInfo> ReadTensorInfos(string path) => ReadHeader(path).Infos;

    /// <summary>
    /// Writes the tensors as F32 (converted and copied to the CPU), keys sorted ordinally, header
    /// padded with spaces to a multiple of 8 bytes. The file appears atomically (temp file, then rename).
    /// </summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var names = tensors.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
        foreach (var n in names)
        {
            if (n == MetadataKey) throw new ArgumentException($"{path}: a tensor may not be named {MetadataKey}");
            if (tensors[n] is null) throw new ArgumentException($"{path}: tensor '{n}' is null");
        }

        // Header first: offsets follow from the shapes alone.
        var header = new MemoryStream();
        using (var w = new Utf8JsonWriter(header))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(MetadataKey);
                foreach (var kv in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(kv.Key, kv.Value);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var n in names)
            {
                var t = tensors[n];
                long bytes = checked(t.numel() * 4);
                w.WriteStartObject(n);
                w.WriteString("dtype", "F32");
                w.WriteStartArray("shape");
                foreach (var d in t.shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        int pad = (int)((8 - header.Length % 8) % 8);
        for (int i = 0; i < pad; i++) header.WriteByte((byte)' ');

        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, "." + Path.GetFileName(full) + ".tmp-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Span<byte> len = stackalloc byte[8];
                BitConverter.TryWriteBytes(len, (ulong)header.Length);
                if (!BitConverter.IsLittleEndian) len.Reverse();
                fs.Write(len);
                header.Position = 0;
                header.CopyTo(fs);
                foreach (var n in names)
                {
                    using var c = tensors[n].detach().to(ScalarType.Float32, CPU).contiguous();
                    if (c.numel() > 0) fs.Write(c.bytes);
                }
                fs.Flush(true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch (Exception e)
        {
            try { File.Delete(tmp); } catch { /* best effort */ }
            if (e is ModelFileException or ArgumentException) throw;
            throw new ModelFileException($"{path}: cannot write safetensors file: {e.Message}", e);
        }
    }

    static WeightArray ReadTensor(FileStream fs, string path, TensorInfo info, long dataStart)
    {
        var type = ElementTypes.FromSafeTensors(info.DType)!.Value;
        long count = info.End - info.Begin;
        if (count > int.MaxValue)
            throw new ModelFileException($"{path}: tensor '{info.Name}' has {count} bytes; tensors over 2 GiB are not supported");
        var buffer = new byte[count];
        fs.Position = dataStart + info.Begin;
        fs.ReadExactly(buffer);
        return new(type.ToFloat32(buffer, (int)(count / type.ElementSize())), info.Shape, type.IsFloatingPoint());
    }

    static (List<TensorInfo> Infos, Dictionary<string, string> Metadata, long DataStart, long DataLength) ReadHeader(string path)
    {
        if (!File.Exists(path)) throw new ModelFileException($"{path}: safetensors file not found");
        byte[] headerBytes;
        long fileLength;
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            fileLength = fs.Length;
            if (fileLength < 8) throw new ModelFileException($"{path}: not a safetensors file: {fileLength} bytes, shorter than the 8-byte header length");
            Span<byte> len = stackalloc byte[8];
            fs.ReadExactly(len);
            if (!BitConverter.IsLittleEndian) len.Reverse();
            ulong n = BitConverter.ToUInt64(len);
            if (n > (ulong)(fileLength - 8))
                throw new ModelFileException($"{path}: header length {n} runs past the end of the file ({fileLength} bytes): truncated or not a safetensors file");
            if (n > MaxHeaderBytes) throw new ModelFileException($"{path}: header length {n} is over the {MaxHeaderBytes}-byte limit");
            if (n < 2) throw new ModelFileException($"{path}: header length {n} is too short for a JSON object");
            headerBytes = new byte[n];
            fs.ReadExactly(headerBytes);
        }
        catch (IOException e)
        {
            throw new ModelFileException($"{path}: cannot read safetensors header: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ModelFileException($"{path}: cannot read safetensors header: {e.Message}", e);
        }

        long dataStart = 8 + headerBytes.LongLength;
        long dataLength = fileLength - dataStart;
        var infos = new List<TensorInfo>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);

        JsonDocument doc;
        try
        {
            // Trailing spaces are the format's padding; JSON parsing ignores them.
            doc = JsonDocument.Parse(headerBytes, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new ModelFileException($"{path}: header is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelFileException($"{path}: header must be a JSON object, found {doc.RootElement.ValueKind}");
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == MetadataKey)
                {
                    if (prop.Value.ValueKind == JsonValueKind.Null) continue;
                    if (prop.Value.ValueKind != JsonValueKind.Object)
                        throw new ModelFileException($"{path}: {MetadataKey} must be an object of strings");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new ModelFileException($"{path}: {MetadataKey} value '{m.Name}' is not a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                infos.Add(ParseInfo(path, prop));
            }
        }

        // Offsets: inside the data section, no overlaps, byte count = elements x element size.
        foreach (var info in infos)
        {
            var mapped = ElementTypes.FromSafeTensors(info.DType)
                ?? throw new ModelFileException($"{path}: tensor '{info.Name}' has unknown dtype '{info.DType}' (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
            if (info.Begin < 0 || info.End < info.Begin || info.End > dataLength)
                throw new ModelFileException($"{path}: tensor '{info.Name}' data_offsets [{info.Begin}, {info.End}] are outside the {dataLength}-byte data section");
            long elements = 1;
            foreach (var d in info.Shape)
            {
                if (d < 0) throw new ModelFileException($"{path}: tensor '{info.Name}' has a negative dimension in shape [{string.Join(", ", info.Shape)}]");
                try { elements = checked(elements * d); }
                catch (OverflowException) { throw new ModelFileException($"{path}: tensor '{info.Name}' shape [{string.Join(", ", info.Shape)}] overflows"); }
            }
            long expected;
            try { expected = checked(elements * mapped.ElementSize()); }
            catch (OverflowException) { throw new ModelFileException($"{path}: tensor '{info.Name}' shape [{string.Join(", ", info.Shape)}] overflows"); }
            if (expected != info.End - info.Begin)
                throw new ModelFileException($"{path}: tensor '{info.Name}' shape [{string.Join(", ", info.Shape)}] {info.DType} needs {expected} bytes but data_offsets [{info.Begin}, {info.End}] hold {info.End - info.Begin}");
        }
        var sorted = infos.Where(i => i.End > i.Begin).OrderBy(i => i.Begin).ToList();
        for (int i = 1; i < sorted.Count; i++)
        {
            if (sorted[i].Begin < sorted[i - 1].End)
                throw new ModelFileException($"{path}: tensors '{sorted[i - 1].Name}' [{sorted[i - 1].Begin}, {sorted[i - 1].End}] and '{sorted[i].Name}' [{sorted[i].Begin}, {sorted[i].End}] overlap");
        }
        return (infos, metadata, dataStart, dataLength);
    }

    static TensorInfo ParseInfo(string path, JsonProperty prop)
    {
        var name = prop.Name;
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object) throw new ModelFileException($"{path}: header entry '{name}' is not an object");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new ModelFileException($"{path}: tensor '{name}' has no string 'dtype'");
        if (!v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw new ModelFileException($"{path}: tensor '{name}' has no 'shape' array");
        if (!v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new ModelFileException($"{path}: tensor '{name}' has no 'data_offsets' pair");
        var shape = new long[sh.GetArrayLength()];
        int k = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out shape[k]))
                throw new ModelFileException($"{path}: tensor '{name}' shape entry {k} is not an integer");
            k++;
        }
        var o = off.EnumerateArray().ToArray();
        if (o[0].ValueKind != JsonValueKind.Number || !o[0].TryGetInt64(out var begin) ||
            o[1].ValueKind != JsonValueKind.Number || !o[1].TryGetInt64(out var end))
            throw new ModelFileException($"{path}: tensor '{name}' data_offsets are not integers");
        return new TensorInfo(name, dt.GetString()!, shape, begin, end);
    }
}
