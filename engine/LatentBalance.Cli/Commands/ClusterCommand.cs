using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using LatentBalance.Cluster;

namespace LatentBalance.Cli.Commands;

/// <summary>
/// <c>latentbalance cluster silo|submit|status|cancel</c>: balance a whole archive on several machines
/// (docs/CLUSTER.md). Built only when it is the command run (<see cref="CommandRegistry"/>), so no other
/// command loads Orleans.
/// </summary>
static class ClusterCommand
{
    public const string Summary = "Balance a whole archive on several machines (Orleans silos sharing a Redis server).";

    /// <summary>Exit codes beyond 0 (all done), 1 (some photos failed) and 2 (bad arguments, unknown batch, no cluster).</summary>
    const int Stopped = 3, Cancelled = 4;

    static Option<string?> Redis() => new("--redis") { Description = $"Redis HOST:PORT holding the cluster's membership and batches (default: ${ClusterNames.RedisEnv}; neither: localhost development clustering)" };
    static Option<string?> ClusterId() => new("--cluster-id") { Description = $"cluster name (default: {ClusterNames.DefaultClusterId}); silos and clients of one cluster use the same" };
    static Option<int> Gateway() => new("--gateway-port") { Description = "the silo's gateway port (clients connect to it; with Redis they find it there)", DefaultValueFactory = _ => 30000 };

    public static Command Create()
    {
        var cmd = new Command("cluster", Summary) { Silo(), Submit(), Status(), Cancel() };
        return cmd;
    }

    static Command Silo()
    {
        Option<string?> redis = Redis(), clusterId = ClusterId();
        var gateway = Gateway();
        var address = new Option<string?>("--address") { Description = "the address other machines reach this silo at (default: this machine's first non-loopback IPv4 address)" };
        var port = new Option<int>("--port") { Description = "silo-to-silo port", DefaultValueFactory = _ => 11111 };
        var jobs = new Option<int>("--jobs") { Description = "photos at once on this silo (default: its cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var verbose = new Option<bool>("--verbose") { Description = "Orleans' informational log on stderr" };
        var cmd = new Command("silo", "Run an Orleans silo with the engine's models warm; it joins the cluster through Redis and balances batches' photos.")
        {
            redis, clusterId, address, port, gateway, jobs, verbose, BalanceCommand.Device, BalanceCommand.Runtime, BalanceCommand.Pack,
        };
        cmd.SetAction(async (pr, ct) =>
        {
            if (pr.GetValue(jobs) < 1) { Console.Error.WriteLine("latentbalance: error: --jobs must be at least 1"); return 2; }
            var settings = new SiloSettings
            {
                Connection = ClusterConnection.From(pr.GetValue(redis), pr.GetValue(clusterId)),
                Address = pr.GetValue(address), Port = pr.GetValue(port), GatewayPort = pr.GetValue(gateway), Jobs = pr.GetValue(jobs),
                Pack = pr.GetValue(BalanceCommand.Pack), Runtime = pr.GetValue(BalanceCommand.Runtime)!, Device = pr.GetValue(BalanceCommand.Device)!,
                LogLevel = pr.GetValue(verbose) ? Microsoft.Extensions.Logging.LogLevel.Information : Microsoft.Extensions.Logging.LogLevel.Warning,
            };
            if (settings.Connection.Redis is null) Console.Error.WriteLine("latentbalance: note: no --redis nor $" + ClusterNames.RedisEnv + ": localhost development clustering, batches are not durable");
            try { return await SiloHost.RunAsync(settings, ct); }
            catch (OperationCanceledException) { return 0; }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException)
            {
                CliErrors.Print(e);
                return 2;
            }
        });
        return cmd;
    }

