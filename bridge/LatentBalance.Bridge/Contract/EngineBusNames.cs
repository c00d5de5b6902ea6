namespace LatentBalance.Bridge.Contract;

/// <summary>D-Bus coordinates and protocol version of the engine service.</summary>
public static class EngineBusNames
{
    /// <summary>Well-known bus name the daemon owns on the session bus.</summary>
    public const string BusName = "org.latentbalance.Engine1";
    public const string ObjectPath = "/org/latentbalance/Engine1";
    public const string Interface = "org.latentbalance.Engine1";

    /// <summary>Bumped on any incompatible change of signatures or semantics (reported by GetInfo).</summary>
    public const int ProtocolVersion = 2;
}

/// <summary>Known filter ids.</summary>
public static class FilterIds
{
    /// <summary>The default filter: VAE latent balancer -> per-image MLP -> 3D LUT.</summary>
    public const string LatentBalance = "latent-balance";
}
