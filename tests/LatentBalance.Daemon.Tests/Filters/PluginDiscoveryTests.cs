using LatentBalance.Daemon.Filters;
using LatentBalance.Daemon.Tests.Support;
using LatentBalance.Filters;

namespace LatentBalance.Daemon.Tests.Filters;

/// <summary>Plug-in discovery in this process, from the folder the build puts beside the CLI.</summary>
public sealed class PluginDiscoveryTests : IDisposable
{
    private readonly TempDir _dir = new("plugins");

    [Fact]
    public void The_build_puts_the_grey_world_plugin_into_the_CLI_filters_folder_without_the_abstractions()
    {
        var folder = Path.Combine(CliPaths.BundledFilters, "LatentBalance.Filters.GreyWorld");
        Assert.True(File.Exists(Path.Combine(folder, "LatentBalance.Filters.GreyWorld.dll")), folder);
        Assert.False(File.Exists(Path.Combine(folder, "LatentBalance.Filters.Abstractions.dll")), "the abstractions must come from the host");
    }

    [Fact]
    public void Grey_world_is_discovered_with_its_parameters_after_the_built_in_filter()
    {
        var catalog = new FilterCatalog([new LatentBalanceFilter()]).LoadPlugins([CliPaths.BundledFilters], DaemonLog.Silent);
        Assert.Equal(["latent-balance", "grey-world"], catalog.Filters.Select(f => f.Description.Id));
        var grey = catalog.Get("grey-world");
        Assert.NotEqual(typeof(LatentBalanceFilter).Assembly, grey.GetType().Assembly);
        var p = Assert.Single(grey.Description.Parameters);
        Assert.Equal(("strength", FilterParameterKind.Double, 1.0, 0.0, 1.0), (p.Name, p.Kind, (double)p.Default!, p.Min!.Value, p.Max!.Value));
        Assert.Empty(catalog.Skipped);
    }

    [Fact]
    public void Broken_plugin_folders_are_logged_and_skipped_and_good_ones_still_load()
    {
        var root = _dir.Path;
        Directory.CreateDirectory(Path.Combine(root, "Empty"));
        var junk = Directory.CreateDirectory(Path.Combine(root, "Junk")).FullName;
        File.WriteAllText(Path.Combine(junk, "Junk.dll"), "this is not an assembly");
        // an assembly without filters: the abstractions themselves
        var none = Directory.CreateDirectory(Path.Combine(root, "LatentBalance.Filters.Abstractions")).FullName;
        File.Copy(typeof(IFilter).Assembly.Location, Path.Combine(none, "LatentBalance.Filters.Abstractions.dll"));
        var log = new StringWriter();
        var catalog = new FilterCatalog([]).LoadPlugins([root, Path.Combine(root, "missing-root"), CliPaths.BundledFilters], new DaemonLog(log));

        Assert.Equal(["grey-world"], catalog.Filters.Select(f => f.Description.Id));
        Assert.Equal(3, catalog.Skipped.Count);
        Assert.Contains(catalog.Skipped, s => s.Folder.EndsWith("Empty") && s.Reason.Contains("no Empty.dll"));
        Assert.Contains(catalog.Skipped, s => s.Folder.EndsWith("Junk") && s.Reason.Contains("cannot load plug-in"));
        Assert.Contains(catalog.Skipped, s => s.Reason.Contains("contains no public"));
        Assert.Equal(3, log.ToString().Split('\n').Count(l => l.Contains("\"event\":\"plugin_skipped\"")));
    }

    [Fact]
    public void Plugin_roots_come_from_options_environment_XDG_data_and_beside_the_program_in_that_order()
    {
        var roots = FilterPluginFolders.Roots([_dir.Path]);
        Assert.Equal(_dir.Path, roots[0]);
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "filters"), roots[^1]);
        Assert.Contains(roots, r => r.EndsWith(Path.Combine("latentbalance", "filters")));
    }

    public void Dispose() => _dir.Dispose();
}
