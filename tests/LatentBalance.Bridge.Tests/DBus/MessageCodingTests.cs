using LatentBalance.Bridge.DBus;

namespace LatentBalance.Bridge.Tests.DBus;

/// <summary>libdbus marshalling through our reader/writer, on real messages (no bus needed).</summary>
public sealed class MessageCodingTests
{
    private static DBusMessage NewCall() => DBusMessage.MethodCall("org.example.Test", "/org/example", "org.example.Iface", "Do");

    [Fact]
    public void Every_supported_type_round_trips()
    {
        using var m = NewCall();
        using (var w = m.Writer())
            w.WriteString("héllo ✓").WriteInt32(-5).WriteUInt32(7).WriteInt64(long.MinValue).WriteUInt64(ulong.MaxValue)
             .WriteDouble(0.1).WriteBoolean(true).WriteByte(200).WriteObjectPath("/a/b")
             .WriteStringArray(["x", "", "z"]).WriteStringDictionary(new Dictionary<string, string> { ["k"] = "v", ["é"] = "" })
             .WriteArray("(si)", a => a.WriteStruct(s => s.WriteString("one").WriteInt32(1)).WriteStruct(s => s.WriteString("two").WriteInt32(2)));
        Assert.Equal("siuxtdbyoasa{ss}a(si)", m.Signature);
        using var r = m.Reader();
        Assert.Equal("héllo ✓", r.ReadString());
        Assert.Equal(-5, r.ReadInt32());
        Assert.Equal(7u, r.ReadUInt32());
        Assert.Equal(long.MinValue, r.ReadInt64());
        Assert.Equal(ulong.MaxValue, r.ReadUInt64());
        Assert.Equal(0.1, r.ReadDouble());
        Assert.True(r.ReadBoolean());
        Assert.Equal(200, r.ReadByte());
        Assert.Equal("/a/b", r.ReadObjectPath());
        Assert.Equal(["x", "", "z"], r.ReadStringArray());
        Assert.Equal(new Dictionary<string, string> { ["k"] = "v", ["é"] = "" }, r.ReadStringDictionary());
        Assert.Equal([("one", 1), ("two", 2)], r.ReadArray(e => e.ReadStruct(s => (s.ReadString(), s.ReadInt32()))));
        Assert.True(r.AtEnd);
    }

    [Fact]
    public void Unix_fds_are_duplicated_into_and_out_of_messages()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "fd-content");
            using var fs = File.OpenRead(path);
            int fd = (int)fs.SafeFileHandle.DangerousGetHandle();
            using var m = NewCall();
            using (var w = m.Writer()) w.WriteUnixFd(fd);
            Assert.Equal("h", m.Signature);
            using var r = m.Reader();
            int dup = r.ReadUnixFd();
            Assert.NotEqual(fd, dup);
            using var copy = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(dup, ownsHandle: true), FileAccess.Read);
            Assert.Equal("fd-content", new StreamReader(copy).ReadToEnd());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Reading_the_wrong_type_throws_instead_of_aborting_the_process()
    {
        using var m = NewCall();
        using (var w = m.Writer()) w.WriteInt32(1);
        using var r = m.Reader();
        var ex = Assert.Throws<DBusSignatureException>(() => r.ReadString());
        Assert.Contains("'s'", ex.Message);
        Assert.Equal(1, r.ReadInt32());
        Assert.Throws<DBusSignatureException>(() => r.ReadInt32()); // past the end
    }

    [Fact]
    public void Strings_libdbus_would_reject_are_sanitised_not_fatal()
    {
        using var m = NewCall();
        using (var w = m.Writer()) w.WriteString("a\0b").WriteString("lone \ud800 surrogate");
        using var r = m.Reader();
        Assert.Equal("a\uFFFDb", r.ReadString());
        Assert.Equal("lone \uFFFD surrogate", r.ReadString());
    }

    [Theory]
    [InlineData("relative/path")]
    [InlineData("/trailing/")]
    [InlineData("/with-dash")]
    public void Invalid_object_paths_are_rejected_before_libdbus_sees_them(string path)
    {
        Assert.Throws<ArgumentException>(() => DBusMessage.MethodCall(null, path, null, "X"));
    }

    [Theory]
    [InlineData("org.latentbalance.Engine1", true)]
    [InlineData(":1.42", true)]
    [InlineData("noDots", false)]
    [InlineData("org..double", false)]
    [InlineData("1org.starts.digit", false)]
    public void Bus_name_validation_follows_the_spec(string name, bool valid) => Assert.Equal(valid, Names.IsValidBusName(name));

    [Fact]
    public void An_exception_inside_a_container_abandons_it_and_the_message_stays_usable()
    {
        using var m = NewCall();
        using (var w = m.Writer())
        {
            Assert.Throws<InvalidOperationException>(() => w.WriteArray("s", a => { a.WriteString("x"); throw new InvalidOperationException("boom"); }));
        }
        Assert.Equal("", m.Signature);
    }
}
