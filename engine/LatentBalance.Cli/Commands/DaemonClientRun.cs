using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.DBus;
using LatentBalance.Engine.Pipeline;

namespace LatentBalance.Cli.Commands;

/// <summary>
/// <c>latentbalance balance</c> through a running engine daemon (D-Bus): all inputs are queued at once
/// (paths made absolute first), then waited for in order. Output files are replaced, as in-process.
/// </summary>
static class DaemonClientRun
{
    /// <summary>Returned when the daemon could not be reached and the caller may fall back to in-process.</summary>
    public const int NotReachable = -1;

    /// <summary>The reader's notes on an input (the daemon's reply has no room for them; reading the
    /// header again here is cheap).</summary>
    static IReadOnlyList<string> Notes(string input)
    {
        try { return LatentBalance.Engine.Imaging.PhotoReader.Open(input).Notes; }
        catch (LatentBalance.Engine.Imaging.ImageInputException) { return []; }
    }

    public static async Task<int> RunAsync(string[] inputs, string output, string? lut, bool json, BalanceOptions options, bool requireDaemon, CancellationToken ct)
    {
        List<BalanceCommand.Job> jobs;
        try { jobs = BalanceCommand.Plan(inputs, output, lut, null); }
        catch (ArgumentException e) { CliErrors.Print(e); return 2; }

        DBusEngineClient client;
        try { client = DBusEngineClient.Connect(new DBusClientOptions { RequireRunning = !requireDaemon, SubscribeToSignals = false }); }
        catch (BridgeException e)
        {
            if (!requireDaemon) return NotReachable;
            Console.Error.WriteLine($"latentbalance: error: {e.Message}");
            return 2;
        }
        using (client)
        {
            var parameters = new Dictionary<string, string>
            {
                ["iterations"] = options.Iterations.ToString(CultureInfo.InvariantCulture),
                ["strength"] = options.Strength.ToString("R", CultureInfo.InvariantCulture),
            };
            var clock = Stopwatch.StartNew();
            var tickets = new List<(BalanceCommand.Job Job, string? Id, BridgeException? Error)>();
            foreach (var j in jobs)
            {
                var request = RequestRules.WithAbsolutePaths(new BalanceRequest
                {
                    InputPath = j.Input, OutputPath = j.Output, LutPath = j.Lut, Parameters = parameters, Overwrite = true,
                });
                try { tickets.Add((j, (await client.BalanceAsync(request, ct)).JobId, null)); }
                catch (BridgeException e) when (e.Code == BridgeErrorCode.Unavailable && tickets.Count == 0 && !requireDaemon) { return NotReachable; }
                catch (BridgeException e) { tickets.Add((j, null, e)); }
            }
            using var cancelJobs = ct.Register(() =>
            {
                foreach (var t in tickets) if (t.Id != null) _ = client.CancelAsync(t.Id, CancellationToken.None);
            });

            var results = new List<object>();
            int failed = 0;
            for (int i = 0; i < tickets.Count; i++)
            {
                var (j, id, error) = tickets[i];
                string? message = error?.Message;
                string? code = error?.Code.ToString();
                if (id != null)
                {
                    try
                    {
                        var r = await client.WaitAsync(id, -1, CancellationToken.None);
                        if (r.State == JobState.Done)
                        {
                            var notes = Notes(j.Input);
                            results.Add(new { ok = true, via = "daemon", job = id, input = j.Input, output = r.OutputPath, lut = j.Lut, elapsedMs = r.ElapsedMs, notes });
                            if (!json) foreach (var note in notes) Console.Error.WriteLine($"latentbalance: note: {j.Input}: {note}");
                            if (!json) Console.Error.WriteLine($"[{i + 1}/{jobs.Count}] {j.Input} -> {j.Output} (daemon, {r.ElapsedMs / 1000.0:F1} s)");
                            continue;
                        }
                        message = r.Error ?? WireNames.ToWire(r.State);
                        code = r.ErrorCode?.ToString();
                    }
                    catch (BridgeException e) { message = e.Message; code = e.Code.ToString(); }
                }
                failed++;
                results.Add(new { ok = false, via = "daemon", input = j.Input, code, error = message });
                if (!json) Console.Error.WriteLine($"[{i + 1}/{jobs.Count}] {j.Input}: failed");
                Console.Error.WriteLine($"latentbalance: error: {message}");
            }
            if (json)
                Console.WriteLine(JsonSerializer.Serialize(jobs.Count == 1 && inputs.Length == 1 ? results[0] : results, new JsonSerializerOptions { WriteIndented = true }));
            if (!json) Console.Error.WriteLine($"latentbalance: {jobs.Count - failed} of {jobs.Count} done through the daemon in {clock.Elapsed.TotalSeconds:F1} s");
            return failed > 0 ? 1 : 0;
        }
    }
}
