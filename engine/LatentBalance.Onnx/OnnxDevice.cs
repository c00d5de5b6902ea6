using Microsoft.ML.OnnxRuntime;

namespace LatentBalance.Onnx;

/// <summary>
/// Where ONNX Runtime runs the networks: the CPU, or CUDA device <see cref="Index"/> through the CUDA execution
/// provider. CUDA needs a build with -p:OnnxBackend=cuda (Microsoft.ML.OnnxRuntime.Gpu.Linux instead of the CPU
/// package; <see cref="CudaBuild"/>), and CUDA 12 with cuDNN 9 where it runs.
/// </summary>
public sealed record OnnxDevice(bool IsCuda, int Index)
{
    public static readonly OnnxDevice Cpu = new(false, 0);

#if ONNX_CUDA
    public const bool CudaBuild = true;
#else
    public const bool CudaBuild = false;
#endif

    public override string ToString() => IsCuda ? (Index == 0 ? "cuda" : $"cuda:{Index}") : "cpu";

    /// <summary>"cpu", "cuda" or "cuda:N"; "auto" is CUDA in a CUDA build whose provider is there, else the CPU
    /// (<see cref="OnnxNetworks.Load"/> falls back to the CPU when an "auto" CUDA session cannot start).</summary>
    /// <exception cref="ArgumentException">an unknown name, or CUDA asked of a CPU build.</exception>
    public static OnnxDevice Parse(string? name)
    {
        var n = (name ?? "auto").Trim().ToLowerInvariant();
        if (n == "cpu") return Cpu;
        if (n == "auto") return CudaBuild && CudaProviderPresent() ? new(true, 0) : Cpu;
        int index = 0;
        if (n != "cuda" && !(n.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(n.AsSpan(5), out index) && index >= 0))
            throw new ArgumentException($"unknown device '{name}': use auto, cpu or cuda");
        if (!CudaBuild)
            throw new ArgumentException($"--device {name} with the onnx runtime needs a build with -p:OnnxBackend=cuda (dotnet cake --onnx=cuda); this build runs ONNX Runtime on the CPU (or use --runtime torch)");
        if (!CudaProviderPresent())
            throw new ArgumentException($"--device {name}: this ONNX Runtime has no CUDA execution provider");
        return new(true, index);
    }

    static bool CudaProviderPresent()
    {
        try { return OrtEnv.Instance().GetAvailableProviders().Contains("CUDAExecutionProvider"); }
        catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or TypeInitializationException) { return false; }
    }
}
