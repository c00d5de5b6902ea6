using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Engine.Runtime;
using static TorchSharp.torch;
using TorchSharp;
using LatentBalance.Onnx;

namespace LatentBalance.Benchmarks;

/// <summary>
/// Diagnostic for an intermittent failure of libtorch ops that read a Scalar (not a test: the count
/// varies from run to run): "Expected false to be true" from c10::Scalar::toDouble, first seen in an
/// evaluation run. First, 200,000 rounds of three small ops on a [3, 64, 64] tensor per condition,
/// counting failures; the conditions separate the suspects: Scalar lifetimes (implicit, held in static
/// fields, 0-dim tensors instead), CPU contention (a busy thread that never collects), cross-CPU
/// barriers, and garbage collections (on the op thread itself, or on another thread). Then the
/// engine's correction (steps 2-6a) 100 times per condition: calls that failed, and collections
/// counted meanwhile.
/// The cause (2026-11-30, docs/ARCHITECTURE.md has the counts): a Scalar made for one call, by an
/// implicit conversion or inside TorchSharp (the alpha = 1 of add), is finalized while libtorch reads
/// it; with every Scalar held, the alpha included, no round fails (Runtime/HeldScalars.cs).
/// </summary>
static class ScalarRaceBenchmark
{
    // LATENTBALANCE_RACE_ROUNDS: rounds per condition; LATENTBALANCE_RACE_ONLY: run only the conditions whose label contains it
    static readonly int Ops = int.TryParse(Environment.GetEnvironmentVariable("LATENTBALANCE_RACE_ROUNDS"), out var n) ? n : 200_000;
    static readonly string Only = Environment.GetEnvironmentVariable("LATENTBALANCE_RACE_ONLY") ?? "";
    static readonly Scalar Eps = 0.0088564516790356311.ToScalar(), Slope = 0.3.ToScalar(), Offset = 0.1.ToScalar(), One = 1.ToScalar();

    enum Load { None, Busy, CollectOnOpThread, CollectElsewhere, BarrierElsewhere, AllocateElsewhere }

    public static Task RunAsync()
    {
        using var t = rand(3, 64, 64, dtype: ScalarType.Float64);
        using var epsT = tensor(0.0088564516790356311, dtype: ScalarType.Float64);
        using var slopeT = tensor(0.3, dtype: ScalarType.Float64);
        using var offsetT = tensor(0.1, dtype: ScalarType.Float64);
        void Implicit() { using var a = t.clamp_min(0.0088564516790356311); using var m = a * 0.3; using var b = m + 0.1; }
        void Held() { using var a = t.clamp_min(Eps); using var m = a * Slope; using var b = m + Offset; }
        void ZeroDim() { using var a = maximum(t, epsT); using var m = a * slopeT; using var b = m + offsetT; }
        // every Scalar held, TorchSharp's hidden alpha too: add(Scalar) is add(Scalar, 1), a Scalar made
        // for the call and referenced by nothing while libtorch reads it
        void HeldAlpha() { using var a = t.clamp_min(Eps); using var m = a.mul(Slope); using var b = m.add(Offset, One); }
        void ZeroDimAlpha() { using var a = maximum(t, epsT); using var m = a * slopeT; using var b = m.add(offsetT, One); }
        void NoScalar() { using var a = t.abs(); using var m = a.exp(); using var b = m.neg(); }

        Console.WriteLine($"{Ops} rounds of three ops each; failures per condition:");
        // held Scalars first: a failing round may leave the native heap damaged for what follows
        foreach (var (label, op, load) in new (string, Action, Load)[]
        {
            ("held Scalars, alone", Held, Load.None),
            ("held Scalars, a busy thread", Held, Load.Busy),
            ("held Scalars, collections on the op thread", Held, Load.CollectOnOpThread),
            ("no Scalars (abs, exp, neg), collections elsewhere", NoScalar, Load.CollectElsewhere),
            ("held Scalars, collections elsewhere", Held, Load.CollectElsewhere),
            ("held Scalars and alpha, collections elsewhere", HeldAlpha, Load.CollectElsewhere),
            ("0-dim tensors and held alpha, collections elsewhere", ZeroDimAlpha, Load.CollectElsewhere),
            ("held Scalars, process-wide barriers elsewhere", Held, Load.BarrierElsewhere),
            ("0-dim tensors, collections elsewhere", ZeroDim, Load.CollectElsewhere),
            ("implicit Scalars, collections elsewhere", Implicit, Load.CollectElsewhere),
        })
        {
            if (!label.Contains(Only, StringComparison.Ordinal)) continue;
            int failures = Count(op, load, out var first);
            Console.WriteLine($"  {label,-52}{failures,3}{(first is null ? "" : $"  first: {first}")}");
        }
        if (Only.Length > 0) return Task.CompletedTask;
        const int Calls = 100;
        using var engine = EngineRuntime.Load();
        Console.WriteLine($"engine correction (steps 2-6a) on the {engine.Networks.Runtime} runtime (the serving default), {Calls} calls on 10 photos per condition:");
        var tiles = Directory.GetFiles(Path.Combine(BenchImages.SharedPhotos(), "bsds500")).Order().Take(10)
            .Select(p => { using var img = NetVips.Image.NewFromFile(p); return ThumbnailFit.FromImage(img); }).ToList();
        var reference = tiles.Select(t => engine.EstimateCorrection(t, new BalanceOptions()).Data).ToList();
        EngineUnder(engine, tiles, reference, "alone", Load.None, Calls);
        EngineUnder(engine, tiles, reference, "process-wide barriers elsewhere", Load.BarrierElsewhere, Calls);
        EngineUnder(engine, tiles, reference, "allocations elsewhere", Load.AllocateElsewhere, Calls);
        EngineUnder(engine, tiles, reference, "collections elsewhere", Load.CollectElsewhere, Calls);
        return Task.CompletedTask;
    }

