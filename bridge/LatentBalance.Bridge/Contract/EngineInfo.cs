namespace LatentBalance.Bridge.Contract;

/// <summary>What the running engine is. D-Bus: GetInfo() -> (s version, s device, as models_loaded, as filters, u protocol_version, a{ss} details).</summary>
public sealed record EngineInfo
{
    /// <summary>Engine version, e.g. "0.1.0".</summary>
    public string Version { get; init; } = "";
    /// <summary>Compute device in use, e.g. "cpu" or "cuda:0".</summary>
    public string Device { get; init; } = "";
    /// <summary>Names of the models currently loaded in memory (empty before first use if loaded lazily).</summary>
    public IReadOnlyList<string> ModelsLoaded { get; init; } = [];
    /// <summary>Ids of the filters this engine offers (see ListFilters for details).</summary>
    public IReadOnlyList<string> Filters { get; init; } = [];
    /// <summary><see cref="EngineBusNames.ProtocolVersion"/> of the engine.</summary>
    public int ProtocolVersion { get; init; } = EngineBusNames.ProtocolVersion;
    /// <summary>Free-form extra facts (torch version, model paths, queue length...).</summary>
    public IReadOnlyDictionary<string, string> Details { get; init; } = new Dictionary<string, string>();
}
