using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace LatentBalance.Engine.ModelFiles;

/// <summary>Where <see cref="ModelStore"/> looks; null fields fall back to the environment (when allowed) and defaults.</summary>
public sealed class ModelStoreOptions
{
    /// <summary>Cache folder; null: $LATENTBALANCE_CACHE, else $XDG_CACHE_HOME/latentbalance/models, else ~/.cache/latentbalance/models.</summary>
    public string? CacheDir { get; init; }

    /// <summary>A folder laid out like the cache (<c>&lt;mirror&gt;/&lt;id&gt;</c>) to copy from before downloading; null: $LATENTBALANCE_MODEL_MIRROR.</summary>
    public string? MirrorDir { get; init; }

    /// <summary>False: ignore the environment variables (tests, embedding).</summary>
    public bool UseEnvironment { get; init; } = true;

    /// <summary>False: never go to the network; a file missing from cache and mirror is an error.</summary>
    public bool AllowDownload { get; init; } = true;

    /// <summary>HTTP client to use (not disposed by the store); null: the store makes its own.</summary>
    public HttpClient? HttpClient { get; init; }

    /// <summary>A download that receives nothing for this long is abandoned (the .partial stays for a resume).</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

public enum ModelFileStatus { Missing, Ok, Corrupt }

/// <summary>A manifest entry's state in the cache. <see cref="PartialBytes"/> is the size of an unfinished download, if any.</summary>
public sealed record ModelFileState(ModelFileEntry Entry, ModelFileStatus Status, string CachePath, long? Bytes, long? PartialBytes);

public enum ModelFetchStage { Verifying, Copying, Downloading, Done }

/// <summary>Progress of <see cref="ModelStore.Resolve"/>; <see cref="BytesTotal"/> is null when unknown.</summary>
public readonly record struct ModelFetchProgress(string Id, ModelFetchStage Stage, long BytesDone, long? BytesTotal);

/// <summary>
/// Finds pinned model files: the cache when its sha256 matches, else a local mirror folder, else an
/// HTTP(S) download into <c>&lt;cache&gt;/&lt;id&gt;.partial</c> that resumes with a Range request.
/// Nothing reaches the cache path without matching the manifest's sha256.
/// </summary>
public sealed class ModelStore : IDisposable
{
    public const string CacheEnv = "LATENTBALANCE_CACHE";
    public const string MirrorEnv = "LATENTBALANCE_MODEL_MIRROR";

    readonly ModelStoreOptions _options;
    HttpClient? _ownHttp;

    public ModelStore(ModelManifest? manifest = null, ModelStoreOptions? options = null)
    {
        Manifest = manifest ?? ModelManifest.BuiltIn;
        _options = options ?? new ModelStoreOptions();
        Func<string, string?> env = _options.UseEnvironment ? Environment.GetEnvironmentVariable : _ => null;
        CacheDir = Path.GetFullPath(_options.CacheDir ?? DefaultCacheDir(env));
        var mirror = _options.MirrorDir ?? NonEmpty(env(MirrorEnv));
        MirrorDir = mirror is null ? null : Path.GetFullPath(mirror);
    }

    public ModelManifest Manifest { get; }
    public string CacheDir { get; }
    public string? MirrorDir { get; }

    /// <summary>The cache folder the environment selects (see <see cref="ModelStoreOptions.CacheDir"/>).</summary>
    public static string DefaultCacheDir(Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        if (NonEmpty(env(CacheEnv)) is { } c) return c;
        if (NonEmpty(env("XDG_CACHE_HOME")) is { } x) return Path.Combine(x, "latentbalance", "models");
        var home = NonEmpty(env("HOME")) ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".cache", "latentbalance", "models");
    }

    /// <summary>Where the file with this id lives in the cache (it may not exist).</summary>
    public string PathFor(string id)
    {
        ModelManifest.ValidateId(id);
        return Path.Combine(CacheDir, id.Replace('/', Path.DirectorySeparatorChar));
    }

    public string PartialPathFor(string id) => PathFor(id) + ".partial";

    /// <summary>Checks the cached copy without changing anything.</summary>
    public ModelFileStatus Verify(string id, CancellationToken ct = default)
    {
        var entry = Manifest.Get(id);
        var path = PathFor(id);
        if (!File.Exists(path)) return ModelFileStatus.Missing;
        return HashFile(path, null, id, ct) == entry.Sha256 ? ModelFileStatus.Ok : ModelFileStatus.Corrupt;
    }

