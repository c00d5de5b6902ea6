using System.Net;
using LatentBalance.Daemon;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace LatentBalance.Cluster;

public sealed record SiloSettings
{
    public required ClusterConnection Connection { get; init; }
    /// <summary>The address other silos and clients reach this silo at (null: this machine's own).</summary>
    public string? Address { get; init; }
    public int Port { get; init; } = 11111;
    public int GatewayPort { get; init; } = 30000;
    /// <summary>Photos at once on this silo (default: its cores).</summary>
    public int Jobs { get; init; } = Environment.ProcessorCount;
    public string? Pack { get; init; }
    public string Runtime { get; init; } = "onnx";
    public string Device { get; init; } = "auto";
    /// <summary>Orleans' own log level on stderr.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Warning;
}

/// <summary><c>latentbalance cluster silo</c>: the engine with warm models in an Orleans silo that joins the
/// cluster through Redis and runs batch and photo grains until stopped.</summary>
public static class SiloHost
{
    public static async Task<int> RunAsync(SiloSettings s, CancellationToken ct)
    {
        s.Connection.Check();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var engine = SiloEngine.Open(s.Pack, s.Runtime, s.Device, s.Jobs, DaemonLog.Silent, ct);
        Console.Error.WriteLine($"latentbalance: models ready in {clock.Elapsed.TotalSeconds:F1} s; {s.Jobs} photos at once");
        using var host = Build(s, engine);
        await host.StartAsync(ct);
        Console.Error.WriteLine($"latentbalance: silo up (pid {Environment.ProcessId}, port {s.Port}, gateway {s.GatewayPort}, {s.Connection.Describe})");
        try { await Task.Delay(Timeout.Infinite, ct); }
        catch (OperationCanceledException) { }
        Console.Error.WriteLine("latentbalance: silo stopping");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try { await host.StopAsync(stop.Token); } catch (OperationCanceledException) { }
        return 0;
    }

    public static IHost Build(SiloSettings s, SiloEngine engine)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(s.LogLevel);
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Services.AddSingleton(engine);
        builder.UseOrleans(silo =>
        {
            var c = s.Connection;
            if (c.Redis is null)
            {
                silo.UseLocalhostClustering(s.Port, s.GatewayPort);
                silo.AddMemoryGrainStorage(ClusterNames.Storage);
                silo.UseInMemoryReminderService();
            }
            else
            {
                silo.UseRedisClustering(o => o.ConfigurationOptions = c.RedisOptions());
                silo.AddRedisGrainStorage(ClusterNames.Storage, o => o.ConfigurationOptions = c.RedisOptions());
                silo.UseRedisReminderService(o => o.ConfigurationOptions = c.RedisOptions());
                silo.ConfigureEndpoints(ClusterConnection.Advertised(s.Address), s.Port, s.GatewayPort, listenOnAnyHostAddress: true);
            }
            silo.Configure<ClusterOptions>(o => { o.ClusterId = c.ClusterId; o.ServiceId = ClusterNames.DefaultServiceId; });
            // a killed silo is declared dead in seconds (two missed 2 s probes), and its photos run elsewhere
            silo.Configure<ClusterMembershipOptions>(o => { o.ProbeTimeout = TimeSpan.FromSeconds(2); o.NumMissedProbesLimit = 2; });
            // a photo call waits for its turn on a busy silo: no 30 s call timeout
            silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromMinutes(30));
        });
        return builder.Build();
    }
}
