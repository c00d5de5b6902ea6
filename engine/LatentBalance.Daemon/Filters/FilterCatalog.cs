using LatentBalance.Bridge.Contract;
using LatentBalance.Filters;

namespace LatentBalance.Daemon.Filters;

/// <summary>The filters the daemon offers: built-in ones first, then plug-ins in folder order. First id wins.</summary>
public sealed class FilterCatalog
{
    private readonly List<IFilter> _filters = new();

    public FilterCatalog(IEnumerable<IFilter> builtIn)
    {
        foreach (var f in builtIn) TryAdd(f, "built-in", DaemonLog.Silent);
    }

    public IReadOnlyList<IFilter> Filters => _filters;

    /// <summary>Plug-in folders that failed to load, with the reason (also logged).</summary>
    public List<(string Folder, string Reason)> Skipped { get; } = new();

    /// <summary>Loads plug-ins from every root (see <see cref="FilterPluginFolders"/>). A broken plug-in is logged and skipped.</summary>
    public FilterCatalog LoadPlugins(IEnumerable<string> roots, DaemonLog log)
    {
        foreach (var root in roots)
            foreach (var (folder, assembly) in FilterPluginFolders.Candidates(root))
            {
                if (assembly is null)
                {
                    Skip(folder, $"no {Path.GetFileName(folder)}.dll in the folder", log);
                    continue;
                }
                IReadOnlyList<IFilter> loaded;
                try { loaded = PluginFilterLoader.Load(assembly); }
                catch (InvalidDataException e) { Skip(folder, e.Message, log); continue; }
                foreach (var f in loaded) TryAdd(f, assembly, log);
            }
        return this;
    }

    public IFilter Get(string id) =>
        _filters.FirstOrDefault(f => f.Description.Id == id)
        ?? throw new BridgeException(BridgeErrorCode.NotFound, $"no filter '{id}' (known: {string.Join(", ", _filters.Select(f => f.Description.Id))})");

    private void TryAdd(IFilter filter, string source, DaemonLog log)
    {
        FilterDescription d;
        try { d = filter.Description; _ = FilterContract.ToDescriptor(d); }
        catch (Exception e) { Skip(source, $"bad filter description: {e.Message}", log); return; }
        if (string.IsNullOrWhiteSpace(d.Id)) { Skip(source, "a filter has an empty id", log); return; }
        if (_filters.Any(f => f.Description.Id == d.Id))
        {
            log.Warn("filter_duplicate", ("filter", d.Id), ("source", source));
            return;
        }
        _filters.Add(filter);
        log.Info("filter_loaded", ("filter", d.Id), ("source", source), ("parameters", d.Parameters.Select(p => p.Name).ToArray()));
    }

    private void Skip(string folder, string reason, DaemonLog log)
    {
        Skipped.Add((folder, reason));
        log.Warn("plugin_skipped", ("folder", folder), ("reason", reason));
    }
}