    static Command Submit()
    {
        Option<string?> redis = Redis(), clusterId = ClusterId();
        var gateway = Gateway();
        var source = new Argument<string>("SRC") { Description = "a folder tree of photos, or a manifest file (one path a line)" };
        var dest = new Argument<string>("DEST") { Description = "output folder (same relative paths); on storage every silo can write" };
        var id = new Option<string?>("--id") { Description = "the batch ID (default: a new one)" };
        var detach = new Option<bool>("--detach") { Description = "submit, print the batch ID and return (follow it later with `cluster status ID --wait`)" };
        var overwrite = new Option<bool>("--overwrite") { Description = "replace outputs that exist already (never an input)" };
        var json = new Option<bool>("--json") { Description = "print the final report as JSON on stdout" };
        var cmd = new Command("submit", "Submit a batch and show its progress (done, failed, rate, ETA) until it ends; Ctrl-C detaches, the batch goes on.")
        {
            source, dest, id, detach, overwrite, json, redis, clusterId, gateway, BalanceCommand.Iterations, BalanceCommand.Strength, BalanceCommand.Quality,
        };
        cmd.SetAction(async (pr, ct) =>
        {
            BatchSpec spec;
            string batchId = pr.GetValue(id) ?? DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..6];
            try
            {
                var parameters = BalanceCommand.Parameters(pr);
                BalanceCommand.CheckParameters(parameters);
                if (batchId.Length == 0 || batchId.Contains('/')) throw new ArgumentException($"--id '{batchId}': a batch ID is not empty and has no '/'");
                string src = pr.GetValue(source)!, dst = pr.GetValue(dest)!;
                var photos = BatchPlan.Make(src, dst, pr.GetValue(overwrite));
                spec = new BatchSpec { Source = Path.GetFullPath(src), Dest = Path.GetFullPath(dst), Photos = photos, Parameters = parameters };
            }
            catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException) { CliErrors.Print(e); return 2; }
            catch (LatentBalance.Bridge.Contract.BridgeException e) { Console.Error.WriteLine($"latentbalance: error: {e.Message}"); return 2; }

            return await WithClient(pr, redis, clusterId, gateway, ct, async client =>
            {
                var batch = client.Batch(batchId);
                BatchStatus s;
                try { s = await batch.Submit(spec); }
                catch (Exception e) when (e is InvalidOperationException or ArgumentException) { CliErrors.Print(e); return 2; }
                Console.Error.WriteLine($"latentbalance: batch {batchId}: {s.Total} photos submitted ({spec.Source} -> {spec.Dest})");
                if (pr.GetValue(detach))
                {
                    Console.WriteLine(batchId);
                    return 0;
                }
                return await Follow(batch, batchId, pr.GetValue(json), ct);
            });
        });
        return cmd;
    }

    static Command Status()
    {
        Option<string?> redis = Redis(), clusterId = ClusterId();
        var gateway = Gateway();
        var id = new Argument<string>("BATCH") { Description = "the batch ID" };
        var wait = new Option<bool>("--wait") { Description = "re-attach: show progress until the batch ends" };
        var json = new Option<bool>("--json") { Description = "print the report as JSON on stdout" };
        var cmd = new Command("status", "Show a batch's state (done, failed, rate, ETA, failures); --wait follows it to the end.") { id, wait, json, redis, clusterId, gateway };
        cmd.SetAction(async (pr, ct) => await WithClient(pr, redis, clusterId, gateway, ct, async client =>
        {
            string batchId = pr.GetValue(id)!;
            var batch = client.Batch(batchId);
            if (pr.GetValue(wait)) return await Follow(batch, batchId, pr.GetValue(json), ct);
            var s = await batch.GetStatus();
            if (s.Phase == BatchPhase.Unknown) return Unknown(batchId);
            Console.Error.WriteLine(Line(s));
            return Report(s, pr.GetValue(json));
        }));
        return cmd;
    }

    static Command Cancel()
    {
        Option<string?> redis = Redis(), clusterId = ClusterId();
        var gateway = Gateway();
        var id = new Argument<string>("BATCH") { Description = "the batch ID" };
        var cmd = new Command("cancel", "Cancel a batch: no more photos are started; those running finish and are kept.") { id, redis, clusterId, gateway };
        cmd.SetAction(async (pr, ct) => await WithClient(pr, redis, clusterId, gateway, ct, async client =>
        {
            string batchId = pr.GetValue(id)!;
            var batch = client.Batch(batchId);
            var before = await batch.GetStatus();
            if (before.Phase == BatchPhase.Unknown) return Unknown(batchId);
            if (before.Ended) { Console.Error.WriteLine($"latentbalance: batch {batchId} had already ended ({Phase(before)})"); return 0; }
            var s = await batch.Cancel();
            Console.Error.WriteLine($"latentbalance: batch {batchId} cancelled ({s.Done} done, {s.Failed} failed, {s.InFlight} still running, {s.Remaining} not done)");
            return 0;
        }));
        return cmd;
    }

    static int Unknown(string id)
    {
        Console.Error.WriteLine($"latentbalance: error: unknown batch ID '{id}' (no such batch in this cluster)");
        return 2;
    }

    static async Task<int> WithClient(ParseResult pr, Option<string?> redis, Option<string?> clusterId, Option<int> gateway, CancellationToken ct, Func<ClusterClient, Task<int>> use)
    {
        var connection = ClusterConnection.From(pr.GetValue(redis), pr.GetValue(clusterId));
        ClusterClient client;
        try { client = await ClusterClient.ConnectAsync(connection, pr.GetValue(gateway), ct); }
        catch (Exception e) when (e is ClusterUnreachableException or ArgumentException) { Console.Error.WriteLine($"latentbalance: error: {e.Message.ReplaceLineEndings(" ")}"); return 2; }
        catch (OperationCanceledException) { return 2; }
        await using (client) return await use(client);
    }

    /// <summary>Progress until the batch ends, one line whenever it changes (at most one a second). A lost
    /// answer (the batch's silo died) is asked again: the batch comes back on another silo. Ctrl-C detaches.</summary>
    static async Task<int> Follow(IBatchGrain batch, string id, bool json, CancellationToken ct)
    {
        string? last = null;
        var quiet = System.Diagnostics.Stopwatch.StartNew();
        var lostSince = (DateTime?)null;
        while (true)
        {
            BatchStatus s;
            try { s = await batch.GetStatus().WaitAsync(ct); lostSince = null; }
            catch (OperationCanceledException) { return Detached(id); }
            catch (Exception e) when (e is not OutOfMemoryException and not ArgumentException)
            {
                lostSince ??= DateTime.UtcNow;
                if (DateTime.UtcNow - lostSince > TimeSpan.FromMinutes(5)) { Console.Error.WriteLine($"latentbalance: error: batch {id}: no answer for 5 minutes ({e.Message})"); return 2; }
                Console.Error.WriteLine($"latentbalance: note: batch {id}: {e.GetType().Name}, asking again");
                try { await Task.Delay(1000, ct); } catch (OperationCanceledException) { return Detached(id); }
                continue;
            }
            if (s.Phase == BatchPhase.Unknown) return Unknown(id);
            // a line when the counts change, else one every 10 s
            var key = $"{s.Phase} {s.Done} {s.Failed} {s.InFlight}";
            if (key != last || quiet.Elapsed > TimeSpan.FromSeconds(10)) { Console.Error.WriteLine(Line(s)); quiet.Restart(); }
            last = key;
            if (s.Ended) return Report(s, json);
            try { await Task.Delay(1000, ct); } catch (OperationCanceledException) { return Detached(id); }
        }
    }

    static int Detached(string id)
    {
        Console.Error.WriteLine($"latentbalance: detached; batch {id} goes on (latentbalance cluster status {id} --wait)");
        return 0;
    }

    static string Phase(BatchStatus s) => s.Phase.ToString().ToLowerInvariant();

    /// <summary>"batch ID: running, done 120/300, failed 1, 3 running, 38.2 photos/min, ETA 4m 40s".</summary>
    static string Line(BatchStatus s)
    {
        var end = s.EndedUtc ?? DateTime.UtcNow;
        double minutes = Math.Max((end - s.SubmittedUtc).TotalMinutes, 1e-6);
        double rate = (s.Done + s.Failed) / minutes;
        var parts = new List<string> { Phase(s), $"done {s.Done}/{s.Total}", $"failed {s.Failed}" };
        if (!s.Ended) parts.Add($"{s.InFlight} running");
        parts.Add($"{rate:F1} photos/min");
        if (!s.Ended && rate > 0) parts.Add("ETA " + Duration(TimeSpan.FromMinutes(s.Remaining / rate)));
        if (s.Ended) parts.Add("took " + Duration(end - s.SubmittedUtc));
        return $"latentbalance: batch {s.Id}: {string.Join(", ", parts)}";
    }

    static string Duration(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h {t.Minutes}m" : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m {t.Seconds}s" : $"{t.TotalSeconds:F0}s";

    /// <summary>The batch report: each failure with its reason, why a batch stopped, and the exit code.</summary>
    static int Report(BatchStatus s, bool json)
    {
        foreach (var f in s.Failures) Console.Error.WriteLine($"latentbalance: error: {f.Error}");
        if (s.StopReason != null && s.Phase == BatchPhase.Stopped) Console.Error.WriteLine($"latentbalance: error: batch {s.Id} stopped: {s.StopReason}");
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                id = s.Id, phase = Phase(s), total = s.Total, done = s.Done, failed = s.Failed, remaining = s.Remaining, inFlight = s.InFlight,
                source = s.Source, dest = s.Dest, submittedUtc = s.SubmittedUtc, endedUtc = s.EndedUtc, stopReason = s.StopReason,
                rerun = s.Rerun, perSilo = s.PerSilo, failures = s.Failures.Select(f => new { input = f.Input, error = f.Error, code = f.Code }),
            }, new JsonSerializerOptions { WriteIndented = true }));
        return s.Phase switch
        {
            BatchPhase.Running => 0,
            BatchPhase.Stopped => Stopped,
            BatchPhase.Cancelled => Cancelled,
            _ => s.Failed > 0 ? 1 : 0,
        };
    }
}