    /// <summary>Every manifest entry with its cache state (hashes each present file).</summary>
    public IReadOnlyList<ModelFileState> List(CancellationToken ct = default)
    {
        var list = new List<ModelFileState>();
        foreach (var e in Manifest.Entries.OrderBy(e => e.Id, StringComparer.Ordinal))
        {
            var path = PathFor(e.Id);
            var partial = new FileInfo(path + ".partial");
            var fi = new FileInfo(path);
            list.Add(new ModelFileState(e, Verify(e.Id, ct), path, fi.Exists ? fi.Length : null, partial.Exists ? partial.Length : null));
        }
        return list;
    }

    /// <summary>Returns the path of a verified copy of the file, fetching it when needed.</summary>
    public string Resolve(string id, IProgress<ModelFetchProgress>? progress = null, CancellationToken ct = default) =>
        ResolveAsync(id, progress, ct).GetAwaiter().GetResult();

    public async Task<string> ResolveAsync(string id, IProgress<ModelFetchProgress>? progress = null, CancellationToken ct = default)
    {
        var entry = Manifest.Get(id);
        var path = PathFor(id);

        if (File.Exists(path))
        {
            if (HashFile(path, progress, id, ct) == entry.Sha256)
            {
                progress?.Report(new ModelFetchProgress(id, ModelFetchStage.Done, new FileInfo(path).Length, entry.Size));
                return path;
            }
            // A corrupt cached copy is replaced, not trusted.
            TryDelete(path);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);

        if (MirrorDir is not null)
        {
            var src = Path.Combine(MirrorDir, id.Replace('/', Path.DirectorySeparatorChar));
            if (File.Exists(src))
            {
                CopyVerified(entry, src, path, progress, ct);
                progress?.Report(new ModelFetchProgress(id, ModelFetchStage.Done, new FileInfo(path).Length, entry.Size));
                return path;
            }
        }

        if (!_options.AllowDownload)
            throw new ModelFileException($"model file '{id}' is not in the cache ({path})" +
                (MirrorDir is null ? "" : $" nor the mirror ({MirrorDir})") + " and downloads are turned off");

        var partial = path + ".partial";
        await DownloadAsync(entry, partial, progress, ct).ConfigureAwait(false);
        var actual = HashFile(partial, progress, id, ct);
        if (actual != entry.Sha256)
        {
            TryDelete(partial);
            throw Mismatch(entry, actual, entry.Url);
        }
        File.Move(partial, path, overwrite: true);
        progress?.Report(new ModelFetchProgress(id, ModelFetchStage.Done, new FileInfo(path).Length, entry.Size));
        return path;
    }

    void CopyVerified(ModelFileEntry entry, string src, string dest, IProgress<ModelFetchProgress>? progress, CancellationToken ct)
    {
        var tmp = Path.Combine(Path.GetDirectoryName(dest)!, "." + Path.GetFileName(dest) + ".tmp-" + Guid.NewGuid().ToString("N")[..8]);
        string actual;
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using (var input = new FileStream(src, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan))
            using (var output = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                var buf = new byte[1 << 20];
                long done = 0, total = input.Length;
                int n;
                while ((n = input.Read(buf)) > 0)
                {
                    ct.ThrowIfCancellationRequested();
                    hash.AppendData(buf, 0, n);
                    output.Write(buf, 0, n);
                    done += n;
                    progress?.Report(new ModelFetchProgress(entry.Id, ModelFetchStage.Copying, done, total));
                }
                output.Flush(true);
            }
            actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(tmp);
            throw new ModelFileException($"model file '{entry.Id}': cannot copy from mirror {src}: {e.Message}", e);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
        if (actual != entry.Sha256)
        {
            TryDelete(tmp);
            throw Mismatch(entry, actual, src);
        }
        File.Move(tmp, dest, overwrite: true);
    }

