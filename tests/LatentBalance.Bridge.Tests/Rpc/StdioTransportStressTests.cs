using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.Rpc;
using LatentBalance.Bridge.Tests.Support;
using Nerdbank.Streams;
using Xunit.Abstractions;

namespace LatentBalance.Bridge.Tests.Rpc;

/// <summary>
/// The stdio transport under load: several clients with concurrent calls in flight, progress notifications flowing, and
/// other code in the process renting and writing to buffers of the shared <see cref="ArrayPool{T}"/> (as file I/O, other
/// connections and the test runner do). Every result must be the one the host sent; the bytes each client received are
/// recorded, so a failure shows whether the wire or the client's decoding was at fault.
/// </summary>
public sealed class StdioTransportStressTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly FakeEngineService _service = new(maxConcurrency: 8);
    private readonly List<IDisposable> _clients = new();

    private const int Steps = 3;

    [Fact]
    public async Task Results_and_notifications_stay_intact_under_load_and_buffer_pool_churn()
    {
        const int clients = 8, callersPerClient = 4, rounds = 10;
        var taps = new List<WireTap>();
        var failures = new ConcurrentQueue<string>();
        var outputs = new ConcurrentDictionary<string, string>(); // job id -> output path, for every job started
        var completedSeen = new List<ConcurrentQueue<JobCompletedEventArgs>>();
        var progressSeen = new List<ConcurrentQueue<JobProgressEventArgs>>();
        using var stop = new CancellationTokenSource();
        var churn = Enumerable.Range(0, 2).Select(_ => Task.Run(() => ChurnSharedPool(stop.Token))).ToArray();

        var connected = Enumerable.Range(0, clients).Select(_ => Connect()).ToList();
        // A round trip each: every host is listening (and so subscribed to the service's events) before any job starts.
        await Task.WhenAll(connected.Select(x => x.Client.GetInfoAsync()));
        var work = Enumerable.Range(0, clients).Select(c =>
        {
            var (client, tap) = connected[c];
            taps.Add(tap);
            // Every host forwards every job's notifications, so each client hears about all jobs of all clients.
            var completed = new ConcurrentQueue<JobCompletedEventArgs>();
            var progress = new ConcurrentQueue<JobProgressEventArgs>();
            completedSeen.Add(completed);
            progressSeen.Add(progress);
            client.JobCompleted += (_, e) => completed.Enqueue(e);
            client.JobProgress += (_, e) => progress.Enqueue(e);
            return Enumerable.Range(0, callersPerClient).Select(k => Task.Run(async () =>
            {
                for (int r = 0; r < rounds; r++)
                {
                    string name = $"c{c}-k{k}-r{r}";
                    try
                    {
                        var q = new BalanceRequest
                        {
                            InputPath = _dir.Input(name + ".in.jpg", name),
                            OutputPath = _dir.File(name + ".out.jpg"),
                            Parameters = new Dictionary<string, string> { ["steps"] = Steps.ToString(), ["delay_ms"] = "0" },
                        };
                        var ticket = await client.BalanceAsync(q);
                        if (!ticket.JobId.StartsWith("job-", StringComparison.Ordinal)) failures.Enqueue($"{name} Balance: ticket '{ticket.JobId}'");
                        outputs[ticket.JobId] = q.OutputPath;
                        var status = await client.GetJobAsync(ticket.JobId);
                        if (status.JobId != ticket.JobId) failures.Enqueue($"{name} GetJob: asked {ticket.JobId}, got {status.JobId}");
                        var info = await client.GetInfoAsync();
                        if (info.Version != FakeEngineService.Version) failures.Enqueue($"{name} GetInfo: version '{info.Version}'");
                        var result = await client.WaitAsync(ticket.JobId, 30_000);
                        if (result.JobId != ticket.JobId || result.State != JobState.Done || result.OutputPath != q.OutputPath)
                            failures.Enqueue($"{name} Wait: {result}");
                    }
                    catch (Exception ex) when (ex is not OutOfMemoryException)
                    {
                        failures.Enqueue($"{name}: {ex.GetType().Name}: {ex.Message}");
                        return;
                    }
                }
            }));
        }).SelectMany(t => t).ToList();

        await Task.WhenAll(work).WaitAsync(TimeSpan.FromMinutes(3));
        int jobs = clients * callersPerClient * rounds;
        // The last notifications may still be on their way after the last Wait returned.
        for (int i = 0; i < 100 && (completedSeen.Any(q => q.Count < jobs) || progressSeen.Any(q => q.Count < jobs * Steps)); i++)
            await Task.Delay(100);
        await stop.CancelAsync();
        await Task.WhenAll(churn);

        int calls = jobs * 4;
        var badLines = taps.SelectMany(t => t.Lines()).Where(l => !IsJsonRpcObject(l)).ToList();
        output.WriteLine($"{calls} calls, {failures.Count} failed; {taps.Sum(t => t.Lines().Count)} lines received, {badLines.Count} not well-formed; " +
            $"JobCompleted per client: {string.Join(",", completedSeen.Select(q => q.Count))}; JobProgress per client: {string.Join(",", progressSeen.Select(q => q.Count))}");
        foreach (var f in failures.Take(10)) output.WriteLine(f);
        foreach (var l in badLines.Take(5)) output.WriteLine("bad line on the wire: " + l);

        Assert.Empty(badLines); // the host always sends whole, well-formed lines
        Assert.True(failures.IsEmpty, $"{failures.Count} of {calls} calls failed, e.g. {failures.FirstOrDefault()}");
        Assert.Equal(jobs, outputs.Count);
        foreach (var completed in completedSeen)
        {
            Assert.Equal(jobs, completed.Count); // one JobCompleted per job, none lost or doubled
            Assert.All(completed, e => Assert.Equal(outputs[e.JobId], e.OutputPath));
            Assert.Equal(jobs, completed.Select(e => e.JobId).Distinct().Count());
        }
        double[] expectedProgress = Enumerable.Range(0, Steps).Select(i => (double)i / Steps).ToArray();
        foreach (var progress in progressSeen)
        {
            Assert.Equal(jobs * Steps, progress.Count);
            Assert.All(progress, e => Assert.True(outputs.ContainsKey(e.JobId) && expectedProgress.Contains(e.Progress), $"unexpected progress {e}"));
        }
    }

    /// <summary>Other code in the process: rents pooled buffers of the sizes a pipe reader uses, writes to them, returns them.</summary>
    private static void ChurnSharedPool(CancellationToken stop)
    {
        var pool = ArrayPool<byte>.Shared;
        while (!stop.IsCancellationRequested)
        {
            byte[] a = pool.Rent(4096), b = pool.Rent(4096);
            a.AsSpan().Fill((byte)'X');
            b.AsSpan().Fill((byte)'X');
            pool.Return(b);
            pool.Return(a);
        }
    }

    private static bool IsJsonRpcObject(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("jsonrpc", out var v) && v.GetString() == "2.0";
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private (StdioEngineClient Client, WireTap Tap) Connect()
    {
        var (clientSide, serverSide) = FullDuplexStream.CreatePair();
        _ = Task.Run(async () =>
        {
            try { await StdioEngineHost.RunAsync(_service, serverSide, serverSide); }
            finally { await serverSide.DisposeAsync(); }
        });
        var tap = new WireTap(clientSide);
        var client = StdioEngineClient.Attach(clientSide, tap, clientSide);
        lock (_clients) _clients.Add(client);
        return (client, tap);
    }

    public void Dispose()
    {
        lock (_clients) foreach (var c in _clients) c.Dispose();
        _service.Dispose();
        _dir.Dispose();
    }

    /// <summary>A read-only view of a stream that keeps a copy of every byte read through it.</summary>
    private sealed class WireTap(Stream inner) : Stream
    {
        private readonly MemoryStream _seen = new();

        public List<string> Lines()
        {
            byte[] bytes;
            lock (_seen) bytes = _seen.ToArray();
            return Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, count);
            lock (_seen) _seen.Write(buffer, offset, n);
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            lock (_seen) _seen.Write(buffer.Span[..n]);
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
