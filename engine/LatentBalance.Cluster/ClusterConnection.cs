using System.Net;
using StackExchange.Redis;

namespace LatentBalance.Cluster;

/// <summary>Where the cluster's membership and state live: a Redis server (<c>--redis HOST:PORT</c> or
/// LATENTBALANCE_REDIS), or, with neither, localhost clustering with in-memory state for a one-machine
/// try-out (nothing survives a restart).</summary>
public sealed record ClusterConnection
{
    /// <summary>null: localhost development clustering.</summary>
    public string? Redis { get; init; }
    public string ClusterId { get; init; } = ClusterNames.DefaultClusterId;

    public static ClusterConnection From(string? redis, string? clusterId) => new()
    {
        Redis = string.IsNullOrWhiteSpace(redis) ? NullIfEmpty(Environment.GetEnvironmentVariable(ClusterNames.RedisEnv)) : redis,
        ClusterId = string.IsNullOrWhiteSpace(clusterId) ? ClusterNames.DefaultClusterId : clusterId,
    };

    static string? NullIfEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;

    public string Describe => Redis is null ? "localhost development clustering (in-memory state)" : $"redis {Redis}, cluster '{ClusterId}'";

    /// <summary>The Redis options; HOST:PORT (or any StackExchange.Redis configuration string).</summary>
    public ConfigurationOptions RedisOptions()
    {
        var o = ConfigurationOptions.Parse(Redis ?? throw new InvalidOperationException("no redis address"));
        o.AbortOnConnectFail = false;
        return o;
    }

    /// <summary>Refuses an address that is not HOST:PORT before anything starts.</summary>
    public void Check()
    {
        if (Redis is null) return;
        try { _ = RedisOptions(); }
        catch (Exception e) when (e is ArgumentException or RedisConnectionException)
        {
            throw new ArgumentException($"--redis '{Redis}': {e.Message}");
        }
        if (RedisOptions().EndPoints.Count == 0) throw new ArgumentException($"--redis '{Redis}': expected HOST:PORT");
    }

    /// <summary>The address other silos reach this one at: the given one, else this machine's first
    /// non-loopback IPv4 address (loopback when there is none, and for localhost clustering).</summary>
    public static IPAddress Advertised(string? address)
    {
        if (!string.IsNullOrWhiteSpace(address))
            return IPAddress.TryParse(address, out var ip) ? ip : Dns.GetHostAddresses(address).First(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
        try
        {
            return System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
                .Where(n => n.OperationalStatus == System.Net.NetworkInformation.OperationalStatus.Up)
                .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(u => u.Address)
                .FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && !IPAddress.IsLoopback(a)) ?? IPAddress.Loopback;
        }
        catch (System.Net.NetworkInformation.NetworkInformationException) { return IPAddress.Loopback; }
    }
}
