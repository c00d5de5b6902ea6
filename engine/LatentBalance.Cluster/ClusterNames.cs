namespace LatentBalance.Cluster;

/// <summary>Names shared by silos and clients.</summary>
public static class ClusterNames
{
    /// <summary>The grain storage (Redis) holding batches and photo outcomes.</summary>
    public const string Storage = "latentbalance";
    public const string DefaultClusterId = "latentbalance";
    public const string DefaultServiceId = "latentbalance";
    public const string RedisEnv = "LATENTBALANCE_REDIS";
}
