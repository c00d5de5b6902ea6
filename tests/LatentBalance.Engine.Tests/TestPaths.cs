namespace LatentBalance.Engine.Tests;

/// <summary>Locations the tests read: the repository root and ../shared beside it.</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRoot();
    public static string Shared { get; } = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));
    public static string Taef2Dir => Path.Combine(Shared, "models", "taef2");
    public static string Photos => Path.Combine(Shared, "data", "photos");
    public static string ArtisticLuts => Path.Combine(Shared, "data", "luts", "artistic");

    public static string TempDir(string name)
    {
        var d = Path.Combine(Path.GetTempPath(), "lb-tests", name + "-" + Guid.NewGuid().ToString("N")[..8]);
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
