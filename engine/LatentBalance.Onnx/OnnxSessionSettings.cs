using Microsoft.ML.OnnxRuntime;

namespace LatentBalance.Onnx;

/// <summary>
/// How ONNX Runtime runs one session on the CPU: intra-op threads, whether its pool threads spin between runs, the memory
/// arena and memory pattern, the graph optimisation level and the intra-op pool's dynamic block base. Null leaves
/// ONNX Runtime's own default. <see cref="Default"/> is what every session used before these were measured (issue 16);
/// <see cref="OnnxNetworks"/> picks from the measured ones (docs/BENCHMARKS.md, "ONNX Runtime session settings").
/// </summary>
public sealed record OnnxSessionSettings
{
    /// <summary>Intra-op threads; null: the cores this process may use.</summary>
    public int? IntraOpThreads { get; init; }

    /// <summary><c>session.intra_op.allow_spinning</c>: whether the intra-op pool's threads busy-wait for work after a run.</summary>
    public bool? IntraOpSpinning { get; init; }

    /// <summary><c>session.inter_op.allow_spinning</c> (the inter-op pool: only used in parallel execution mode).</summary>
    public bool? InterOpSpinning { get; init; }

    public bool MemoryArena { get; init; } = true;

    public bool MemoryPattern { get; init; } = true;

    public GraphOptimizationLevel Optimization { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary><c>session.dynamic_block_base</c>: a positive value makes the intra-op pool hand out shrinking blocks of work.</summary>
    public int? DynamicBlockBase { get; init; }

    public static readonly OnnxSessionSettings Default = new();

    public int Threads => IntraOpThreads ?? Environment.ProcessorCount;

    internal SessionOptions ToOptions()
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = Threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = Optimization,
            EnableCpuMemArena = MemoryArena,
            EnableMemoryPattern = MemoryPattern,
        };
        if (IntraOpSpinning is { } intra) options.AddSessionConfigEntry("session.intra_op.allow_spinning", intra ? "1" : "0");
        if (InterOpSpinning is { } inter) options.AddSessionConfigEntry("session.inter_op.allow_spinning", inter ? "1" : "0");
        if (DynamicBlockBase is { } block) options.AddSessionConfigEntry("session.dynamic_block_base", block.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return options;
    }

    /// <summary>What differs from <see cref="Default"/>, in ONNX Runtime's words ("default" when nothing does).</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (IntraOpThreads is { } t) parts.Add($"intra-op threads {t}");
        if (IntraOpSpinning is { } s) parts.Add($"intra_op.allow_spinning {(s ? 1 : 0)}");
        if (InterOpSpinning is { } i) parts.Add($"inter_op.allow_spinning {(i ? 1 : 0)}");
        if (!MemoryArena) parts.Add("memory arena off");
        if (!MemoryPattern) parts.Add("memory pattern off");
        if (Optimization != GraphOptimizationLevel.ORT_ENABLE_ALL) parts.Add(Optimization.ToString());
        if (DynamicBlockBase is { } b) parts.Add($"dynamic_block_base {b}");
        return parts.Count == 0 ? "default" : string.Join(", ", parts);
    }
}
