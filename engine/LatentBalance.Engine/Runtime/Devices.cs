using TorchSharp;

namespace LatentBalance.Engine.Runtime;

/// <summary>Picks the torch device at run time: "auto" takes CUDA when libtorch sees a GPU.</summary>
public static class Devices
{
    /// <exception cref="LibTorchMissingException">a lean install (no libtorch): one clear line, not a DllNotFoundException.</exception>
    public static torch.Device Resolve(string? name)
    {
        NativeSetup.RequireLibTorch();
        return ResolveLoaded(name);
    }

    // separate, so that nothing of torch is touched (or JIT-initialised) before the check above
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static torch.Device ResolveLoaded(string? name)
    {
        NativeSetup.EnsureInitialized();
        switch ((name ?? "auto").Trim().ToLowerInvariant())
        {
            case "auto":
                return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
            case "cpu":
                return torch.CPU;
            case "cuda":
                if (!torch.cuda.is_available())
                    throw new InvalidOperationException("--device cuda was asked for, but no CUDA device is available (this build uses TorchSharp-cpu unless built with -p:TorchBackend=cuda)");
                return torch.CUDA;
            default:
                if (name!.StartsWith("cuda:", StringComparison.OrdinalIgnoreCase)) return new torch.Device(name);
                throw new ArgumentException($"unknown device '{name}': use auto, cpu or cuda");
        }
    }
}
