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
