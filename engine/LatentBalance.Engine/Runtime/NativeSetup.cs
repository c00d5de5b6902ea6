using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LatentBalance.Engine.Runtime;

/// <summary>
/// Process-wide native settings that must happen before libtorch allocates anything.
/// glibc's default malloc hands large buffers out as fresh mmap regions and returns them on free;
/// libtorch on CPU then spends most of its time in page faults (measured 2-6x slower). Turning mmap
/// allocation off and never trimming the heap keeps buffers warm.
/// </summary>
public static class NativeSetup
{
    const int M_TRIM_THRESHOLD = -1;
    const int M_MMAP_MAX = -4;

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int mallopt(int param, int value);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int malloc_trim(nuint pad);

    static int _done;

    /// <summary>True when the glibc malloc settings were applied.</summary>
    public static bool MallocTuned { get; private set; }

    [ModuleInitializer]
    internal static void Init() => EnsureInitialized();

    /// <summary>
    /// Gives freed heap memory back to the system. With trimming off the heap only grows, and a
    /// long loop of differently sized tensors fragments it (seen: 4 GB after 160 distortion calls);
    /// long-running callers (the daemon after each job, the dataset builder after each shard) call this.
    /// </summary>
    public static void Trim()
    {
        if (!MallocTuned) return;
        try { malloc_trim(0); } catch (Exception) { }
    }

    static int _libTorchChecked;

    /// <summary>
    /// Called where libtorch is first needed (<see cref="Devices.Resolve"/>: <c>--runtime torch</c>, train, eval).
    /// A lean install (build.cake's publish/install-daemon without --with-torch) ships no libtorch; this turns
    /// the DllNotFoundException TorchSharp would throw deep in a type initializer into one line that says so.
    /// </summary>
    /// <exception cref="LibTorchMissingException">the TorchSharp native library is not beside the program.</exception>
    public static void RequireLibTorch()
    {
        if (Volatile.Read(ref _libTorchChecked) == 1) return;
        if (!LibTorchPresent(AppContext.BaseDirectory)) throw new LibTorchMissingException(AppContext.BaseDirectory);
        Volatile.Write(ref _libTorchChecked, 1);
    }

    /// <summary>True when <paramref name="programDir"/> holds TorchSharp's native library and libtorch (the build
    /// output and the full publish keep them under runtimes/&lt;rid&gt;/native/, a RID-specific publish beside the program).</summary>
    public static bool LibTorchPresent(string programDir)
    {
        string lib = OperatingSystem.IsWindows() ? "LibTorchSharp.dll" : OperatingSystem.IsMacOS() ? "libLibTorchSharp.dylib" : "libLibTorchSharp.so";
        string torch = OperatingSystem.IsWindows() ? "torch.dll" : OperatingSystem.IsMacOS() ? "libtorch.dylib" : "libtorch.so";
        if (File.Exists(Path.Combine(programDir, lib)) && File.Exists(Path.Combine(programDir, torch))) return true;
        var runtimes = Path.Combine(programDir, "runtimes");
        if (Directory.Exists(runtimes))
            foreach (var native in Directory.EnumerateDirectories(runtimes).Select(d => Path.Combine(d, "native")))
                if (File.Exists(Path.Combine(native, lib)) && File.Exists(Path.Combine(native, torch))) return true;
        // libtorch somewhere the loader finds it on its own (LD_LIBRARY_PATH, a system install)
        if (NativeLibrary.TryLoad(lib, out var handle)) { NativeLibrary.Free(handle); return true; }
        return false;
    }

    public static void EnsureInitialized()
    {
        if (Interlocked.Exchange(ref _done, 1) == 1) return;
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            MallocTuned = mallopt(M_MMAP_MAX, 0) == 1 & mallopt(M_TRIM_THRESHOLD, int.MaxValue) == 1;
        }
        catch (Exception) { MallocTuned = false; } // not glibc (musl): nothing to tune
    }
}

/// <summary>libtorch is not installed beside the program (a lean, ONNX Runtime-only install).</summary>
public sealed class LibTorchMissingException(string programDir) : InvalidOperationException(
    $"libtorch is not installed in {programDir.TrimEnd('/', '\\')} (a lean install: ONNX Runtime only). --runtime torch, train and eval need it: "
    + "install the full one with `dotnet cake --target=install-daemon --with-torch` (or `--target=publish --with-torch`)")
{
    public string ProgramDirectory { get; } = programDir;
}
