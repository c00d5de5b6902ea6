using LatentBalance.Engine.ModelFiles;

namespace LatentBalance.Engine.Tests.ModelFiles;

/// <summary>Checkpoints whose pickle tries to import or call something other than the state-dict globals.</summary>
public class PthPickleSafetyTests
{
    [Theory]
    [InlineData("posix", "system")]
    [InlineData("os", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("__builtin__", "exec")]
    [InlineData("subprocess", "Popen")]
    [InlineData("torch", "load")]             // a torch global that is not a storage class
    [InlineData("torch._utils", "_rebuild_device_tensor_from_numpy")]
    public void GlobalPlusReduceIsRefusedAndNothingRuns(string module, string name)
    {
        var dir = TestPaths.TempDir("pth-evil");
        var marker = Path.Combine(dir, "pwned");
        var pkl = new MemoryStream();
        var p = new PickleWriter(pkl);
        p.Proto();
        p.Global(module, name);
        p.Unicode($"touch {marker}");
        p.Op(0x85); // TUPLE1
        p.Op('R');  // REDUCE
        p.Op('.');
        var path = Path.Combine(dir, "evil.pth");
        PthTestCheckpoint.WriteRaw(path, pkl.ToArray(), []);

        var e = Assert.Throws<ModelFileException>(() => PthReader.Read(path));
        Assert.Contains($"refused pickle global '{module}.{name}'", e.Message);
        Assert.Contains(path, e.Message);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void StackGlobalOfProtocol4IsCheckedToo()
    {
        var dir = TestPaths.TempDir("pth-evil");
        var pkl = new MemoryStream();
        var p = new PickleWriter(pkl);
        p.Proto(4);
        p.Unicode("posix");
        p.Unicode("system");
        p.Op(0x93); // STACK_GLOBAL
        p.Unicode("echo hi");
        p.Op(0x85);
        p.Op('R');
        p.Op('.');
        var path = Path.Combine(dir, "evil4.pth");
        PthTestCheckpoint.WriteRaw(path, pkl.ToArray(), []);
        Assert.Contains("'posix.system'", Assert.Throws<ModelFileException>(() => PthReader.Read(path)).Message);
    }

    [Fact]
    public void EvilGlobalHiddenAfterValidTensorsIsStillRefused()
    {
        // A real-looking state dict whose last value is built by os.system.
        var dir = TestPaths.TempDir("pth-evil");
        var b = new PthTestCheckpoint();
        b.AddStorage("0", "FloatStorage", PthTestCheckpoint.Bytes<float>([1f, 2f]));
        b.AddTensor("w", "0", 0, [2], [1]);
        var path = Path.Combine(dir, "ok.pth");
        b.Write(path);
        Assert.Single(PthReader.Read(path));

        var pkl = new MemoryStream();
        var p = new PickleWriter(pkl);
        p.Proto();
        p.Global("collections", "OrderedDict"); p.Op(')'); p.Op('R');
        p.Mark();
        p.Unicode("x");
        p.Global("os", "system"); p.Unicode("true"); p.Op(0x85); p.Op('R');
        p.Op('u');
        p.Op('.');
        var evil = Path.Combine(dir, "evil.pth");
        PthTestCheckpoint.WriteRaw(evil, pkl.ToArray(), []);
        Assert.Contains("'os.system'", Assert.Throws<ModelFileException>(() => PthReader.Read(evil)).Message);
    }

    [Theory]
    [InlineData((byte)0x81)] // NEWOBJ
    [InlineData((byte)'i')]  // INST
    [InlineData((byte)'o')]  // OBJ
    [InlineData((byte)'P')]  // PERSID (text)
    public void ObjectBuildingOpcodesAreRefused(byte op)
    {
        var path = Path.Combine(TestPaths.TempDir("pth-evil"), "op.pth");
        PthTestCheckpoint.WriteRaw(path, [0x80, 0x02, (byte)'(', op, (byte)'.'], []);
        var e = Assert.Throws<ModelFileException>(() => PthReader.Read(path));
        Assert.Contains("not allowed", e.Message);
    }

    [Fact]
    public void StorageKeyWithPathSegmentsIsRefused()
    {
        var dir = TestPaths.TempDir("pth-evil");
        var b = new PthTestCheckpoint();
        b.AddTensor("w", "../../etc/passwd", 0, [1], [1], storageType: "ByteStorage", numel: 1);
        var path = Path.Combine(dir, "traversal.pth");
        b.Write(path);
        Assert.Contains("bad storage key", Assert.Throws<ModelFileException>(() => PthReader.Read(path)).Message);
    }
}
