using System.Runtime.InteropServices;

namespace LatentBalance.Engine.Imaging;

/// <summary>What an input path names once its links are followed.</summary>
public enum InputPathKind
{
    RegularFile,
    Missing,
    Directory,
    DanglingLink,
    LinkLoop,
    NamedPipe,
    Device,
    Socket,
    /// <summary>It exists but its kind could not be read (e.g. a folder on the way is not searchable).</summary>
    Unreadable,
}

/// <summary>
/// Only regular files are read: a named pipe called photo.jpg would block the reader until someone
/// writes to it (forever, in the daemon), and a device never ends. The kind comes from the file
/// system before anything opens the path (Linux <c>statx</c>, one layout on every architecture).
/// </summary>
public static class InputPath
{
    /// <summary>What <paramref name="path"/> is, following links.</summary>
    public static InputPathKind Inspect(string path)
    {
        if (!OperatingSystem.IsLinux())
            return Directory.Exists(path) ? InputPathKind.Directory : File.Exists(path) ? InputPathKind.RegularFile : InputPathKind.Missing;
        var buf = new byte[256];
        if (statx(AtFdCwd, path, 0, StatxType, buf) == 0) return KindOf(buf);
        int errno = Marshal.GetLastPInvokeError();
        if (errno == ELOOP) return InputPathKind.LinkLoop;
        if (errno == ENOENT || errno == ENOTDIR)
            return statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType, buf) == 0 && (Mode(buf) & SIfmt) == SIflnk
                ? InputPathKind.DanglingLink : InputPathKind.Missing;
        return InputPathKind.Unreadable;
    }

    /// <summary>Null for a regular file; otherwise why <paramref name="path"/> of that kind is not read,
    /// without the file name.</summary>
    public static string? Describe(InputPathKind kind, string path) => kind switch
    {
        InputPathKind.RegularFile => null,
        InputPathKind.Missing => "file not found",
        InputPathKind.Directory => "it is a directory, not an image file",
        InputPathKind.DanglingLink => $"it is a symbolic link to a file that does not exist ({LinkTarget(path)})",
        InputPathKind.LinkLoop => "it is a symbolic link that loops (too many levels of links)",
        InputPathKind.NamedPipe => "it is a named pipe (FIFO), not a regular file; only regular files are read",
        InputPathKind.Device => "it is a device, not a regular file; only regular files are read",
        InputPathKind.Socket => "it is a socket, not a regular file; only regular files are read",
        _ => "its folder cannot be searched (permission denied)",
    };

    static string LinkTarget(string path)
    {
        try { return new FileInfo(path).LinkTarget ?? "?"; }
        catch (IOException) { return "?"; }
        catch (UnauthorizedAccessException) { return "?"; }
    }

    static InputPathKind KindOf(byte[] statxBuffer) => (Mode(statxBuffer) & SIfmt) switch
    {
        SIfreg => InputPathKind.RegularFile,
        SIfdir => InputPathKind.Directory,
        SIfifo => InputPathKind.NamedPipe,
        SIfchr or SIfblk => InputPathKind.Device,
        SIfsock => InputPathKind.Socket,
        _ => InputPathKind.Unreadable,
    };

    // struct statx: stx_mode is a __u16 at byte 28 (after mask, blksize, attributes, nlink, uid, gid)
    static int Mode(byte[] statxBuffer) => BitConverter.ToUInt16(statxBuffer, 28);

    const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100;
    const uint StatxType = 0x1;
    const int ENOENT = 2, ENOTDIR = 20, ELOOP = 40;
    const int SIfmt = 0xF000, SIfsock = 0xC000, SIflnk = 0xA000, SIfreg = 0x8000, SIfblk = 0x6000,
        SIfdir = 0x4000, SIfchr = 0x2000, SIfifo = 0x1000;

    [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false)]
    static extern int statx(int dirfd, string path, int flags, uint mask, byte[] buffer);
}
