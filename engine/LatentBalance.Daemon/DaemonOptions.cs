namespace LatentBalance.Daemon;

/// <summary>How the daemon runs (from <c>latentbalance daemon</c>'s options).</summary>
public sealed record DaemonOptions
{
    /// <summary>Model pack folder; null: the default pack ($LATENTBALANCE_PACK or models/default beside the program).</summary>
    public string? Pack { get; init; }
    public string Device { get; init; } = "auto";
    /// <summary>"onnx" (ONNX Runtime, no libtorch) or "torch" (TorchSharp); see <c>EngineRuntime</c>.</summary>
    public string Runtime { get; init; } = "onnx";
    /// <summary>Serve JSON-RPC on stdin/stdout instead of the D-Bus session bus.</summary>
    public bool Stdio { get; init; }
    /// <summary>D-Bus address; null: the session bus ($DBUS_SESSION_BUS_ADDRESS).</summary>
    public string? BusAddress { get; init; }
    /// <summary>Exit after this long with no calls and no jobs; null: never.</summary>
    public TimeSpan? IdleExit { get; init; }
    /// <summary>A job still running after this long is abandoned as Timeout (its outputs discarded).</summary>
    public TimeSpan JobTimeout { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Jobs running at once (inference is still one at a time: the engine locks its models).</summary>
    public int MaxConcurrentJobs { get; init; } = Math.Clamp(Environment.ProcessorCount, 2, 4);
    /// <summary>Extra plug-in root folders, searched before the standard ones.</summary>
    public IReadOnlyList<string> FilterFolders { get; init; } = [];
}
