using LatentBalance.Engine.Tests;

namespace LatentBalance.Daemon.Tests.Support;

/// <summary>A fresh temp folder, deleted on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir(string name = "work") => Path = TestPaths.TempDir(name);

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
