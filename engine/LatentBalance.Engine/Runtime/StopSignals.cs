using System.Runtime.InteropServices;
using LatentBalance.Engine.Imaging;

namespace LatentBalance.Engine.Runtime;

/// <summary>
/// SIGTERM and SIGINT (Ctrl-C) stop the program cleanly: the token is cancelled so the work stops at
/// its next check (between photos, between stages, a daemon's jobs), and if the process still runs
/// after the grace period (a write inside libvips cannot be interrupted) it exits anyway, deleting
/// the files it had not finished (<see cref="UnfinishedFiles"/>), with the shell's code 128 + signal.
/// </summary>
public sealed class StopSignals : IDisposable
{
    readonly CancellationTokenSource _stop = new();
    readonly List<PosixSignalRegistration> _registrations = [];
    readonly TimeSpan _grace;
    readonly Action<string>? _onSignal;
    int _signalled;

    /// <param name="grace">how long the work has to stop on its own after the signal</param>
    /// <param name="onSignal">called once with the signal's name (e.g. to log it)</param>
    public StopSignals(TimeSpan grace, Action<string>? onSignal = null)
    {
        _grace = grace;
        _onSignal = onSignal;
        foreach (var s in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT })
            _registrations.Add(PosixSignalRegistration.Create(s, Handle));
    }

    /// <summary>Cancelled at the first SIGTERM or SIGINT.</summary>
    public CancellationToken Token => _stop.Token;

    void Handle(PosixSignalContext context)
    {
        context.Cancel = true; // no immediate termination: stop cleanly first
        if (Interlocked.Exchange(ref _signalled, 1) == 1) return;
        string name = context.Signal == PosixSignal.SIGTERM ? "SIGTERM" : "SIGINT";
        int code = context.Signal == PosixSignal.SIGTERM ? 143 : 130;
        _onSignal?.Invoke(name);
        _stop.Cancel();
        var forced = new Thread(() =>
        {
            Thread.Sleep(_grace);
            UnfinishedFiles.DeleteAll();
            Environment.Exit(code);
        }) { IsBackground = true, Name = "stop-signal-grace" };
        forced.Start();
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _stop.Dispose();
    }
}