    /// <summary>The engine's correction (steps 2-6a) on real photos under one load: how many calls failed, and how many
    /// gave another LUT than the first call on the same tile (the same tile must give the same bytes).</summary>
    static void EngineUnder(BalanceEngine engine, List<ModelTile> tiles, List<float[]> reference, string label, Load load, int calls)
    {
        int collectionsBefore = GC.CollectionCount(0), other = 0;
        int failures = Failures(calls, load, i =>
        {
            var lut = engine.EstimateCorrection(tiles[i % tiles.Count], new BalanceOptions());
            if (!lut.Data.AsSpan().SequenceEqual(reference[i % tiles.Count])) Interlocked.Increment(ref other);
        }, out var first);
        Console.WriteLine($"  {label,-40}{failures,3} failed, {other,3} other LUTs, {GC.CollectionCount(0) - collectionsBefore,6} collections" +
                          (first is null ? "" : $"  first: {first}"));
    }

    /// <summary>A second thread that loads the process as <paramref name="load"/> says, until cancelled.</summary>
    static Task StartLoad(Load load, CancellationToken stop) => load switch
    {
        Load.Busy => Task.Run(() => { double x = 1; while (!stop.IsCancellationRequested) for (int k = 0; k < 100_000; k++) x = Math.Sqrt(x + k); GC.KeepAlive(x); }),
        // 32 KB a millisecond: collections now and then, as allocations make them, not GC.Collect
        Load.AllocateElsewhere => Task.Run(() => { byte[]? keep = null; while (!stop.IsCancellationRequested) { keep = new byte[32 << 10]; Thread.Sleep(1); } GC.KeepAlive(keep); }),
        Load.BarrierElsewhere => Task.Run(() => { while (!stop.IsCancellationRequested) Interlocked.MemoryBarrierProcessWide(); }),
        Load.CollectElsewhere => Task.Run(() => { while (!stop.IsCancellationRequested) { GC.Collect(); GC.WaitForPendingFinalizers(); } }),
        _ => Task.CompletedTask,
    };

    static int Count(Action op, Load load, out string? first) =>
        Failures(Ops, load, i => { if (load == Load.CollectOnOpThread && (i & 1) == 0) GC.Collect(); op(); }, out first);

    /// <summary>Runs <paramref name="step"/> <paramref name="n"/> times under <paramref name="load"/>
    /// and counts the steps that threw (the first message is kept).</summary>
    static int Failures(int n, Load load, Action<int> step, out string? first)
    {
        using var stop = new CancellationTokenSource();
        var other = StartLoad(load, stop.Token);
        int failures = 0;
        first = null;
        for (int i = 0; i < n; i++)
        {
            try { step(i); }
            catch (Exception e) { failures++; first ??= e.Message[..Math.Min(60, e.Message.Length)]; }
        }
        stop.Cancel();
        other.Wait();
        return failures;
    }
}
