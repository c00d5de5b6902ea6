namespace LatentBalance.Daemon.Tests.Support;

/// <summary>Locations the tests use: the repository, ../shared beside it, the CLI's build output, temp folders.</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRoot();
    public static string Shared { get; } = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    /// <summary>Debug or Release: the configuration these tests were built in (the CLI is built alongside).</summary>
    public static string Configuration { get; } = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;

    /// <summary>The CLI's own output folder (latentbalance.dll with models/ and filters/ beside it).</summary>
    public static string CliDir { get; } = Path.Combine(RepoRoot, "engine", "LatentBalance.Cli", "bin", Configuration, "net10.0");
    public static string CliDll => Path.Combine(CliDir, "latentbalance.dll");
    public static string BundledFilters => Path.Combine(CliDir, "filters");

    public static string TempDir(string name)
    {
        var d = Path.Combine(Path.GetTempPath(), "lb-daemon-tests", name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(d);
        return d;
    }

    static string FindRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d != null && !File.Exists(Path.Combine(d.FullName, "LatentBalance.sln"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("LatentBalance.sln not found above " + AppContext.BaseDirectory);
    }
}
