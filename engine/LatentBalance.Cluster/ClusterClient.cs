using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace LatentBalance.Cluster;

/// <summary>A client connection to the cluster (submit, status, cancel): it finds the silos' gateways through
/// the same Redis, so any silo can answer and a client can come and go while batches run.</summary>
public sealed class ClusterClient : IAsyncDisposable
{
    readonly IHost _host;

    ClusterClient(IHost host) => _host = host;

    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    public IBatchGrain Batch(string id) => Client.GetGrain<IBatchGrain>(id);

    /// <param name="gatewayPort">the silo gateway port for localhost clustering (no Redis).</param>
    public static async Task<ClusterClient> ConnectAsync(ClusterConnection c, int gatewayPort, CancellationToken ct)
    {
        c.Check();
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client =>
        {
            if (c.Redis is null) client.UseLocalhostClustering(gatewayPort);
            else client.UseRedisClustering(o => o.ConfigurationOptions = c.RedisOptions());
            client.Configure<ClusterOptions>(o => { o.ClusterId = c.ClusterId; o.ServiceId = ClusterNames.DefaultServiceId; });
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(60));
        });
        var host = builder.Build();
        try { await host.StartAsync(ct); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            host.Dispose();
            throw new ClusterUnreachableException($"no silo reachable ({c.Describe}): {e.Message}", e);
        }
        return new ClusterClient(host);
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try { await _host.StopAsync(stop.Token); } catch (Exception e) when (e is OperationCanceledException or OrleansException) { }
        _host.Dispose();
    }
}

public sealed class ClusterUnreachableException(string message, Exception inner) : Exception(message, inner);
