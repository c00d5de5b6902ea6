using System.Security.Cryptography;
using LatentBalance.Engine.ModelFiles;

namespace LatentBalance.Engine.Tests.ModelFiles;

public class ModelStoreTests
{
    const string Enc = ModelManifest.Taef2Encoder;
    static string SharedModels => Path.Combine(TestPaths.Shared, "models");
    static string EncoderSha => ModelManifest.BuiltIn.Get(Enc).Sha256;

    static ModelStore MirrorStore(string mirror, string? cache = null) => new(ModelManifest.BuiltIn, new ModelStoreOptions
    {
        CacheDir = cache ?? TestPaths.TempDir("cache"),
        MirrorDir = mirror,
        UseEnvironment = false,
        AllowDownload = false,
    });

    static string Sha(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    sealed class Recorder : IProgress<ModelFetchProgress>
    {
        public List<ModelFetchProgress> Seen { get; } = [];
        public void Report(ModelFetchProgress value) { lock (Seen) Seen.Add(value); }
    }

    [Fact]
    public void BuiltInManifest_PinsTheTaesdCommitAndHashes()
    {
        var m = ModelManifest.BuiltIn;
        var enc = m.Get(Enc);
        var dec = m.Get(ModelManifest.Taef2Decoder);
        Assert.Equal("https://github.com/madebyollin/taesd/raw/5cccb12dc72074a4be35680c3b108548a7c69978/taef2_encoder.pth", enc.Url);
        Assert.Equal("10a4e1021e89d7551eaf161352da8dbd0b1aa83872ae28b150c1df1ce2f147b6", enc.Sha256);
        Assert.Equal("0a44a31e1ae59eb9dbf9359d24942fd3ef5928162c1800d97a28c61d51be0ab5", dec.Sha256);
        Assert.EndsWith("/taef2_decoder.pth", dec.Url);
        var e = Assert.Throws<ModelFileException>(() => m.Get("nope/x.pth"));
        Assert.Contains("nope/x.pth", e.Message);
    }

    [Theory]
    [InlineData("../x.pth")]
    [InlineData("/etc/passwd")]
    [InlineData("a//b")]
    [InlineData("a/./b")]
    [InlineData("a\\b")]
    [InlineData("")]
    public void Manifest_RefusesUnsafeIds(string id) =>
        Assert.Throws<ModelFileException>(() => new ModelManifest([new ModelFileEntry(id, "https://example.org/x", new string('0', 64))]));

    [Fact]
    public void Manifest_RefusesBadHashAndDuplicates()
    {
        Assert.Contains("64 hex", Assert.Throws<ModelFileException>(() => new ModelManifest([new ModelFileEntry("a/b", "https://example.org/x", "abc")])).Message);
        var e = new ModelFileEntry("a/b", "https://example.org/x", new string('0', 64));
        Assert.Contains("twice", Assert.Throws<ModelFileException>(() => new ModelManifest([e, e])).Message);
    }

    [Fact]
    public void DefaultCacheDir_FollowsTheEnvironmentOrder()
    {
        var env = new Dictionary<string, string?> { ["HOME"] = "/home/u" };
        string? Get(string k) => env.GetValueOrDefault(k);
        Assert.Equal("/home/u/.cache/latentbalance/models", ModelStore.DefaultCacheDir(Get));
        env["XDG_CACHE_HOME"] = "/xdg";
        Assert.Equal("/xdg/latentbalance/models", ModelStore.DefaultCacheDir(Get));
        env["LATENTBALANCE_CACHE"] = "/lb";
        Assert.Equal("/lb", ModelStore.DefaultCacheDir(Get));
    }

    [Fact]
    public void Mirror_CopiesVerifiedFileIntoCache_ThenServesTheCache()
    {
        using var store = MirrorStore(SharedModels);
        Assert.Equal(ModelFileStatus.Missing, store.Verify(Enc));

        var rec = new Recorder();
        var path = store.Resolve(Enc, rec);
        Assert.Equal(store.PathFor(Enc), path);
        Assert.StartsWith(store.CacheDir, path);
        Assert.Equal(EncoderSha, Sha(path));
        Assert.Contains(rec.Seen, p => p.Stage == ModelFetchStage.Copying);
        Assert.Equal(ModelFileStatus.Ok, store.Verify(Enc));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!)); // no temp copies left

