using LatentBalance.Engine.Tests;

namespace LatentBalance.Daemon.Tests.Support;

/// <summary>The CLI's build output the daemon runs from (the repository and ../shared come from the
/// engine tests' <see cref="TestPaths"/>, compiled in here).</summary>
public static class CliPaths
{
    /// <summary>Debug or Release: the configuration these tests were built in (the CLI is built alongside).</summary>
    public static string Configuration { get; } = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;

    /// <summary>The CLI's own output folder (latentbalance.dll with models/ and filters/ beside it).</summary>
    public static string CliDir { get; } = Path.Combine(TestPaths.RepoRoot, "engine", "LatentBalance.Cli", "bin", Configuration, "net10.0");
    public static string CliDll => Path.Combine(CliDir, "latentbalance.dll");
    public static string BundledFilters => Path.Combine(CliDir, "filters");
}
