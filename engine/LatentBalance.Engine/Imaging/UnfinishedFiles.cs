using System.Collections.Concurrent;

namespace LatentBalance.Engine.Imaging;

/// <summary>
/// The hidden temporary and staged files this process is writing and has not yet renamed into place.
/// A failed write deletes its own; these are the ones a stopping process (SIGTERM, Ctrl-C) must delete,
/// since the write that owns them may be inside libvips and cannot be interrupted.
/// </summary>
public static class UnfinishedFiles
{
    static readonly ConcurrentDictionary<string, byte> Live = new(StringComparer.Ordinal);

    static UnfinishedFiles() => AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteAll();

    /// <summary>Records <paramref name="path"/> as being written.</summary>
    public static string Add(string path) { Live[path] = 0; return path; }

    /// <summary>The file was renamed into place or deleted: nothing to clean up.</summary>
    public static void Remove(string path) => Live.TryRemove(path, out _);

    /// <summary>Files being written now.</summary>
    public static IReadOnlyCollection<string> Paths => Live.Keys.ToArray();

    /// <summary>Deletes every file still being written (when the process stops); returns how many existed.</summary>
    public static int DeleteAll()
    {
        int n = 0;
        foreach (var path in Live.Keys)
        {
            try { if (File.Exists(path)) { File.Delete(path); n++; } }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            Live.TryRemove(path, out _);
        }
        return n;
    }
}
