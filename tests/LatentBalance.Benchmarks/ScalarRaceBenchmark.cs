using static TorchSharp.torch;
using TorchSharp;

namespace LatentBalance.Benchmarks;

/// <summary>
/// Diagnostic for an intermittent failure of libtorch ops that read a Scalar (not a test: the count
/// varies from run to run): "Expected false to be true" from c10::Scalar::toDouble, first seen in an
/// evaluation run. Each line runs 200,000 rounds of three small ops on a [3, 64, 64] tensor under one
/// condition and counts the failures. The lines separate the suspects: Scalar lifetimes (implicit,
/// held in static fields, 0-dim tensors instead), CPU contention (a busy thread that never collects)
/// and garbage collections (on another thread, or on the op thread itself).
/// Measured 2026-11-26 (several runs of 400,000 rounds, see docs/ARCHITECTURE.md): failures only
/// while another thread collects, about one per 400,000 rounds, with implicit Scalars, held Scalars
/// and 0-dim tensors alike; none alone, none with a busy thread, none with collections on the op
/// thread, none for ops without a Scalar (abs, exp, neg). So the runtime suspending the op thread for
/// a collection started elsewhere is the trigger. The engine runs its model work through
/// <c>NativeRetry</c>, which repeats it after this failure.
/// </summary>
static class ScalarRaceBenchmark
{
    const int Ops = 200_000;
    static readonly Scalar Eps = 0.0088564516790356311.ToScalar(), Slope = 0.3.ToScalar(), Offset = 0.1.ToScalar();

    enum Load { None, Busy, CollectOnOpThread, CollectElsewhere }

    public static Task RunAsync()
    {
        using var t = rand(3, 64, 64, dtype: ScalarType.Float64);
        using var epsT = tensor(0.0088564516790356311, dtype: ScalarType.Float64);
        using var slopeT = tensor(0.3, dtype: ScalarType.Float64);
        using var offsetT = tensor(0.1, dtype: ScalarType.Float64);
        void Implicit() { using var a = t.clamp_min(0.0088564516790356311); using var m = a * 0.3; using var b = m + 0.1; }
        void Held() { using var a = t.clamp_min(Eps); using var m = a * Slope; using var b = m + Offset; }
        void ZeroDim() { using var a = maximum(t, epsT); using var m = a * slopeT; using var b = m + offsetT; }
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
            ("0-dim tensors, collections elsewhere", ZeroDim, Load.CollectElsewhere),
            ("implicit Scalars, collections elsewhere", Implicit, Load.CollectElsewhere),
        })
        {
            int failures = Count(op, load, out var first);
            Console.WriteLine($"  {label,-52}{failures,3}{(first is null ? "" : $"  first: {first}")}");
        }
        return Task.CompletedTask;
    }

    static int Count(Action op, Load load, out string? first)
    {
        using var stop = new CancellationTokenSource();
        var other = load switch
        {
            Load.Busy => Task.Run(() => { double x = 1; while (!stop.IsCancellationRequested) for (int k = 0; k < 100_000; k++) x = Math.Sqrt(x + k); GC.KeepAlive(x); }),
            Load.CollectElsewhere => Task.Run(() => { while (!stop.IsCancellationRequested) { GC.Collect(); GC.WaitForPendingFinalizers(); } }),
            _ => Task.CompletedTask,
        };
        int failures = 0;
        first = null;
        for (int i = 0; i < Ops; i++)
        {
            if (load == Load.CollectOnOpThread && (i & 1) == 0) GC.Collect();
            try { op(); }
            catch (Exception e) { failures++; first ??= e.Message[..Math.Min(60, e.Message.Length)]; }
        }
        stop.Cancel();
        other.Wait();
        return failures;
    }
}
