using System.IO.Compression;
using System.Text;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.Vae;
using TorchSharp;
using static TorchSharp.torch;
using Xunit.Abstractions;

namespace LatentBalance.Engine.Tests.ModelFiles;

public class PthReaderTests(ITestOutputHelper output)
{
    static string EncoderPth => Path.Combine(TestPaths.Taef2Dir, "taef2_encoder.pth");
    static string DecoderPth => Path.Combine(TestPaths.Taef2Dir, "taef2_decoder.pth");

    [Fact]
    public void ReadsAll79EncoderTensorsAsFloat32WithTheirValues()
    {
        var sd = PthReader.Read(EncoderPth);
        Assert.Equal(79, sd.Count);
        Assert.All(sd.Values, t => { Assert.True(t.FloatingPoint); Assert.Equal(t.Shape.Aggregate(1L, (n, d) => n * d), t.Data.LongLength); });
        Assert.Equal([64L, 3, 3, 3], sd["0.weight"].Shape);
        Assert.Equal([64L], sd["0.bias"].Shape);
        Assert.Equal([64L, 64, 3, 3], sd["2.weight"].Shape);
        Assert.Equal([256L, 64, 1, 1], sd["11.pool.0.weight"].Shape);
        Assert.Equal([256L], sd["11.pool.1.bias"].Shape);
        Assert.Equal([64L, 256, 1, 1], sd["13.pool.3.weight"].Shape);
        Assert.Equal([32L, 64, 3, 3], sd["14.weight"].Shape);
        // Reference numbers decoded from the raw float16 storages with Python's struct module.
        Assert.Equal(-0.07586669921875f, sd["0.weight"].Data[((5 * 3 + 1) * 3 + 2) * 3 + 0]);
        Assert.Equal(105.61050260066986, sd["0.weight"].Data.Sum(v => (double)Math.Abs(v)), 3);
        Assert.Equal(-0.050537109375f, sd["14.bias"].Data[7]);
        Assert.Equal("0.weight", sd.Keys.First()); // checkpoint order is kept
    }

    [Fact]
    public void ReadsAll79DecoderTensors()
    {
        var sd = PthReader.Read(DecoderPth);
        Assert.Equal(79, sd.Count);
        Assert.Equal([64L, 32, 3, 3], sd["1.weight"].Shape);
        Assert.Equal([3L, 64, 3, 3], sd["19.weight"].Shape);
        Assert.True(sd.Values.All(t => t.Data.All(float.IsFinite)));
    }