    async Task DownloadAsync(ModelFileEntry entry, string partial, IProgress<ModelFetchProgress>? progress, CancellationToken ct)
    {
        var http = _options.HttpClient ?? (_ownHttp ??= MakeClient());
        for (int attempt = 0; attempt < 2; attempt++)
        {
            long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
            if (entry.Size is long size && have > size)
            {
                TryDelete(partial);
                have = 0;
            }

            using var req = new HttpRequestMessage(HttpMethod.Get, entry.Url);
            if (have > 0) req.Headers.Range = new RangeHeaderValue(have, null);
            HttpResponseMessage resp;
            try
            {
                resp = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            }
            catch (HttpRequestException e)
            {
                throw new ModelFileException($"model file '{entry.Id}': cannot download {entry.Url}: {e.Message}", e);
            }
            using (resp)
            {
                if (resp.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && have > 0)
                {
                    // Nothing after our offset: the partial is either complete (the hash decides) or junk.
                    if (entry.Size is null || entry.Size == have) return;
                    TryDelete(partial);
                    continue;
                }
                if (!resp.IsSuccessStatusCode)
                    throw new ModelFileException($"model file '{entry.Id}': download of {entry.Url} failed: HTTP {(int)resp.StatusCode} {resp.ReasonPhrase}");

                bool append = false;
                long? total;
                if (resp.StatusCode == HttpStatusCode.PartialContent)
                {
                    var cr = resp.Content.Headers.ContentRange;
                    if (have == 0 || cr?.From != have)
                    {
                        // The server answered a range we did not ask for: start over.
                        TryDelete(partial);
                        continue;
                    }
                    append = true;
                    total = cr.Length ?? entry.Size;
                }
                else
                {
                    have = 0; // 200: the server ignored the Range header and sends the whole file
                    total = resp.Content.Headers.ContentLength ?? entry.Size;
                }
                long? expectBody = resp.Content.Headers.ContentLength;

                FileStream fs;
                try
                {
                    fs = new FileStream(partial, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
                }
                catch (IOException e)
                {
                    throw new ModelFileException($"model file '{entry.Id}': cannot open {partial} (is another process downloading it?): {e.Message}", e);
                }
                long received = 0;
                await using (fs)
                {
                    try
                    {
                        await using var body = await resp.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                        var buf = new byte[1 << 16];
                        while (true)
                        {
                            // a read served from buffered data need not look at the token: check it here
                            ct.ThrowIfCancellationRequested();
                            int n;
                            using (var idle = CancellationTokenSource.CreateLinkedTokenSource(ct))
                            {
                                idle.CancelAfter(_options.StallTimeout);
                                try
                                {
                                    n = await body.ReadAsync(buf, idle.Token).ConfigureAwait(false);
                                }
                                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                                {
                                    throw new IOException($"no data for {_options.StallTimeout.TotalSeconds:0} s");
                                }
                            }
                            if (n == 0) break;
                            await fs.WriteAsync(buf.AsMemory(0, n), CancellationToken.None).ConfigureAwait(false);
                            received += n;
                            progress?.Report(new ModelFetchProgress(entry.Id, ModelFetchStage.Downloading, have + received, total));
                        }
                    }
                    catch (Exception e) when (e is IOException or HttpRequestException)
                    {
                        await fs.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                        throw new ModelFileException($"model file '{entry.Id}': download of {entry.Url} broke off after {have + received} bytes ({e.Message}); {partial} is kept and the next run resumes from it", e);
                    }
                    await fs.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                }
                if (expectBody is long eb && received != eb)
                    throw new ModelFileException($"model file '{entry.Id}': download of {entry.Url} ended after {received} of {eb} bytes; {partial} is kept and the next run resumes from it");
                return;
            }
        }
        throw new ModelFileException($"model file '{entry.Id}': the server at {entry.Url} does not answer range requests consistently");
    }

    static HttpClient MakeClient()
    {
        var handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            AllowAutoRedirect = true,
        };
        var c = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        c.DefaultRequestHeaders.UserAgent.ParseAdd("LatentBalance/1.0");
        return c;
    }

    static string HashFile(string path, IProgress<ModelFetchProgress>? progress, string id, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            var buf = new byte[1 << 20];
            long done = 0, total = fs.Length;
            int n;
            while ((n = fs.Read(buf)) > 0)
            {
                ct.ThrowIfCancellationRequested();
                hash.AppendData(buf, 0, n);
                done += n;
                progress?.Report(new ModelFetchProgress(id, ModelFetchStage.Verifying, done, total));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException($"model file '{id}': cannot read {path}: {e.Message}", e);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    static ModelFileException Mismatch(ModelFileEntry entry, string actual, string source) =>
        new($"model file '{entry.Id}' from {source} has the wrong sha256: expected {entry.Sha256}, got {actual}; the bad copy was deleted");

    static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;

    public void Dispose()
    {
        _ownHttp?.Dispose();
        _ownHttp = null;
    }
}
