using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using LatentBalance.Engine.ModelFiles;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.ModelFiles;

public class SafeTensorsTests
{
    /// <summary>Lays out a file the way the reference Python writer does: u64 LE length, JSON padded with spaces to 8, data.</summary>
    static byte[] Build(string headerJson, byte[] data, bool pad = true)
    {
        var h = Encoding.UTF8.GetBytes(headerJson);
        int padding = pad ? (8 - h.Length % 8) % 8 : 0;
        var file = new byte[8 + h.Length + padding + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)(h.Length + padding));
        h.CopyTo(file, 8);
        for (int i = 0; i < padding; i++) file[8 + h.Length + i] = (byte)' ';
        data.CopyTo(file, 8 + h.Length + padding);
        return file;
    }

    static string WriteTemp(byte[] bytes, string name = "t.safetensors")
    {
        var p = Path.Combine(TestPaths.TempDir("safetensors"), name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    [Fact]
    public void RoundTrip_KeepsValuesShapesAndMetadata_AndLaysOutTheFileAsSpecified()
    {
        var dir = TestPaths.TempDir("safetensors-rt");
        var path = Path.Combine(dir, "w.safetensors");
        using var g = new torch.Generator(1);
        var tensors = new Dictionary<string, Tensor>
        {
            ["z.last"] = torch.randn([3, 5, 2], generator: g),
            ["a.first"] = torch.randn([7], generator: g),
            ["m.scalar"] = torch.tensor(3.25f),
            ["e.empty"] = torch.zeros([0, 4]),
            ["d.double"] = torch.tensor(new double[] { 1.0 / 3, -2 }),
        };
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "héllo \"quoted\"" };
        SafeTensors.Write(path, tensors, meta);

        Assert.Single(Directory.GetFiles(dir)); // no temp file left behind

        var bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, (8 + n) % 8);
        var header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        using (var doc = JsonDocument.Parse(header))
        {
            var names = doc.RootElement.EnumerateObject().Select(p => p.Name).Where(x => x != "__metadata__").ToArray();
            Assert.Equal(names.OrderBy(x => x, StringComparer.Ordinal), names);
            Assert.All(names, x => Assert.Equal("F32", doc.RootElement.GetProperty(x).GetProperty("dtype").GetString()));
        }
        Assert.Equal(8 + (long)n + 4 * (3 * 5 * 2 + 7 + 1 + 0 + 2), bytes.LongLength);

        var back = SafeTensors.Read(path);
        Assert.Equal(tensors.Keys.OrderBy(k => k), back.Keys.OrderBy(k => k));
        foreach (var (k, t) in tensors)
        {
            Assert.True(back[k].FloatingPoint);
            Assert.Equal(t.shape, back[k].Shape);
            using var f = t.to_type(ScalarType.Float32);
            Assert.Equal(f.numel() == 0 ? [] : f.data<float>().ToArray(), back[k].Data); // TorchSharp's ToArray throws on an empty tensor
        }
        Assert.Equal(meta, SafeTensors.ReadMetadata(path));
        foreach (var t in tensors.Values) t.Dispose();
    }

    [Fact]
    public void Write_ReplacesAnExistingFileWhole()
    {
        var path = Path.Combine(TestPaths.TempDir("safetensors-over"), "w.safetensors");
        File.WriteAllText(path, new string('x', 5000));
        using var t = torch.ones(2, 2);
        SafeTensors.Write(path, new Dictionary<string, Tensor> { ["w"] = t });
        Assert.Equal([1f, 1f, 1f, 1f], SafeTensors.Read(path)["w"].Data);
        Assert.Empty(SafeTensors.ReadMetadata(path));
    }

    [Fact]
    public void Read_PythonLayout_AllDTypes()
    {
        // What safetensors.torch.save_file writes for these tensors (hand-made bytes).
        var data = new List<byte>();
        void Add(params byte[] b) => data.AddRange(b);
        // F64 [0.25, -8]
        Add(BitConverter.GetBytes(0.25)); Add(BitConverter.GetBytes(-8.0));          // 0..16
        // I64 [7, -1]
        Add(BitConverter.GetBytes(7L)); Add(BitConverter.GetBytes(-1L));             // 16..32
        // F32 [[-2.5]]
        Add(BitConverter.GetBytes(-2.5f));                                            // 32..36
        // I32 scalar 42
        Add(BitConverter.GetBytes(42));                                               // 36..40
        // F16 [[1,2],[3,-0.5]] = 3C00 4000 4200 B800
        Add(0x00, 0x3C, 0x00, 0x40, 0x00, 0x42, 0x00, 0xB8);                          // 40..48
        // BF16 [1.5, -3] = 3FC0 C040
        Add(0xC0, 0x3F, 0x40, 0xC0);                                                  // 48..52
        var header =
            "{\"__metadata__\":{\"format\":\"pt\"}," +
            "\"f64\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}," +
            "\"i64\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[16,32]}," +
            "\"f32\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[32,36]}," +
            "\"i32\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[36,40]}," +
            "\"f16\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[40,48]}," +
            "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[48,52]}}";
        var path = WriteTemp(Build(header, data.ToArray()));

        var t = SafeTensors.Read(path);
        Assert.Equal(6, t.Count);
        Assert.Equal(new[] { 0.25f, -8f }, t["f64"].Data);
        Assert.True(t["f64"].FloatingPoint);
        Assert.Equal(new[] { 7f, -1f }, t["i64"].Data); // integer types are read as float32, marked
        Assert.False(t["i64"].FloatingPoint);
        Assert.Equal(new long[] { 1, 1 }, t["f32"].Shape);
        Assert.Equal([-2.5f], t["f32"].Data);
        Assert.False(t["i32"].FloatingPoint);
        Assert.Empty(t["i32"].Shape);
        Assert.Equal([42f], t["i32"].Data);
        Assert.Equal(new long[] { 2, 2 }, t["f16"].Shape);
        Assert.Equal(new[] { 1f, 2f, 3f, -0.5f }, t["f16"].Data);
        Assert.Equal(new[] { 1.5f, -3f }, t["bf16"].Data);
        Assert.True(t["f16"].FloatingPoint && t["bf16"].FloatingPoint);
        // as weights, an integer tensor is refused, naming the file and the key
        var e = Assert.Throws<ModelFileException>(() => WeightArray.ReadFile(path));
        Assert.StartsWith($"{path}: 'i64' is stored as integers or bools, not floating point", e.Message);
        Assert.Equal("pt", SafeTensors.ReadMetadata(path)["format"]);
        Assert.Equal(6, SafeTensors.ReadTensorInfos(path).Count);
    }

    [Fact]
    public void Read_UnpaddedHeaderAndNoMetadata_IsAccepted()
    {
        var path = WriteTemp(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
            [.. BitConverter.GetBytes(1f), .. BitConverter.GetBytes(2f)], pad: false));
        Assert.Equal(new[] { 1f, 2f }, SafeTensors.Read(path)["w"].Data);
        Assert.Empty(SafeTensors.ReadMetadata(path));
    }

    static ModelFileException Refused(byte[] file)
    {
        var path = WriteTemp(file, "bad.safetensors");
        var e = Assert.Throws<ModelFileException>(() => SafeTensors.Read(path));
        Assert.Contains(path, e.Message);
        // Metadata reading validates the same header.
        Assert.Throws<ModelFileException>(() => SafeTensors.ReadMetadata(path));
        return e;
    }

    static readonly byte[] EightBytes = new byte[8];

    [Fact]
    public void Corrupt_HeaderLengthBeyondFile()
    {
        var f = Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", EightBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(f, (ulong)f.Length); // claims more than the file has
        Assert.Contains("past the end of the file", Refused(f).Message);
        BinaryPrimitives.WriteUInt64LittleEndian(f, ulong.MaxValue);
        Assert.Contains("past the end of the file", Refused(f).Message);
    }

    [Fact]
    public void Corrupt_TooShortFile() =>
        Assert.Contains("shorter than the 8-byte header length", Refused([1, 2, 3]).Message);

    [Fact]
    public void Corrupt_OffsetsOutOfRange()
    {
        var e = Refused(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", EightBytes));
        Assert.Contains("'w'", e.Message);
        Assert.Contains("outside the 8-byte data section", e.Message);
        Assert.Contains("outside", Refused(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,2]}}", EightBytes)).Message);
    }

    [Fact]
    public void Corrupt_OverlappingOffsets()
    {
        var e = Refused(Build(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," +
            "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", EightBytes));
        Assert.Contains("overlap", e.Message);
        Assert.Contains("'a'", e.Message);
        Assert.Contains("'b'", e.Message);
    }

    [Fact]
    public void Corrupt_ShapeDoesNotMatchByteCount()
    {
        var e = Refused(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", EightBytes));
        Assert.Contains("needs 12 bytes", e.Message);
        Assert.Contains("hold 8", e.Message);
    }

    [Fact]
    public void Corrupt_UnknownDType()
    {
        var e = Refused(Build("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}}", EightBytes));
        Assert.Contains("unknown dtype 'F8_E4M3'", e.Message);
    }

    [Fact]
    public void Corrupt_NotJsonOrWrongEntries()
    {
        Assert.Contains("not valid JSON", Refused(Build("{\"w\": [", EightBytes)).Message);
        Assert.Contains("JSON object", Refused(Build("[1,2,3]", EightBytes)).Message);
        Assert.Contains("data_offsets", Refused(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", EightBytes)).Message);
        Assert.Contains("__metadata__", Refused(Build("{\"__metadata__\":{\"k\":1}}", EightBytes)).Message);
    }

    [Fact]
    public void Missing_File_IsAModelFileException()
    {
        var p = Path.Combine(TestPaths.TempDir("safetensors-missing"), "nope.safetensors");
        var e = Assert.Throws<ModelFileException>(() => SafeTensors.Read(p));
        Assert.Contains(p, e.Message);
    }
}
