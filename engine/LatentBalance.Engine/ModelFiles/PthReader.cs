using System.IO.Compression;

namespace LatentBalance.Engine.ModelFiles;

/// <summary>
/// Reads a PyTorch zip checkpoint (<c>torch.save(model.state_dict())</c>, format of PyTorch 1.6+) into float32 arrays,
/// without libtorch. The pickle is read with <see cref="PthUnpickler"/>, which allows only the globals a state dict needs,
/// so a malicious checkpoint is refused instead of run. Storages of type half, bfloat16, float, double, long, int,
/// short, char, byte and bool are converted to float32 (the integer and bool ones marked not
/// <see cref="WeightArray.FloatingPoint"/>); offsets and strides are honoured, each tensor gets its own array in C order.
/// </summary>
public static class PthReader
{
    /// <summary>Largest data.pkl accepted (a state dict's pickle is kilobytes).</summary>
    const long MaxPickleBytes = 64L << 20;

    /// <summary>torch.save stores its entries uncompressed; an entry that inflates more than this many
    /// times its stored size, past <see cref="InflateFloor"/>, is refused from the zip directory, before
    /// anything is allocated (a 1 MB zip-bomb checkpoint took 8.4 GB before it was refused).</summary>
    const int MaxInflateRatio = 8;
    const long InflateFloor = 16L << 20;

    /// <summary>
    /// Reads the state dict at <paramref name="path"/>.
    /// A checkpoint whose top object is a dict holding a <c>state_dict</c> dict is read through that entry.
    /// </summary>
    /// <exception cref="ModelFileException">missing, truncated, corrupt or unsafe file; the message names the file.</exception>
    public static Dictionary<string, WeightArray> Read(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("PthReader needs a little-endian host");
        FileStream fs;
        try { fs = File.OpenRead(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ModelFileException($"{path}: cannot open the checkpoint: {e.Message}", e);
        }
        using (fs)
        {
            try
            {
                using var zip = new ZipArchive(fs, ZipArchiveMode.Read, leaveOpen: false);
                return ReadZip(zip, path);
            }
            catch (ModelFileException) { throw; }
            catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException or NotSupportedException or InvalidOperationException or OverflowException)
            {
                throw new ModelFileException($"{path}: not a readable PyTorch zip checkpoint ({e.Message}); legacy non-zip torch.save files are not supported", e);
            }
        }
    }

    static Dictionary<string, WeightArray> ReadZip(ZipArchive zip, string path)
    {
        foreach (var e in zip.Entries)
            if (e.Length > InflateFloor && e.Length > MaxInflateRatio * Math.Max(1, e.CompressedLength))
                throw new ModelFileException($"{path}: zip entry '{e.FullName}' inflates from {e.CompressedLength} to {e.Length} bytes ({e.Length / Math.Max(1, e.CompressedLength)}:1): refused as a decompression bomb (PyTorch stores checkpoints uncompressed)");
        var pkl = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal)
                                                && e.FullName.Count(c => c == '/') <= 1
                                                && (e.FullName == "data.pkl" || e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)))
                  ?? throw new ModelFileException($"{path}: no data.pkl in the zip: not a PyTorch checkpoint");
        string prefix = pkl.FullName[..^"data.pkl".Length];

        var byteorder = zip.GetEntry(prefix + "byteorder");
        if (byteorder != null)
        {
            var order = System.Text.Encoding.ASCII.GetString(ReadEntry(byteorder, 64, path)).Trim();
            if (order != "little") throw new ModelFileException($"{path}: storages are '{order}'-endian; only little-endian checkpoints are supported");
        }

        object? top = new PthUnpickler(ReadEntry(pkl, MaxPickleBytes, path), path).Load();
        var dict = top as PthDict ?? throw new ModelFileException($"{path}: the checkpoint holds a {top?.GetType().Name ?? "None"}, not a state dict");
        if (!dict.Items.Any(kv => kv.Value is PthTensorRef)
            && dict.Items.FirstOrDefault(kv => kv.Key is "state_dict").Value is PthDict inner)
            dict = inner;

        var storages = new Dictionary<string, float[]>();
        var result = new Dictionary<string, WeightArray>();
        foreach (var (k, v) in dict.Items)
        {
            if (k is not string key) throw new ModelFileException($"{path}: state dict key {k} is not a string");
            if (v is not PthTensorRef t) throw new ModelFileException($"{path}: state dict entry '{key}' is not a tensor ({v?.GetType().Name ?? "None"})");
            if (result.ContainsKey(key)) throw new ModelFileException($"{path}: state dict key '{key}' appears twice");
            if (!storages.TryGetValue(t.Storage.Key, out var storage))
            {
                storage = LoadStorage(zip, prefix, t.Storage, path);
                storages[t.Storage.Key] = storage;
            }
            else if (storage.Length < t.Storage.Numel)
                throw new ModelFileException($"{path}: storage '{t.Storage.Key}' is named with different sizes");
            result[key] = new(Materialize(storage, t, key, path), t.Size, t.Storage.Type.IsFloatingPoint());
        }
        return result;
    }

    static float[] LoadStorage(ZipArchive zip, string prefix, PthStorageRef s, string path)
    {
        var entry = zip.GetEntry(prefix + "data/" + s.Key)
                    ?? throw new ModelFileException($"{path}: storage '{s.Key}' is named in the pickle but missing from the zip");
        long need = s.Numel * s.Type.ElementSize();
        if (need > Array.MaxLength) throw new ModelFileException($"{path}: storage '{s.Key}' is larger than 2 GB, which is not supported");
        var bytes = ReadEntry(entry, need, path);
        if (bytes.Length < need)
            throw new ModelFileException($"{path}: storage '{s.Key}' has {bytes.Length} bytes but {s.Numel} {s.Type} elements need {need}");
        return s.Type.ToFloat32(bytes, (int)s.Numel);
    }

    /// <summary>The view's elements in C order, copied out of the storage (the unpickler has checked that they lie inside it):
    /// a small tensor never pins a large shared storage.</summary>
    static float[] Materialize(float[] storage, PthTensorRef t, string key, string path)
    {
        long count = 1;
        foreach (var n in t.Size)
            count = n == 0 || count <= Array.MaxLength / n ? count * n
                : throw new ModelFileException($"{path}: tensor '{key}' of size [{string.Join(",", t.Size)}] has more than {Array.MaxLength} elements, which is not supported");
        var data = new float[count];
        var index = new long[t.Size.Length];
        long at = t.Offset;
        for (long i = 0; i < count; i++)
        {
            data[i] = storage[at];
            // odometer over the dimensions, last fastest
            for (int d = index.Length - 1; d >= 0; d--)
            {
                at += t.Stride[d];
                if (++index[d] < t.Size[d]) break;
                at -= t.Stride[d] * t.Size[d];
                index[d] = 0;
            }
        }
        return data;
    }

    static byte[] ReadEntry(ZipArchiveEntry entry, long max, string path)
    {
        if (entry.Length > max)
            throw new ModelFileException($"{path}: zip entry '{entry.FullName}' is {entry.Length} bytes, more than the {max} expected");
        using var s = entry.Open();
        var buf = new byte[entry.Length];
        int read = 0;
        while (read < buf.Length)
        {
            int n = s.Read(buf, read, buf.Length - read);
            if (n == 0) break;
            read += n;
        }
        if (read != buf.Length) throw new ModelFileException($"{path}: zip entry '{entry.FullName}' is truncated");
        return buf;
    }
}
