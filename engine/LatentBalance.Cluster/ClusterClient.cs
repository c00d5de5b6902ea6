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

    /// <summary>How long a client waits for a silo's gateway before it says there is none.</summary>
    public static TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How long a call may take (status calls are quick; a direct photo call waits for the photo).</summary>
    public static TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(60);

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
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = ResponseTimeout);
        });
        var host = builder.Build();
        // with no silo registered the Orleans client keeps waiting for a gateway: give up after ConnectTimeout
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(ConnectTimeout);
        var start = host.StartAsync(limit.Token);
        try
        {
            if (await Task.WhenAny(start, Task.Delay(ConnectTimeout + TimeSpan.FromSeconds(2), ct)) != start)
                throw new TimeoutException($"no gateway answered within {ConnectTimeout.TotalSeconds:F0} s");
            await start;
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            _ = start.ContinueWith(_ => host.Dispose(), TaskScheduler.Default);
            var why = e is OperationCanceledException ? $"no gateway answered within {ConnectTimeout.TotalSeconds:F0} s" : e.Message;
            throw new ClusterUnreachableException($"no silo reachable ({c.Describe}): {why}; is a `latentbalance cluster silo` running with the same --redis and --cluster-id?", e);
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
