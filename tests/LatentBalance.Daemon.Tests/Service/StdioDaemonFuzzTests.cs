using System.Diagnostics;
using LatentBalance.Bridge.Contract;
using LatentBalance.Daemon.Tests.Support;
using LatentBalance.Engine.Tests.Imaging;
using NetVips;
using Xunit.Abstractions;

namespace LatentBalance.Daemon.Tests.Service;

/// <summary>
/// Issue 13: 60 of the engine fuzz test's mutated images (every fifth of its 300) through the real daemon
/// over stdio JSON-RPC, as a latent balance each. Each must be refused at submission or end as a job
/// (done with a readable output, or failed) with a one-line error naming the file and a code other than
/// Internal, within a bound; the daemon must answer afterwards, and nothing may be left in the output folder.
/// </summary>
public sealed class StdioDaemonFuzzTests(StdioDaemonFuzzTests.Fixture fixture, ITestOutputHelper output) : IClassFixture<StdioDaemonFuzzTests.Fixture>, IDisposable
{
    /// <summary>A daemon of its own, so that whatever the fuzz does to it cannot touch the contract suite's.</summary>
    public sealed class Fixture : IDisposable
    {
        public Fixture() => Client = DaemonProcess.StartStdio(Log, "--job-timeout", "120");
        public System.Collections.Concurrent.ConcurrentQueue<string> Log { get; } = new();
        public LatentBalance.Bridge.Rpc.StdioEngineClient Client { get; }
        public void Dispose() => Client.Dispose();
    }

    readonly TempDir _in = new("fuzz-daemon-in");
    readonly TempDir _out = new("fuzz-daemon-out");

    [Fact]
    public async Task Sixty_mutated_images_each_get_a_one_line_answer_and_the_daemon_still_serves()
    {
        var c = fixture.Client;
        const int bound = 90_000; // ms per case: a clean balance takes about 2 s on the shared CPU
        var cases = ImageFuzzer.Generate(13, 300).Where(k => k.Index % 5 == 0).ToList();
        Assert.Equal(60, cases.Count);
        var problems = new List<string>();
        var outcomes = new List<(FuzzCase Case, string Outcome, double Ms)>();
        foreach (var k in cases)
        {
            var input = _in.File(k.FileName);
            File.WriteAllBytes(input, k.Bytes);
            var outp = _out.File(Path.GetFileNameWithoutExtension(k.FileName) + ".out" + Path.GetExtension(k.FileName));
            var sw = Stopwatch.StartNew();
            string outcome;
            string? error = null, problem = null;
            BridgeErrorCode? code = null;
            try
            {
                var ticket = await c.BalanceAsync(new BalanceRequest { InputPath = input, OutputPath = outp, FilterId = FilterIds.LatentBalance });
                var r = await c.WaitAsync(ticket.JobId, bound);
                (outcome, error, code) = (r.State.ToString(), r.Error, r.ErrorCode);
                if (r.State == JobState.Done) problem = Readable(outp);
                else if (r.State != JobState.Failed) problem = $"job ended as {r.State}";
            }
            catch (BridgeException e) when (e.Code == BridgeErrorCode.Timeout)
            {
                (outcome, problem) = ("hang", $"no answer within {bound / 1000} s");
            }
            catch (BridgeException e)
            {
                (outcome, error, code) = ("refused", e.Message, e.Code);
            }
            double ms = sw.Elapsed.TotalMilliseconds;
            if (error != null)
            {
                if (error.Contains('\n') || error.Contains('\r')) problem ??= "the error has more than one line";
                if (!error.Contains(k.FileName)) problem ??= "the error does not name the file";
                if (code == BridgeErrorCode.Internal) problem ??= "code Internal";
                outcome += ":" + code;
            }
            var left = Directory.GetFileSystemEntries(_out.Path).Where(p => p != outp || !outcome.StartsWith("Done")).ToList();
            if (left.Count > 0) problem ??= "left behind: " + string.Join(", ", left.Select(Path.GetFileName));
            foreach (var f in Directory.GetFiles(_out.Path)) File.Delete(f);
            outcomes.Add((k, outcome, ms));
            if (problem != null) problems.Add($"{k.FileName}: {outcome}: {error}  <-- {problem}");
            if (outcome == "hang") break;
        }

        output.WriteLine($"{outcomes.Count} cases in {outcomes.Sum(o => o.Ms) / 1000:F1} s, max {outcomes.Max(o => o.Ms):F0} ms");
        foreach (var g in outcomes.GroupBy(o => o.Outcome).OrderByDescending(g => g.Count()))
            output.WriteLine($"  {g.Key,-24} {g.Count(),3}  " + string.Join(", ", g.GroupBy(o => o.Case.Format).OrderBy(f => f.Key).Select(f => $"{f.Key} {f.Count()}")));
        foreach (var p in problems) output.WriteLine(p);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Contains(outcomes, o => o.Outcome == "Done");
        Assert.Contains(outcomes, o => o.Outcome.Contains("BadImage"));

        // the daemon still answers and balances, and logged no unhandled error
        var info = await c.GetInfoAsync();
        Assert.Contains(FilterIds.LatentBalance, info.Filters);
        var good = TestImages.Gradient(_in.File("after.png"), 32, 24);
        var after = await c.WaitAsync((await c.BalanceAsync(new BalanceRequest { InputPath = good, OutputPath = _out.File("after.out.png"), FilterId = FilterIds.LatentBalance })).JobId, bound);
        Assert.Equal(JobState.Done, after.State);
        var bad = fixture.Log.Where(l => l.Contains("Unhandled exception") || l.Contains("\"level\":\"error\"") || l.Contains("\"code\":\"Internal\"")).ToList();
        Assert.True(bad.Count == 0, "daemon log:\n" + string.Join("\n", bad));
        File.Delete(_out.File("after.out.png"));
        Assert.Empty(Directory.GetFileSystemEntries(_out.Path));
    }

    static string? Readable(string path)
    {
        try
        {
            using var img = Image.NewFromFile(path, access: Enums.Access.Sequential, failOn: Enums.FailOn.Error);
            _ = img.Avg();
            return null;
        }
        catch (Exception e) { return "output not readable: " + e.Message.Split('\n')[0]; }
    }

    public void Dispose()
    {
        _in.Dispose();
        _out.Dispose();
    }
}
