using System.Runtime.InteropServices;

namespace LatentBalance.Engine.Runtime;

/// <summary>
/// Retries deterministic model work after libtorch finds an invalid Scalar. On this machine
/// (TorchSharp 0.107, .NET 10, a Firecracker VM), a libtorch op that reads a Scalar now and then fails
/// while a garbage collection started on another thread runs: "Expected false to be true"
/// (c10::Scalar::toDouble found no valid tag; AVX-512 kernels) or "Unknown scalar type" (the same with
/// ATEN_CPU_CAPABILITY=avx2). It is not a lifetime bug of ours: it happens with Scalars held in static
/// fields and with 0-dim tensors as well, and never without collections on another thread
/// (<c>dotnet cake --target=benchmark --bench=scalar-race</c>). Work that is a pure function of its
/// input is simply run again.
/// </summary>
public static class NativeRetry
{
    /// <summary>libtorch's messages for an invalid Scalar, as TorchSharp reports them.</summary>
    public static readonly IReadOnlyList<string> SpuriousMessages = ["Expected false to be true", "Unknown scalar type"];

    static long _retries;

    /// <summary>How many attempts this process has repeated after the spurious failure.</summary>
    public static long Retries => Interlocked.Read(ref _retries);

    /// <summary>True for the spurious native failure (and only for it).</summary>
    public static bool IsSpurious(Exception e) =>
        e is ExternalException && SpuriousMessages.Any(m => e.Message.Contains(m, StringComparison.Ordinal));

    /// <summary>Runs <paramref name="work"/>, again (up to <paramref name="attempts"/> times in all)
    /// while it fails with the spurious native failure; any other failure goes straight to the caller.
    /// <paramref name="beforeRetry"/> undoes what a failed attempt left behind.</summary>
    public static T Run<T>(Func<T> work, int attempts = 3, Action? beforeRetry = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempts, 1);
        for (int attempt = 1; ; attempt++)
        {
            try { return work(); }
            catch (Exception e) when (attempt < attempts && IsSpurious(e))
            {
                Interlocked.Increment(ref _retries);
                beforeRetry?.Invoke();
            }
        }
    }
}