    /// <summary>SHA-256 over every tensor (ordinal key order: the key, its shape as "[a,b]", its float32 bytes) as the
    /// TorchSharp reader gave them before the readers were made torch-free (2026-12-01): the array reader gives the same
    /// numbers, and the torch networks get exactly those numbers.</summary>
    [Theory]
    [InlineData("taef2_encoder.pth", 79, "a8eb93cdefa419fe910df22d216f6dd07786c09efc24d1776908b0ac638a13fd")]
    [InlineData("taef2_decoder.pth", 79, "999d41e46613c2f7a8eb33862a1b65d09ee6e3ec8fdad1922fd5a07edc622a9d")]
    [InlineData("balancer.safetensors", 76, "52770815e0e8bcd56791fea17c7bd611a1e7ec1a56a1066853fc0aa72e6638e8")]
    public void ArrayReaderAndTorchNetworksHoldTheTorchReadersValues(string file, int count, string sha256)
    {
        var balancer = Path.Combine(TestPaths.RepoRoot, "models", "default", "balancer");
        var path = file.EndsWith(".pth") ? Path.Combine(TestPaths.Taef2Dir, file) : Path.Combine(balancer, file);
        var arrays = WeightArray.ReadFile(path);
        Assert.Equal(count, arrays.Count);
        Assert.Equal(sha256, Digest(arrays.Select(kv => (kv.Key, kv.Value.Shape, kv.Value.Data))));

        // the torch consumer: a network loaded through Pretrained.LoadInto holds the same values
        using var net = file switch
        {
            "taef2_encoder.pth" => TinyAutoencoderNetworks.Encoder(Pretrained.ReadConfig<TinyAutoencoderConfig>(TestPack.Taef2Config)),
            "taef2_decoder.pth" => TinyAutoencoderNetworks.Decoder(Pretrained.ReadConfig<TinyAutoencoderConfig>(TestPack.Taef2Config)),
            _ => (nn.Module)new BalancerNet(Pretrained.ReadConfig<BalancerConfig>(Path.Combine(balancer, BalancerNet.ConfigFile))),
        };
        Pretrained.LoadInto(net, path);
        var state = net.state_dict();
        Assert.Equal(arrays.Keys.Order(StringComparer.Ordinal), state.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(sha256, Digest(state.Select(kv => (kv.Key, kv.Value.shape, kv.Value.contiguous().data<float>().ToArray()))));
    }

    static string Digest(IEnumerable<(string Key, long[] Shape, float[] Data)> tensors)
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var (key, shape, data) in tensors.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            sha.AppendData(Encoding.UTF8.GetBytes($"{key}[{string.Join(",", shape)}]"));
            sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
        }
        return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }

    [Fact]
    public void ConvertsStorageTypesAndHonoursOffsetAndStrides()
    {
        var dir = TestPaths.TempDir("pth");
        var path = Path.Combine(dir, "types.pth");
        var b = new PthTestCheckpoint();
        b.AddStorage("s0", "FloatStorage", PthTestCheckpoint.Bytes<float>([0f, 1f, 2f, 3f, 4f, 5f, 6f]));
        b.AddStorage("s1", "DoubleStorage", PthTestCheckpoint.Bytes<double>([1.5, -2.25, 1e10]));
        b.AddStorage("s2", "LongStorage", PthTestCheckpoint.Bytes<long>([-7, 1L << 40]));
        b.AddStorage("s3", "BFloat16Storage", PthTestCheckpoint.Bytes<ushort>([0x3FC0, 0xC040])); // 1.5, -3
        b.AddStorage("s4", "HalfStorage", PthTestCheckpoint.Bytes<Half>([(Half)0.5f, (Half)(-1024f)]));
        b.AddStorage("s5", "IntStorage", PthTestCheckpoint.Bytes<int>([42, -42]));
        // A transposed 2x3 view starting at offset 1: rows are storage[1,3,5] and [2,4,6].
        b.AddTensor("transposed", "s0", offset: 1, size: [2, 3], stride: [1, 2]);
        b.AddTensor("shared_tail", "s0", offset: 5, size: [2], stride: [1], asParameter: true);
        // a 3-d view with a broadcast (stride 0) dimension: [2, 2, 2] reading storage[0 + 2i + k]
        b.AddTensor("broadcast", "s0", offset: 0, size: [2, 2, 2], stride: [2, 0, 1]);
        b.AddTensor("double", "s1", 0, [3], [1]);
        b.AddTensor("long", "s2", 0, [2], [1]);
        b.AddTensor("bf16", "s3", 0, [2], [1]);
        b.AddTensor("half", "s4", 0, [2], [1]);
        b.AddTensor("int_scalar", "s5", 1, [], []);
        b.Write(path);

        var sd = PthReader.Read(path);
        Assert.Equal(new[] { "transposed", "shared_tail", "broadcast", "double", "long", "bf16", "half", "int_scalar" }, sd.Keys);
        Assert.Equal([2L, 3], sd["transposed"].Shape);
        Assert.Equal(new float[] { 1, 3, 5, 2, 4, 6 }, sd["transposed"].Data);
        Assert.Equal(new float[] { 5, 6 }, sd["shared_tail"].Data);
        Assert.Equal(new float[] { 0, 1, 0, 1, 2, 3, 2, 3 }, sd["broadcast"].Data);
        Assert.Equal(new float[] { 1.5f, -2.25f, 1e10f }, sd["double"].Data);
        Assert.Equal(new float[] { -7f, 1L << 40 }, sd["long"].Data);
        Assert.Equal(new float[] { 1.5f, -3f }, sd["bf16"].Data);
        Assert.Equal(new float[] { 0.5f, -1024f }, sd["half"].Data);
        Assert.Empty(sd["int_scalar"].Shape);
        Assert.Equal([-42f], sd["int_scalar"].Data);
        Assert.Equal([true, true, true, true, false, true, true, false], sd.Values.Select(t => t.FloatingPoint));
        // as weights, integer storages are refused
        Assert.StartsWith($"{path}: 'long' is stored as integers", Assert.Throws<ModelFileException>(() => WeightArray.ReadFile(path)).Message);
    }

    [Fact]
    public void TensorReachingPastItsStorageIsRefused()
    {
        var path = Path.Combine(TestPaths.TempDir("pth"), "oob.pth");
        var b = new PthTestCheckpoint();
        b.AddStorage("0", "FloatStorage", PthTestCheckpoint.Bytes<float>([1f, 2f, 3f, 4f]));
        b.AddTensor("w", "0", offset: 1, size: [2, 2], stride: [2, 1]); // last element index 1+2+1 = 4 >= 4
        b.Write(path);
        var e = Assert.Throws<ModelFileException>(() => PthReader.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("past storage", e.Message);
    }

    [Fact]
    public void StorageMissingFromTheZipOrTooShortIsRefused()
    {
        var dir = TestPaths.TempDir("pth");
        var missing = Path.Combine(dir, "missing.pth");
        var b = new PthTestCheckpoint();
        b.AddTensor("w", "7", 0, [2], [1], storageType: "FloatStorage", numel: 2);
        b.Write(missing);
        Assert.Contains("missing from the zip", Assert.Throws<ModelFileException>(() => PthReader.Read(missing)).Message);

        var shortFile = Path.Combine(dir, "short.pth");
        b = new PthTestCheckpoint();
        b.AddStorage("0", "FloatStorage", PthTestCheckpoint.Bytes<float>([1f]));
        b.AddTensor("w", "0", 0, [2], [1], numel: 2);
        b.Write(shortFile);
        var e = Assert.Throws<ModelFileException>(() => PthReader.Read(shortFile));
        Assert.Contains("'0'", e.Message);
    }

    [Fact]
    public void AZipBombCheckpointIsRefusedBeforeItIsInflated()
    {
        // issue 13 item 5: a 1 MB checkpoint whose storage inflates to gigabytes took 8.4 GB before it was refused
        var path = Path.Combine(TestPaths.TempDir("pth-bomb"), "bomb.pth");
        const long floats = 128L << 20; // 512 MB of zeros
        var pickle = new PthTestCheckpoint();
        pickle.AddTensor("w", "0", 0, [floats], [1], storageType: "FloatStorage", numel: floats);
        pickle.Write(path, zeroStorages: new() { ["0"] = floats * 4 });
        output.WriteLine($"bomb: {new FileInfo(path).Length} bytes on disk for {floats * 4} inflated");
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var e = Assert.Throws<ModelFileException>(() => PthReader.Read(path));
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        output.WriteLine($"{e.Message}; allocated {allocated / 1e6:F1} MB");
        Assert.Contains("bomb.pth", e.Message);
        Assert.Contains("decompression bomb", e.Message);
        Assert.True(allocated < 200_000_000, $"{allocated} bytes allocated before the refusal");
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.05)]
    [InlineData(0.995)]
    public void TruncatedCheckpointGivesModelFileException(double keep)
    {
        var bytes = File.ReadAllBytes(EncoderPth);
        var path = Path.Combine(TestPaths.TempDir("pth"), "truncated.pth");
        File.WriteAllBytes(path, bytes.AsSpan(0, (int)(bytes.Length * keep)).ToArray());
        var e = Assert.Throws<ModelFileException>(() => PthReader.Read(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void GarbageEmptyAndMissingFilesGiveModelFileException()
    {
        var dir = TestPaths.TempDir("pth");
        var garbage = Path.Combine(dir, "garbage.pth");
        var rng = new Random(1234);
        var junk = new byte[100_000];
        rng.NextBytes(junk);
        File.WriteAllBytes(garbage, junk);
        Assert.Contains(garbage, Assert.Throws<ModelFileException>(() => PthReader.Read(garbage)).Message);

        var empty = Path.Combine(dir, "empty.pth");
        File.WriteAllBytes(empty, []);
        Assert.Throws<ModelFileException>(() => PthReader.Read(empty));

        var missing = Path.Combine(dir, "nope.pth");
        Assert.Contains(missing, Assert.Throws<ModelFileException>(() => PthReader.Read(missing)).Message);

        var notCheckpoint = Path.Combine(dir, "plain.zip");
        using (var zip = ZipFile.Open(notCheckpoint, ZipArchiveMode.Create))
            using (var s = zip.CreateEntry("readme.txt").Open()) s.Write("hello"u8);
        Assert.Contains("data.pkl", Assert.Throws<ModelFileException>(() => PthReader.Read(notCheckpoint)).Message);
    }

    [Fact]
    public void GarbagePickleInsideAValidZipGivesModelFileException()
    {
        var dir = TestPaths.TempDir("pth");
        var rng = new Random(99);
        // Real pickle cut short, and random bytes after a valid PROTO header.
        var real = ExtractPickle(EncoderPth);
        var cases = new List<byte[]> { real[..(real.Length / 2)], real[..1], Array.Empty<byte>() };
        for (int i = 0; i < 50; i++)
        {
            var junk = new byte[rng.Next(1, 400)];
            rng.NextBytes(junk);
            cases.Add([0x80, 0x02, .. junk]);
        }
        foreach (var pkl in cases)
        {
            var path = Path.Combine(dir, "bad.pth");
            PthTestCheckpoint.WriteRaw(path, pkl, []);
            Assert.Throws<ModelFileException>(() => PthReader.Read(path));
        }
    }

    static byte[] ExtractPickle(string pth)
    {
        using var zip = ZipFile.OpenRead(pth);
        var e = zip.Entries.First(e => e.FullName.EndsWith("/data.pkl"));
        using var s = e.Open();
        var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }
}

/// <summary>Writes small PyTorch-format zip checkpoints (pickle protocol 2) for tests.</summary>
internal sealed class PthTestCheckpoint
{
    readonly Dictionary<string, (string Type, byte[] Data)> _storages = [];
    readonly MemoryStream _items = new();

    public static byte[] Bytes<T>(T[] values) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    public void AddStorage(string key, string type, byte[] data) => _storages[key] = (type, data);

    public void AddTensor(string name, string storageKey, long offset, long[] size, long[] stride,
        bool asParameter = false, string? storageType = null, long? numel = null)
    {
        var type = storageType ?? _storages[storageKey].Type;
        long n = numel ?? _storages[storageKey].Data.Length / ElementSize(type);
        var p = new PickleWriter(_items);
        p.Unicode(name);
        if (asParameter) p.Global("torch._utils", "_rebuild_parameter");
        if (asParameter) p.Mark();
        p.Global("torch._utils", "_rebuild_tensor_v2");
        p.Mark();
        p.Mark(); p.Unicode("storage"); p.Global("torch", type); p.Unicode(storageKey); p.Unicode("cpu"); p.Int(n); p.Op('t');
        p.Op('Q');
        p.Int(offset);
        p.Tuple(size);
        p.Tuple(stride);
        p.Op(0x89);
        p.Global("collections", "OrderedDict"); p.Op(')'); p.Op('R');
        p.Op('t');
        p.Op('R');
        if (asParameter) { p.Op(0x89); p.Global("collections", "OrderedDict"); p.Op(')'); p.Op('R'); p.Op('t'); p.Op('R'); }
    }

    /// <param name="zeroStorages">storages written as this many zero bytes, deflated (a zip bomb)</param>
    public void Write(string path, Dictionary<string, long>? zeroStorages = null)
    {
        var pkl = new MemoryStream();
        var p = new PickleWriter(pkl);
        p.Proto();
        p.Global("collections", "OrderedDict"); p.Op(')'); p.Op('R');
        p.Mark();
        _items.WriteTo(pkl);
        p.Op('u');
        p.Op('.');
        WriteRaw(path, pkl.ToArray(), _storages.ToDictionary(kv => kv.Key, kv => kv.Value.Data), zeroStorages);
    }

    public static void WriteRaw(string path, byte[] pickle, Dictionary<string, byte[]> storages, Dictionary<string, long>? zeroStorages = null)
    {
        if (File.Exists(path)) File.Delete(path);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        void Add(string name, byte[] data)
        {
            using var s = zip.CreateEntry("archive/" + name, CompressionLevel.NoCompression).Open();
            s.Write(data);
        }
        Add("data.pkl", pickle);
        Add("byteorder", "little"u8.ToArray());
        foreach (var (k, v) in storages) Add("data/" + k, v);
        var zeros = new byte[1 << 20];
        foreach (var (k, n) in zeroStorages ?? [])
        {
            using var s = zip.CreateEntry("archive/data/" + k, CompressionLevel.SmallestSize).Open();
            for (long left = n; left > 0; left -= zeros.Length) s.Write(zeros, 0, (int)Math.Min(zeros.Length, left));
        }
    }

    static int ElementSize(string type) => type switch
    {
        "HalfStorage" or "BFloat16Storage" or "ShortStorage" => 2,
        "FloatStorage" or "IntStorage" => 4,
        "DoubleStorage" or "LongStorage" => 8,
        _ => 1,
    };
}

/// <summary>Emits individual pickle opcodes.</summary>
internal sealed class PickleWriter(Stream s)
{
    public void Op(char c) => s.WriteByte((byte)c);
    public void Op(byte b) => s.WriteByte(b);
    public void Proto(byte version = 2) { s.WriteByte(0x80); s.WriteByte(version); }
    public void Mark() => Op('(');
    public void Global(string module, string name) { Op('c'); s.Write(Encoding.ASCII.GetBytes(module + "\n" + name + "\n")); }

    public void Unicode(string text)
    {
        var b = Encoding.UTF8.GetBytes(text);
        Op('X');
        s.Write(BitConverter.GetBytes((uint)b.Length));
        s.Write(b);
    }

    public void Int(long v)
    {
        if (v is >= 0 and < 256) { Op('K'); s.WriteByte((byte)v); }
        else if (v is >= int.MinValue and <= int.MaxValue) { Op('J'); s.Write(BitConverter.GetBytes((int)v)); }
        else { Op(0x8a); s.WriteByte(8); s.Write(BitConverter.GetBytes(v)); }
    }

    public void Tuple(long[] values)
    {
        Mark();
        foreach (var v in values) Int(v);
        Op('t');
    }
}
