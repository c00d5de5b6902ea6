using System.Diagnostics;
using LatentBalance.Cluster.Tests.Support;
using LatentBalance.Engine.Tests;
using Xunit.Abstractions;

namespace LatentBalance.Cluster.Tests;

/// <summary>One redis-server and one silo for the small fault tests.</summary>
public sealed class OneSiloCluster : IAsyncLifetime
{
    public RedisServer Redis { get; private set; } = null!;
    public SiloProcess Silo { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Redis = new RedisServer();
        Silo = new SiloProcess(Redis.Address, jobs: 1);
        await Silo.WaitUpAsync();
    }

    public Task DisposeAsync()
    {
        Silo.Dispose();
        Redis.Dispose();
        return Task.CompletedTask;
    }

    public Task<ClusterCli.Result> Cli(params string[] args) =>
        ClusterCli.RunAsync(TimeSpan.FromMinutes(10), [.. args, "--redis", Redis.Address, "--cluster-id", "test"]);
}

/// <summary>A bad photo fails alone with its reason; an output that is its input is refused; a full disk
/// stops the batch with a clear reason; cancel; an unknown batch ID.</summary>
public sealed class BatchFaultTests(OneSiloCluster cluster, ITestOutputHelper output) : IClassFixture<OneSiloCluster>
{
    [Fact]
    public async Task ABadPhoto_FailsAlone_WithItsReason()
    {
        var root = TestPaths.TempDir("cluster-bad");
        string src = Path.Combine(root, "src"), dest = Path.Combine(root, "out");
        TestPhotos.Make(src, 3);
        var bad = Path.Combine(src, "part0", "broken.jpg");
        File.WriteAllBytes(bad, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5, 6, 7, 8]); // a JPEG header, then nothing
        var r = await cluster.Cli("cluster", "submit", src, dest, "--id", "bad", "--json");
        Assert.True(r.ExitCode == 1, r.ToString());
        var report = r.Json;
        Assert.Equal("finished", report.GetProperty("phase").GetString());
        Assert.Equal(3, report.GetProperty("done").GetInt32());
        var failure = Assert.Single(report.GetProperty("failures").EnumerateArray());
        Assert.Equal(bad, failure.GetProperty("input").GetString());
        var reason = failure.GetProperty("error").GetString()!;
        Assert.Contains("broken.jpg", reason);
        Assert.Contains("broken.jpg", r.Stderr);
        output.WriteLine(reason);
        Assert.False(File.Exists(Path.Combine(dest, "part0", "broken.jpg")));
        Assert.Equal(3, Directory.GetFiles(dest, "*", SearchOption.AllDirectories).Length);
    }

    [Fact]
    public async Task AnOutputThatIsItsInput_IsRefused_BeforeAnythingRuns()
    {
        var src = Path.Combine(TestPaths.TempDir("cluster-self"), "src");
        var inputs = TestPhotos.Make(src, 2);
        var before = File.ReadAllBytes(inputs[0]);
        var r = await cluster.Cli("cluster", "submit", src, src, "--id", "self", "--overwrite");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("is the input photo itself", r.Stderr);
        Assert.Equal(before, File.ReadAllBytes(inputs[0]));
        var status = await cluster.Cli("cluster", "status", "self");
        Assert.Contains("unknown batch ID 'self'", status.Stderr); // nothing was submitted
    }

    [Fact]
    public async Task AnExistingOutput_IsRefused_WithoutOverwrite()
    {
        var root = TestPaths.TempDir("cluster-exists");
        string src = Path.Combine(root, "src"), dest = Path.Combine(root, "out");
        TestPhotos.Make(src, 2);
        Directory.CreateDirectory(Path.Combine(dest, "part1"));
        File.WriteAllText(Path.Combine(dest, "part1", "p0001.jpg"), "mine");
        var r = await cluster.Cli("cluster", "submit", src, dest, "--id", "exists");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("p0001.jpg exists", r.Stderr);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(dest, "part1", "p0001.jpg")));
    }

    [SkippableFact]
    public async Task AFullDisk_StopsTheBatch_WithAClearReason()
    {
        var root = TestPaths.TempDir("cluster-full");
        string src = Path.Combine(root, "src"), dest = Path.Combine(root, "out");
        TestPhotos.Make(src, 12);
        Directory.CreateDirectory(dest);
        // a 300 KiB tmpfs: room for a few outputs (60-120 KB each), not twelve
        var mount = Process.Start(new ProcessStartInfo("mount", ["-t", "tmpfs", "-o", "size=300k", "tmpfs", dest]) { RedirectStandardError = true })!;
        string why = mount.StandardError.ReadToEnd();
        mount.WaitForExit();
        Skip.If(mount.ExitCode != 0, $"cannot mount a small tmpfs here (needs root or CAP_SYS_ADMIN): {why.Trim()}");
        try
        {
            var r = await cluster.Cli("cluster", "submit", src, dest, "--id", "full", "--json");
            output.WriteLine(r.Stderr);
            Assert.True(r.ExitCode == 3, r.ToString());
            var report = r.Json;
            Assert.Equal("stopped", report.GetProperty("phase").GetString());
            Assert.Contains("disk full", report.GetProperty("stopReason").GetString());
            Assert.Contains("stopped: disk full", r.Stderr);
            Assert.True(report.GetProperty("remaining").GetInt32() > 0, "the batch went on after the disk filled");
            Assert.Empty(TestPhotos.Staged(dest)); // nothing half-written left behind
            foreach (var f in Directory.GetFiles(dest, "*", SearchOption.AllDirectories))
                Assert.True(new FileInfo(f).Length > 1000, $"{f}: a truncated output");
        }
        finally { Process.Start("umount", [dest]).WaitForExit(); }
    }

    [Fact]
    public async Task Cancel_StopsStartingPhotos_AndTheBatchSaysSo()
    {
        var root = TestPaths.TempDir("cluster-cancel");
        string src = Path.Combine(root, "src"), dest = Path.Combine(root, "out");
        TestPhotos.Make(src, 12);
        var submit = await cluster.Cli("cluster", "submit", src, dest, "--id", "cancel", "--detach");
        Assert.True(submit.ExitCode == 0, submit.ToString());
        var cancel = await cluster.Cli("cluster", "cancel", "cancel");
        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Contains("cancelled", cancel.Stderr);
        var wait = await cluster.Cli("cluster", "status", "cancel", "--wait", "--json");
        Assert.True(wait.ExitCode == 4, wait.ToString());
        var report = wait.Json;
        Assert.Equal("cancelled", report.GetProperty("phase").GetString());
        int done = report.GetProperty("done").GetInt32();
        Assert.True(done < 12, $"all {done} photos were done after cancel");
        Assert.Equal(done, Directory.Exists(dest) ? Directory.GetFiles(dest, "*", SearchOption.AllDirectories).Length : 0);
        Assert.Empty(TestPhotos.Staged(dest));
        var again = await cluster.Cli("cluster", "cancel", "cancel");
        Assert.Contains("had already ended", again.Stderr);
    }

    [Fact]
    public async Task AnUnknownBatchId_IsSaidSo()
    {
        var status = await cluster.Cli("cluster", "status", "no-such-batch");
        Assert.Equal(2, status.ExitCode);
        Assert.Contains("unknown batch ID 'no-such-batch'", status.Stderr);
        var cancel = await cluster.Cli("cluster", "cancel", "no-such-batch");
        Assert.Equal(2, cancel.ExitCode);
        Assert.Contains("unknown batch ID 'no-such-batch'", cancel.Stderr);
    }

    [Fact]
    public async Task NoSilo_IsAClearError()
    {
        using var empty = new RedisServer();
        var r = await ClusterCli.RunAsync(TimeSpan.FromMinutes(2), "cluster", "status", "x", "--redis", empty.Address, "--cluster-id", "test");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no silo reachable", r.Stderr);
    }
}
