using System.CommandLine;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Pipeline;

namespace LatentBalance.Cli.Commands;

/// <summary><c>latentbalance models list|pull|verify</c>: the pinned third-party model files in the user's cache.</summary>
static class ModelsCommand
{
    public static Command Create()
    {
        var list = new Command("list", "List the pinned model files and their state in the cache.");
        list.SetAction(_ =>
        {
            using var store = new ModelStore();
            Console.WriteLine($"cache: {store.CacheDir}" + (store.MirrorDir != null ? $"  mirror: {store.MirrorDir}" : ""));
            var dir = ModelPack.DefaultDirectory();
            string about;
            try { var m = ModelPack.Open(dir).Manifest; about = m.Name + (m.Description is { } d ? ": " + d : ""); }
            catch (ModelFileException e) { about = e.Message; }
            Console.WriteLine($"pack:  {dir} ({about})");
            foreach (var s in store.List())
                Console.WriteLine($"{s.Status,-8} {s.Entry.Id,-28} {s.Entry.Sha256[..12]}  {s.Entry.Url}");
            return 0;
        });
        var pull = new Command("pull", "Fetch the model files (from the mirror or the pinned address), verifying sha256.");
        pull.SetAction((_, ct) =>
        {
            using var store = new ModelStore();
            int rc = 0;
            foreach (var e in store.Manifest.Entries)
            {
                try
                {
                    long last = -1;
                    var path = store.Resolve(e.Id, new Progress<ModelFetchProgress>(p =>
                    {
                        long pct = p.BytesTotal is > 0 ? p.BytesDone * 100 / p.BytesTotal.Value : -1;
                        if (pct != last && pct % 10 == 0) { last = pct; Console.Error.WriteLine($"  {p.Id}: {p.Stage} {pct}%"); }
                    }), ct);
                    Console.WriteLine($"ok       {e.Id} -> {path}");
                }
                catch (Exception ex) { CliErrors.Print(ex, e.Id); rc = 1; }
            }
            return Task.FromResult(rc);
        });
        var verify = new Command("verify", "Check the sha256 of the cached model files; exit 1 if any is missing or corrupt.");
        verify.SetAction(_ =>
        {
            using var store = new ModelStore();
            int rc = 0;
            foreach (var e in store.Manifest.Entries)
            {
                var status = store.Verify(e.Id);
                Console.WriteLine($"{status,-8} {e.Id}");
                if (status != ModelFileStatus.Ok) rc = 1;
            }
            return rc;
        });
        return new Command("models", "Manage the model files.") { list, pull, verify };
    }
}
