namespace LatentBalance.Daemon.Filters;

/// <summary>
/// Where filter plug-ins are looked for, in order: folders given on the command line, <c>$LATENTBALANCE_FILTER_PATH</c>
/// (a ':'-separated list), <c>$XDG_DATA_HOME/latentbalance/filters</c> (default ~/.local/share), and <c>filters/</c>
/// beside the program. Each holds one folder per plug-in: <c>&lt;root&gt;/&lt;Name&gt;/&lt;Name&gt;.dll</c>.
/// </summary>
public static class FilterPluginFolders
{
    public const string PathVariable = "LATENTBALANCE_FILTER_PATH";

    public static IReadOnlyList<string> Roots(IEnumerable<string>? extra = null)
    {
        var roots = new List<string>();
        if (extra != null) roots.AddRange(extra);
        var env = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrWhiteSpace(env)) roots.AddRange(env.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        roots.Add(Path.Combine(DataHome(), "latentbalance", "filters"));
        roots.Add(Path.Combine(AppContext.BaseDirectory, "filters"));
        return roots.Select(r => Path.GetFullPath(r)).Distinct(StringComparer.Ordinal).ToArray();
    }

    static string DataHome()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        return string.IsNullOrEmpty(xdg)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share")
            : xdg;
    }

    /// <summary>The plug-in assemblies under one root: <c>&lt;root&gt;/&lt;Name&gt;/&lt;Name&gt;.dll</c>, in name order.</summary>
    public static IEnumerable<(string Folder, string? Assembly)> Candidates(string root)
    {
        if (!Directory.Exists(root)) yield break;
        foreach (var dir in Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
        {
            var dll = Path.Combine(dir, Path.GetFileName(dir) + ".dll");
            yield return (dir, File.Exists(dll) ? dll : null);
        }
    }
}
