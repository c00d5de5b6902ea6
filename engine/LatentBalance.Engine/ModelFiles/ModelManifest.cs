namespace LatentBalance.Engine.ModelFiles;

/// <summary>
/// One pinned model file: a relative id that is also its path in the cache and in a mirror
/// (e.g. <c>taef2/taef2_encoder.pth</c>), where to download it, and the sha256 it must have.
/// </summary>
public sealed record ModelFileEntry(string Id, string Url, string Sha256, long? Size = null, string? Description = null)
{
    /// <summary>Checks the id is a safe relative path and the hash is 64 hex digits.</summary>
    internal void Validate()
    {
        ModelManifest.ValidateId(Id);
        if (Sha256 is null || Sha256.Length != 64 || !Sha256.All(Uri.IsHexDigit))
            throw new ModelFileException($"model file '{Id}': sha256 '{Sha256}' is not 64 hex digits");
        if (!Uri.TryCreate(Url, UriKind.Absolute, out var u) || (u.Scheme != Uri.UriSchemeHttp && u.Scheme != Uri.UriSchemeHttps))
            throw new ModelFileException($"model file '{Id}': URL '{Url}' is not an absolute http(s) address");
        if (Size is < 0) throw new ModelFileException($"model file '{Id}': negative size {Size}");
    }
}

/// <summary>The set of model files the program may fetch, each pinned by URL and sha256.</summary>
public sealed class ModelManifest
{
    public const string Taef2Encoder = "taef2/taef2_encoder.pth";
    public const string Taef2Decoder = "taef2/taef2_decoder.pth";

    const string TaesdCommit = "5cccb12dc72074a4be35680c3b108548a7c69978";

    readonly Dictionary<string, ModelFileEntry> _entries;

    public ModelManifest(IEnumerable<ModelFileEntry> entries)
    {
        _entries = new Dictionary<string, ModelFileEntry>(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            e.Validate();
            var normal = e with { Sha256 = e.Sha256.ToLowerInvariant() };
            if (!_entries.TryAdd(e.Id, normal)) throw new ModelFileException($"model manifest: id '{e.Id}' appears twice");
        }
    }

    /// <summary>The files this build knows: TAEF2 encoder and decoder (madebyollin/taesd, MIT) pinned to a commit.</summary>
    public static ModelManifest BuiltIn { get; } = new([
        new ModelFileEntry(Taef2Encoder,
            $"https://github.com/madebyollin/taesd/raw/{TaesdCommit}/taef2_encoder.pth",
            "10a4e1021e89d7551eaf161352da8dbd0b1aa83872ae28b150c1df1ce2f147b6", 2704692,
            "TAEF2 encoder: RGB [0,1] to the FLUX.2 latent space (32 ch, 1/8 size)"),
        new ModelFileEntry(Taef2Decoder,
            $"https://github.com/madebyollin/taesd/raw/{TaesdCommit}/taef2_decoder.pth",
            "0a44a31e1ae59eb9dbf9359d24942fd3ef5928162c1800d97a28c61d51be0ab5", 2704756,
            "TAEF2 decoder: FLUX.2 latent back to RGB"),
    ]);

    public IReadOnlyCollection<ModelFileEntry> Entries => _entries.Values;

    public bool Contains(string id) => _entries.ContainsKey(id);

    public bool TryGet(string id, out ModelFileEntry entry) => _entries.TryGetValue(id, out entry!);

    public ModelFileEntry Get(string id) =>
        _entries.TryGetValue(id, out var e)
            ? e
            : throw new ModelFileException($"unknown model file '{id}': the manifest has {string.Join(", ", _entries.Keys.OrderBy(k => k, StringComparer.Ordinal))}");

    /// <summary>A copy with more entries (an entry with an existing id replaces it).</summary>
    public ModelManifest With(params ModelFileEntry[] more)
    {
        var d = new Dictionary<string, ModelFileEntry>(_entries, StringComparer.Ordinal);
        foreach (var e in more) d[e.Id] = e;
        return new ModelManifest(d.Values);
    }

    /// <summary>Ids are relative paths with '/' separators, no empty, '.' or '..' segments.</summary>
    internal static void ValidateId(string id)
    {
        if (string.IsNullOrWhiteSpace(id)) throw new ModelFileException("model file id is empty");
        if (id.StartsWith('/') || id.Contains('\\') || id.Contains(':') || id.EndsWith(".partial", StringComparison.Ordinal))
            throw new ModelFileException($"model file id '{id}' must be a relative path with '/' separators");
        foreach (var seg in id.Split('/'))
        {
            if (seg.Length == 0 || seg == "." || seg == ".." || seg.Any(c => char.IsControl(c)))
                throw new ModelFileException($"model file id '{id}' has an invalid path segment '{seg}'");
        }
    }
}
