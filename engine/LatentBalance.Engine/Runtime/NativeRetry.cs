using System.Runtime.InteropServices;

namespace LatentBalance.Engine.Runtime;

/// <summary>
/// Retries deterministic model work after libtorch's spurious internal check. On this machine
/// (TorchSharp 0.107, .NET 10, a Firecracker VM), a libtorch op that reads a Scalar now and then fails
/// with "Expected false to be true" (c10::Scalar::toDouble found no valid tag) when the runtime
/// suspends the thread for a garbage collection started on another thread. It is not a lifetime bug
/// of ours: it happens with Scalars held in static fields and with 0-dim tensors as well, never
/// without a collection on another thread and never with collections on the same thread
/// (<c>dotnet cake --target=benchmark --bench=scalar-race</c>). Work that is a pure function of its
/// input is simply run again.
/// </summary>
public static class NativeRetry
{
    /// <summary>The text of libtorch's failed internal check, as TorchSharp reports it.</summary>
    public const string SpuriousCheck = "Expected false to be true";

    /// <summary>True for the spurious native failure (and only for it).</summary>
    public static bool IsSpurious(Exception e) => e is ExternalException && e.Message.Contains(SpuriousCheck, StringComparison.Ordinal);

    /// <summary>Runs <paramref name="work"/>, again (up to <paramref name="attempts"/> times in all)
    /// while it fails with the spurious native check; any other failure goes straight to the caller.
    /// <paramref name="beforeRetry"/> undoes what a failed attempt left behind.</summary>
    public static T Run<T>(Func<T> work, int attempts = 3, Action? beforeRetry = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempts, 1);
        for (int attempt = 1; ; attempt++)
        {
            try { return work(); }
            catch (Exception e) when (attempt < attempts && IsSpurious(e))
            {
                beforeRetry?.Invoke();
            }
        }
    }
}
