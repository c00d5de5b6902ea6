using LatentBalance.Cluster.Tests.Support;
using LatentBalance.Engine.Tests;

namespace LatentBalance.Cluster.Tests;

public sealed class BatchPlanTests
{
    [Fact]
    public void AFolderTree_KeepsRelativePaths_LeavesHiddenFilesAndDestOut()
    {
        var root = TestPaths.TempDir("plan");
        string src = Path.Combine(root, "src"), dest = Path.Combine(src, "balanced");
        var inputs = TestPhotos.Make(src, 4);
        File.WriteAllText(Path.Combine(src, ".hidden.jpg"), "x");
        File.WriteAllText(Path.Combine(src, "notes.txt"), "x");
        Directory.CreateDirectory(dest);
        File.Copy(inputs[0], Path.Combine(dest, "old.jpg"));
        var plan = BatchPlan.Make(src, dest, overwrite: false);
        Assert.Equal(inputs.Order(StringComparer.Ordinal), plan.Select(p => p.Input));
        Assert.All(plan, p => Assert.Equal(Path.Combine(dest, Path.GetRelativePath(src, p.Input)), p.Output));
    }

    [Fact]
    public void AManifest_ResolvesPathsBesideIt_AndRefusesCollidingNames()
    {
        var root = TestPaths.TempDir("plan-manifest");
        var inputs = TestPhotos.Make(Path.Combine(root, "src"), 4);
        var manifest = Path.Combine(root, "list.txt");
        File.WriteAllLines(manifest, ["# photos", Path.GetRelativePath(root, inputs[0]), inputs[1], ""]);
        var plan = BatchPlan.Make(manifest, Path.Combine(root, "out"), overwrite: false);
        Assert.Equal([inputs[0], inputs[1]], plan.Select(p => p.Input));
        Assert.Equal(Path.Combine(root, "out", Path.GetFileName(inputs[0])), plan[0].Output);

        var twin = Path.Combine(root, "other", Path.GetFileName(inputs[0]));
        Directory.CreateDirectory(Path.GetDirectoryName(twin)!);
        File.Copy(inputs[0], twin);
        File.WriteAllLines(manifest, [inputs[0], twin]);
        var e = Assert.Throws<ArgumentException>(() => BatchPlan.Make(manifest, Path.Combine(root, "out"), overwrite: false));
        Assert.Contains("share the file name", e.Message);
    }

    [Fact]
    public void NoPhotos_OrNoSource_IsRefusedByName()
    {
        var empty = TestPaths.TempDir("plan-empty");
        Assert.Contains("no photos", Assert.Throws<ArgumentException>(() => BatchPlan.Make(empty, empty + "-out", false)).Message);
        Assert.Contains("no such folder", Assert.Throws<ArgumentException>(() => BatchPlan.Make(empty + "/nope", empty, false)).Message);
    }

    [Fact]
    public void StaleStagedFiles_OfOneOutput_AreRemoved_OthersKept()
    {
        var dir = TestPaths.TempDir("staged");
        var output = Path.Combine(dir, "a.jpg");
        File.WriteAllText(Path.Combine(dir, ".a.jpg.lb-0123abcd.jpg"), "half");
        File.WriteAllText(Path.Combine(dir, ".b.jpg.lb-0123abcd.jpg"), "other photo's");
        File.WriteAllText(output, "done");
        Assert.Equal(1, SiloEngine.RemoveStaleStaged(output));
        Assert.True(File.Exists(Path.Combine(dir, ".b.jpg.lb-0123abcd.jpg")));
        Assert.True(File.Exists(output));
    }
}