        // Second call: the cache answers; nothing is copied again.
        var rec2 = new Recorder();
        Assert.Equal(path, store.Resolve(Enc, rec2));
        Assert.DoesNotContain(rec2.Seen, p => p.Stage == ModelFetchStage.Copying);

        var list = store.List();
        Assert.Equal(ModelFileStatus.Ok, list.Single(s => s.Entry.Id == Enc).Status);
        Assert.Equal(ModelFileStatus.Missing, list.Single(s => s.Entry.Id == ModelManifest.Taef2Decoder).Status);
    }

    [Fact]
    public void Mirror_WithWrongFile_IsRefusedAndNothingIsCached()
    {
        var mirror = TestPaths.TempDir("bad-mirror");
        Directory.CreateDirectory(Path.Combine(mirror, "taef2"));
        var bad = Path.Combine(mirror, "taef2", "taef2_encoder.pth");
        File.WriteAllBytes(bad, [1, 2, 3, 4]);
        var badSha = Sha(bad);

        using var store = MirrorStore(mirror);
        var e = Assert.Throws<ModelFileException>(() => store.Resolve(Enc));
        Assert.Contains(Enc, e.Message);
        Assert.Contains(EncoderSha, e.Message);
        Assert.Contains(badSha, e.Message);
        Assert.False(File.Exists(store.PathFor(Enc)));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(store.PathFor(Enc))!));
        Assert.Equal(ModelFileStatus.Missing, store.Verify(Enc));
    }

    [Fact]
    public void CorruptCachedFile_IsReportedAndReplaced()
    {
        using var store = MirrorStore(SharedModels);
        var path = store.PathFor(Enc);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "not a model");
        Assert.Equal(ModelFileStatus.Corrupt, store.Verify(Enc));
        Assert.Equal(path, store.Resolve(Enc));
        Assert.Equal(ModelFileStatus.Ok, store.Verify(Enc));
    }

    [Fact]
    public void NoMirrorNoDownload_SaysWhereItLooked()
    {
        using var store = MirrorStore(TestPaths.TempDir("empty-mirror"));
        var e = Assert.Throws<ModelFileException>(() => store.Resolve(Enc));
        Assert.Contains(Enc, e.Message);
        Assert.Contains("downloads are turned off", e.Message);
    }

    // ---- HTTP ----

    static byte[] EncoderBytes => File.ReadAllBytes(Path.Combine(SharedModels, "taef2", "taef2_encoder.pth"));

    static ModelStore HttpStore(RangeFileServer server, string? sha = null, long? size = null, string? cache = null) =>
        new(new ModelManifest([new ModelFileEntry(Enc, server.Url("taef2_encoder.pth"), sha ?? EncoderSha, size)]),
            new ModelStoreOptions { CacheDir = cache ?? TestPaths.TempDir("http-cache"), UseEnvironment = false, StallTimeout = TimeSpan.FromSeconds(20) });

    [Fact]
    public void Download_Fresh_VerifiesAndRenamesIntoPlace()
    {
        var bytes = EncoderBytes;
        using var server = new RangeFileServer(bytes);
        using var store = HttpStore(server);
        var rec = new Recorder();
        var path = store.Resolve(Enc, rec);
        Assert.Equal(EncoderSha, Sha(path));
        Assert.False(File.Exists(path + ".partial"));
        var req = Assert.Single(server.Requests);
        Assert.Null(req.Range);
        Assert.Equal(bytes.Length, req.BodyBytesSent);
        Assert.Contains(rec.Seen, p => p.Stage == ModelFetchStage.Downloading && p.BytesTotal == bytes.Length);
    }

    [Fact]
    public void Download_ResumesFromPartial_RequestingOnlyTheRemainder()
    {
        var bytes = EncoderBytes;
        int half = bytes.Length / 2;
        using var server = new RangeFileServer(bytes);
        using var store = HttpStore(server);
        var partial = store.PartialPathFor(Enc);
        Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
        File.WriteAllBytes(partial, bytes[..half]);

        var path = store.Resolve(Enc);
        Assert.Equal(EncoderSha, Sha(path));
        var req = Assert.Single(server.Requests);
        Assert.Equal($"bytes={half}-", req.Range);
        Assert.Equal(206, req.Status);
        Assert.Equal(bytes.Length - half, req.BodyBytesSent);
        Assert.False(File.Exists(partial));
    }

    [Fact]
    public void Download_DroppedMidway_KeepsPartial_AndNextRunResumes()
    {
        var bytes = EncoderBytes;
        using var server = new RangeFileServer(bytes) { DropAfterBytes = 1_000_000 };
        var cache = TestPaths.TempDir("http-drop");
        using (var store = HttpStore(server, cache: cache))
        {
            var e = Assert.Throws<ModelFileException>(() => store.Resolve(Enc));
            Assert.Contains("kept", e.Message);
            Assert.Contains(Enc, e.Message);
            Assert.False(File.Exists(store.PathFor(Enc)));
            Assert.Equal(1_000_000, new FileInfo(store.PartialPathFor(Enc)).Length);
            Assert.Equal(1_000_000, store.List().Single().PartialBytes);
        }

        server.DropAfterBytes = null;
        using (var store = HttpStore(server, cache: cache))
        {
            var path = store.Resolve(Enc);
            Assert.Equal(EncoderSha, Sha(path));
        }
        var reqs = server.Requests;
        Assert.Equal(2, reqs.Count);
        Assert.Null(reqs[0].Range);
        Assert.Equal("bytes=1000000-", reqs[1].Range);
        Assert.Equal(bytes.Length - 1_000_000, reqs[1].BodyBytesSent);
    }

    [Fact]
    public void Download_ServerIgnoringRange_RewritesFromScratch()
    {
        var bytes = EncoderBytes;
        using var server = new RangeFileServer(bytes) { IgnoreRange = true };
        using var store = HttpStore(server);
        var partial = store.PartialPathFor(Enc);
        Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
        File.WriteAllBytes(partial, new byte[1234]); // junk that must not end up in front of the file

        var path = store.Resolve(Enc);
        Assert.Equal(EncoderSha, Sha(path));
        var req = Assert.Single(server.Requests);
        Assert.Equal("bytes=1234-", req.Range);
        Assert.Equal(200, req.Status);
    }

    [Fact]
    public void Download_CompletePartial_416_IsVerifiedAndUsed()
    {
        var bytes = EncoderBytes;
        using var server = new RangeFileServer(bytes);
        using var store = HttpStore(server, size: bytes.Length);
        var partial = store.PartialPathFor(Enc);
        Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
        File.WriteAllBytes(partial, bytes);
        Assert.Equal(EncoderSha, Sha(store.Resolve(Enc)));
        Assert.Equal(416, Assert.Single(server.Requests).Status);
    }

    [Fact]
    public void Download_WrongContent_IsRefusedAndDeleted()
    {
        var bytes = EncoderBytes;
        bytes[100] ^= 0xFF;
        using var server = new RangeFileServer(bytes);
        using var store = HttpStore(server);
        var e = Assert.Throws<ModelFileException>(() => store.Resolve(Enc));
        Assert.Contains(EncoderSha, e.Message);
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(bytes)), e.Message);
        Assert.False(File.Exists(store.PathFor(Enc)));
        Assert.False(File.Exists(store.PartialPathFor(Enc)));
    }

    [Fact]
    public void Download_ConnectionRefused_IsAModelFileException()
    {
        using var store = new ModelStore(
            new ModelManifest([new ModelFileEntry(Enc, "http://127.0.0.1:1/none", EncoderSha)]),
            new ModelStoreOptions { CacheDir = TestPaths.TempDir("http-err"), UseEnvironment = false });
        var e = Assert.Throws<ModelFileException>(() => store.Resolve(Enc));
        Assert.Contains("cannot download", e.Message);
    }

    [Fact]
    public async Task Download_Cancelled_KeepsPartial()
    {
        var bytes = EncoderBytes;
        using var server = new RangeFileServer(bytes);
        using var store = HttpStore(server);
        using var cts = new CancellationTokenSource();
        var rec = new CancelOnFirstChunk(cts);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.ResolveAsync(Enc, rec, cts.Token));
        Assert.False(File.Exists(store.PathFor(Enc)));
        Assert.True(File.Exists(store.PartialPathFor(Enc)));
    }

    sealed class CancelOnFirstChunk(CancellationTokenSource cts) : IProgress<ModelFetchProgress>
    {
        public void Report(ModelFetchProgress value)
        {
            if (value.Stage == ModelFetchStage.Downloading) cts.Cancel();
        }
    }
}
