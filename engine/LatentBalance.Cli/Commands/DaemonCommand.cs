using System.CommandLine;
using LatentBalance.Daemon;

namespace LatentBalance.Cli.Commands;

/// <summary><c>latentbalance daemon</c>: the engine with warm models, on the D-Bus session bus or JSON-RPC over stdio.</summary>
static class DaemonCommand
{
    public static Command Create()
    {
        var stdio = new Option<bool>("--stdio") { Description = "serve JSON-RPC 2.0 on stdin/stdout (one JSON object per line) instead of D-Bus" };
        var idleExit = new Option<double?>("--idle-exit") { Description = "exit after this many SECONDS without calls or jobs" };
        var jobTimeout = new Option<double>("--job-timeout") { Description = "stop a job still running after this many seconds", DefaultValueFactory = _ => 600 };
        var jobs = new Option<int>("--jobs") { Description = "jobs at once (image reading/writing overlap; inference is one at a time)", DefaultValueFactory = _ => Math.Clamp(Environment.ProcessorCount, 2, 4) };
        var bus = new Option<string?>("--bus-address") { Description = "D-Bus address (default: the session bus)" };
        var filters = new Option<string[]>("--filters") { Description = "extra filter plug-in folder (repeatable)", AllowMultipleArgumentsPerToken = false };
        var cmd = new Command("daemon", "Run the engine as a service: models loaded once, jobs from D-Bus (org.latentbalance.Engine1) or stdio.")
        {
            stdio, idleExit, jobTimeout, jobs, bus, filters, BalanceCommand.Device, BalanceCommand.Runtime, BalanceCommand.Pack,
        };
        cmd.SetAction(async (pr, ct) =>
        {
            double? idle = pr.GetValue(idleExit);
            double timeout = pr.GetValue(jobTimeout);
            int n = pr.GetValue(jobs);
            if (idle is <= 0 || timeout <= 0 || n < 1)
            {
                Console.Error.WriteLine("latentbalance: error: --idle-exit and --job-timeout must be positive and --jobs at least 1");
                return 2;
            }
            var options = new DaemonOptions
            {
                Stdio = pr.GetValue(stdio),
                IdleExit = idle is { } s ? TimeSpan.FromSeconds(s) : null,
                JobTimeout = TimeSpan.FromSeconds(timeout),
                MaxConcurrentJobs = n,
                BusAddress = pr.GetValue(bus),
                FilterFolders = pr.GetValue(filters) ?? [],
                Device = pr.GetValue(BalanceCommand.Device)!,
                Runtime = pr.GetValue(BalanceCommand.Runtime)!,
                Pack = pr.GetValue(BalanceCommand.Pack),
            };
            return await DaemonRunner.RunAsync(options, new DaemonLog(), ct);
        });
        return cmd;
    }
}
