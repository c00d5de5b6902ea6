using System.Diagnostics;
using LatentBalance.Cluster.Tests.Support;
using LatentBalance.Daemon.Tests.Support;
using LatentBalance.Engine.Tests;

namespace LatentBalance.Cluster.Tests;

/// <summary>Orleans stays out of every command but <c>cluster</c>: a copy of the CLI with the Orleans,
/// Redis client and cluster assemblies deleted still balances a photo.</summary>
public sealed class LazyLoadingTests
{
    [Fact]
    public async Task Balance_Runs_WithoutTheOrleansAssemblies()
    {
        var root = TestPaths.TempDir("no-orleans");
        var copy = Path.Combine(root, "cli");
        // hard links: a cheap copy of the CLI's output folder
        using (var cp = Process.Start("cp", ["-al", CliPaths.CliDir, copy])) cp.WaitForExit();
        var removed = Directory.GetFiles(copy).Where(f => Path.GetFileName(f) is var n && (n.StartsWith("Orleans.") || n.StartsWith("StackExchange.Redis") || n.StartsWith("LatentBalance.Cluster"))).ToList();
        Assert.Contains(removed, f => Path.GetFileName(f) == "Orleans.Core.dll");
        foreach (var f in removed) File.Delete(f);
        var psi = ClusterCli.StartInfo("balance", TestPhotos.Bsds[0], "-o", Path.Combine(root, "out.jpg"), "--in-process");
        psi.ArgumentList[0] = Path.Combine(copy, "latentbalance.dll");
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        _ = p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(10));
        Assert.True(p.ExitCode == 0, await err);
        Assert.True(File.Exists(Path.Combine(root, "out.jpg")));
        try { Directory.Delete(root, true); } catch (IOException) { }
    }
}
