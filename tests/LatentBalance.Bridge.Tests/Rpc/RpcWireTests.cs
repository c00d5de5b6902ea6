using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.Rpc;
using LatentBalance.Bridge.Tests.Support;
using Nerdbank.Streams;
using StreamJsonRpc;

namespace LatentBalance.Bridge.Tests.Rpc;

/// <summary>
/// The JSON-RPC connection <see cref="RpcWire.CreateRpc"/> builds (used by both the stdio client and host): a decoded
/// message must not depend on buffers that go back to the shared pool once the line has been read.
/// </summary>
public sealed class RpcWireTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly FakeEngineService _service = new(maxConcurrency: 8);

    /// <summary>
    /// JsonRpc traces "received result" / "received request" after the line has been read from the pipe and before the
    /// result or params are decoded. The listener stands in for any other code using <see cref="ArrayPool{T}.Shared"/>
    /// at that moment on the reading thread: it rents a pipe-sized buffer and writes 'X' over it. Messages that still
    /// point into a recycled pipe buffer then decode as "'X' is an invalid start of a value" or as wrong data.
    /// </summary>
    private sealed class PoolUserAtDecodeTime : TraceListener
    {
        public int Hits;

        public override void TraceEvent(TraceEventCache? eventCache, string source, TraceEventType eventType, int id, string? format, params object?[]? args) => OnEvent(id);

        public override void TraceEvent(TraceEventCache? eventCache, string source, TraceEventType eventType, int id, string? message) => OnEvent(id);

        private void OnEvent(int id)
        {
            if (id is not ((int)JsonRpc.TraceEvents.ReceivedResult or (int)JsonRpc.TraceEvents.RequestReceived)) return;
            Interlocked.Increment(ref Hits);
            byte[] scratch = ArrayPool<byte>.Shared.Rent(4096);
            scratch.AsSpan().Fill((byte)'X');
            ArrayPool<byte>.Shared.Return(scratch);
        }

        public override void Write(string? message) { }

        public override void WriteLine(string? message) { }
    }

    /// <summary>Receives the host's JobCompleted notifications on a raw connection.</summary>
    private sealed class CompletedSink
    {
        public ConcurrentQueue<JobCompletedEventArgs> Seen { get; } = new();

        [JsonRpcMethod(RpcWire.Methods.JobCompleted, UseSingleObjectParameterDeserialization = true)]
        public void JobCompleted(JobCompletedEventArgs e) => Seen.Enqueue(e);
    }

    [Fact]
    public async Task Results_and_notifications_own_their_bytes_when_the_shared_pool_is_reused_meanwhile()
    {
        const int connections = 4, calls = 25;
        var failures = new ConcurrentQueue<string>();
        var listener = new PoolUserAtDecodeTime();
        var outputs = new ConcurrentDictionary<string, string>();
        var sinks = new List<CompletedSink>();
        var rpcs = new List<JsonRpc>();
        for (int c = 0; c < connections; c++)
        {
            var (clientSide, serverSide) = FullDuplexStream.CreatePair();
            _ = Task.Run(async () =>
            {
                try { await StdioEngineHost.RunAsync(_service, serverSide, serverSide); }
                finally { await serverSide.DisposeAsync(); }
            });
            var rpc = RpcWire.CreateRpc(clientSide, clientSide);
            rpc.TraceSource = new TraceSource("rpc-wire-test", SourceLevels.Information);
            rpc.TraceSource.Listeners.Clear();
            var sink = new CompletedSink();
            rpc.AddLocalRpcTarget(sink, new JsonRpcTargetOptions { NotifyClientOfEvents = false });
            rpc.StartListening();
            await rpc.InvokeAsync<EngineInfo>(RpcWire.Methods.GetInfo); // the host is listening, so subscribed to job events
            rpc.TraceSource.Listeners.Add(listener);
            sinks.Add(sink);
            rpcs.Add(rpc);
        }

        try
        {
            await Task.WhenAll(rpcs.Select((rpc, c) => Task.Run(async () =>
            {
                for (int i = 0; i < calls; i++)
                {
                    string name = $"w{c}-{i}";
                    try
                    {
                        var q = new BalanceRequest
                        {
                            InputPath = _dir.Input(name + ".jpg", name),
                            OutputPath = _dir.File(name + ".out.jpg"),
                            Parameters = new Dictionary<string, string> { ["steps"] = "2", ["delay_ms"] = "0" },
                        };
                        var ticket = await rpc.InvokeWithParameterObjectAsync<JobTicket>(RpcWire.Methods.Balance, q);
                        outputs[ticket.JobId] = q.OutputPath;
                        var status = await rpc.InvokeWithParameterObjectAsync<JobStatus>(RpcWire.Methods.GetJob, new { jobId = ticket.JobId });
                        if (status.JobId != ticket.JobId) failures.Enqueue($"{name}: GetJob({ticket.JobId}) answered for {status.JobId}");
                    }
                    catch (Exception ex) when (ex is not OutOfMemoryException)
                    {
                        failures.Enqueue($"{name}: {ex.GetType().Name}: {ex.Message}");
                    }
                }
            }))).WaitAsync(TimeSpan.FromMinutes(2));

            int jobs = connections * calls;
            for (int i = 0; i < 100 && sinks.Any(s => s.Seen.Count < outputs.Count); i++) await Task.Delay(50);

            Assert.True(listener.Hits > 2 * jobs, $"the pool user ran only {listener.Hits} times");
            Assert.True(failures.IsEmpty, $"{failures.Count} of {2 * jobs} calls failed, e.g. {failures.FirstOrDefault()}");
            Assert.Equal(jobs, outputs.Count);
            foreach (var sink in sinks)
            {
                Assert.Equal(jobs, sink.Seen.Count); // every job's JobCompleted, decoded intact, on every connection
                Assert.All(sink.Seen, e => Assert.Equal(outputs[e.JobId], e.OutputPath));
            }
        }
        finally
        {
            foreach (var rpc in rpcs) rpc.Dispose();
        }
    }

    public void Dispose()
    {
        _service.Dispose();
        _dir.Dispose();
    }
}
