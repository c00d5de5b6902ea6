using System.Diagnostics;

namespace LatentBalance.Bridge.Tests.Support;

/// <summary>
/// A private session bus: `dbus-daemon --session --nofork --print-address` listening on a socket in a temp folder.
/// Its address is handed to our clients explicitly and to child tools (gdbus) via DBUS_SESSION_BUS_ADDRESS; the
/// test process's own environment is never changed. With <c>environment</c> the bus runs with those variables set
/// (null: removed); e.g. XDG_DATA_HOME makes it find activation files where a user's session bus does
/// (<c>$XDG_DATA_HOME/dbus-1/services</c>). Services it activates inherit that environment and write their stderr to
/// the bus's, kept in <see cref="Log"/>.
/// </summary>
public sealed class PrivateBus : IDisposable
{
    public const string DaemonPath = "/usr/bin/dbus-daemon";
    private readonly Process _daemon;
    private readonly TempDir _dir = new();
    private readonly System.Text.StringBuilder _stderr = new();

    public PrivateBus(IReadOnlyDictionary<string, string?>? environment = null)
    {
        if (!File.Exists(DaemonPath))
            throw new InvalidOperationException($"{DaemonPath} is missing: install it with 'apt-get install -y dbus' (the D-Bus tests need a private bus)");
        var psi = new ProcessStartInfo(DaemonPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("--session");
        psi.ArgumentList.Add("--nofork");
        psi.ArgumentList.Add("--nopidfile");
        psi.ArgumentList.Add("--print-address=1");
        psi.ArgumentList.Add($"--address=unix:path={_dir.File("bus")}");
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>())
            if (v is null) psi.Environment.Remove(k); else psi.Environment[k] = v;
        _daemon = Process.Start(psi)!;
        _daemon.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        _daemon.BeginErrorReadLine(); // keep draining: a full stderr pipe would stall the daemon
        var line = _daemon.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(15)) || string.IsNullOrWhiteSpace(line.Result))
        {
            string err;
            lock (_stderr) err = _stderr.Length > 0 ? _stderr.ToString() : "(no address within 15 s)";
            Dispose();
            throw new InvalidOperationException($"dbus-daemon did not start: {err}");
        }
        Address = line.Result.Trim();
    }

    public string Address { get; }

    /// <summary>A folder of this bus's own, deleted with it (e.g. an empty XDG_DATA_DIRS).</summary>
    public string Folder => _dir.Path;

    /// <summary>The bus's stderr so far, with that of the services it activated.</summary>
    public string Log { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>Runs a tool (gdbus, dbus-send) against this bus; returns exit code, stdout, stderr.</summary>
    public async Task<(int Code, string Out, string Err)> RunToolAsync(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DBUS_SESSION_BUS_ADDRESS"] = Address;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    public void Dispose()
    {
        try { if (!_daemon.HasExited) { _daemon.Kill(); _daemon.WaitForExit(5000); } } catch (InvalidOperationException) { }
        _daemon.Dispose();
        _dir.Dispose();
    }
}
