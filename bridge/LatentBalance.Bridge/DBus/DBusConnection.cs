using LatentBalance.Bridge.Contract;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;

namespace LatentBalance.Bridge.DBus;

/// <summary>
/// A private libdbus connection to a message bus, driven by one loop thread of its own.
/// All libdbus connection calls happen on that thread once <see cref="Start"/> ran: other threads only queue
/// outgoing messages (<see cref="Send"/>, <see cref="CallAsync"/>) and wake the loop through an eventfd.
/// Incoming method calls are handed to the thread pool; signals are delivered in order on one dispatcher task;
/// replies complete the matching <see cref="CallAsync"/> task.
/// </summary>
public sealed class DBusConnection : IDisposable
{
    private IntPtr _conn;
    private readonly int _wakeFd;
    private readonly ConcurrentQueue<Outgoing> _outbox = new();
    private readonly ConcurrentDictionary<uint, PendingCall> _pending = new();
    private readonly Channel<DBusMessage> _signals = Channel.CreateUnbounded<DBusMessage>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Thread? _thread;
    private Func<DBusMessage, Task>? _onMethodCall;
    private Action<DBusMessage>? _onSignal;
    private volatile bool _stopping;
    private volatile bool _loopExited;
    private int _disposed;

    private DBusConnection(IntPtr conn, string uniqueName)
    {
        _conn = conn;
        UniqueName = uniqueName;
        _wakeFd = LibC.eventfd(0, LibC.EfdCloexec | LibC.EfdNonblock);
        if (_wakeFd < 0) throw new IOException($"eventfd failed (errno {Marshal.GetLastPInvokeError()})");
    }

    /// <summary>This connection's unique bus name, e.g. ":1.42".</summary>
    public string UniqueName { get; }

    /// <summary>Completes when the loop stopped: after <see cref="Dispose"/> or when the bus went away.</summary>
    public Task Closed => _closed.Task;

    public bool IsConnected => !_loopExited && _conn != IntPtr.Zero;

    /// <summary>True when the transport can carry unix fds ('h').</summary>
    public bool CanPassUnixFds { get; private set; }

    /// <summary><see cref="OpenSession"/> for the engine's host and client: no bus is <see cref="BridgeErrorCode.Unavailable"/>.</summary>
    public static DBusConnection OpenSessionOrUnavailable(string? address)
    {
        try { return OpenSession(address); }
        catch (DBusErrorException ex) { throw new BridgeException(BridgeErrorCode.Unavailable, $"no D-Bus session bus: {ex.Message}", ex); }
    }

    /// <summary>
    /// Opens a private connection to the session bus at <paramref name="address"/>; null means
    /// $DBUS_SESSION_BUS_ADDRESS, or libdbus' own session-bus lookup when that is unset.
    /// </summary>
    public static unsafe DBusConnection OpenSession(string? address = null)
    {
        LibDBus.EnsureThreadsInitialised();
        address ??= Environment.GetEnvironmentVariable("DBUS_SESSION_BUS_ADDRESS");
        using var err = new NativeError();
        IntPtr conn;
        if (!string.IsNullOrEmpty(address))
        {
            conn = LibDBus.dbus_connection_open_private(address, err.Ptr);
            err.ThrowIfSet($"cannot connect to the D-Bus session bus at '{address}'");
            if (conn == IntPtr.Zero) throw new DBusErrorException("org.freedesktop.DBus.Error.NoServer", $"cannot connect to '{address}'");
            LibDBus.dbus_connection_set_exit_on_disconnect(conn, 0);
            if (LibDBus.dbus_bus_register(conn, err.Ptr) == 0 || err.IsSet)
            {
                string msg = err.Message ?? "Hello failed";
                string name = err.Name ?? "org.freedesktop.DBus.Error.Failed";
                LibDBus.dbus_connection_close(conn);
                LibDBus.dbus_connection_unref(conn);
                throw new DBusErrorException(name, $"cannot register with the bus at '{address}': {msg}");
            }
        }
        else
        {
            conn = LibDBus.dbus_bus_get_private(LibDBus.BusSession, err.Ptr);
            err.ThrowIfSet("cannot connect to the D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)");
            if (conn == IntPtr.Zero) throw new DBusErrorException("org.freedesktop.DBus.Error.NoServer", "cannot connect to the session bus");
            LibDBus.dbus_connection_set_exit_on_disconnect(conn, 0);
        }
        string unique = LibDBus.Str(LibDBus.dbus_bus_get_unique_name(conn)) ?? "";
        var c = new DBusConnection(conn, unique);
        c.CanPassUnixFds = LibDBus.dbus_connection_can_send_type(conn, LibDBus.TypeUnixFd) != 0;
        return c;
    }

    // ---- Blocking bus calls: allowed only before Start (the loop thread owns the connection afterwards). ----

    /// <summary>Requests a well-known name without queueing. Returns true if we own it now.</summary>
    public unsafe bool TryRequestName(string name)
    {
        Names.CheckBusName(name);
        EnsureNotStarted();
        using var err = new NativeError();
        int r = LibDBus.dbus_bus_request_name(_conn, name, LibDBus.NameFlagDoNotQueue, err.Ptr);
        err.ThrowIfSet($"RequestName('{name}') failed");
        return r is LibDBus.RequestNameReplyPrimaryOwner or LibDBus.RequestNameReplyAlreadyOwner;
    }

    public unsafe bool NameHasOwner(string name)
    {
        Names.CheckBusName(name);
        EnsureNotStarted();
        using var err = new NativeError();
        int r = LibDBus.dbus_bus_name_has_owner(_conn, name, err.Ptr);
        err.ThrowIfSet($"NameHasOwner('{name}') failed");
        return r != 0;
    }

    /// <summary>Adds a match rule (e.g. for signals) and waits for the bus to accept it.</summary>
    public unsafe void AddMatch(string rule)
    {
        EnsureNotStarted();
        using var err = new NativeError();
        LibDBus.dbus_bus_add_match(_conn, rule, err.Ptr);
        err.ThrowIfSet($"AddMatch(\"{rule}\") failed");
    }

    private void EnsureNotStarted()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_thread is not null) throw new InvalidOperationException("blocking bus calls are only allowed before Start()");
    }

    /// <summary>
    /// Starts the loop thread. <paramref name="onMethodCall"/> runs on the thread pool and owns (must dispose) the message;
    /// <paramref name="onSignal"/> runs in arrival order on one dispatcher and must not keep the message.
    /// </summary>
    public void Start(Func<DBusMessage, Task>? onMethodCall = null, Action<DBusMessage>? onSignal = null)
    {
        EnsureNotStarted();
        _onMethodCall = onMethodCall;
        _onSignal = onSignal;
        _thread = new Thread(Loop) { IsBackground = true, Name = $"dbus-loop {UniqueName}" };
        _thread.Start();
        _ = Task.Run(DispatchSignalsAsync);
    }

    /// <summary>Queues a message for sending and takes ownership of it. False if the connection is closed (message dropped).</summary>
    public bool Send(DBusMessage message)
    {
        if (_stopping || _loopExited)
        {
            message.Dispose();
            return false;
        }
        _outbox.Enqueue(new Outgoing(message, null));
        Wake();
        return true;
    }

    /// <summary>
    /// Sends a method call (taking ownership) and returns the reply, which the caller must dispose.
    /// An error reply throws <see cref="DBusErrorException"/>; a lost connection throws one named
    /// org.freedesktop.DBus.Error.Disconnected; running past <paramref name="timeoutMs"/> throws one named ...NoReply.
    /// </summary>
    public async Task<DBusMessage> CallAsync(DBusMessage call, int timeoutMs, CancellationToken cancellationToken = default)
    {
        if (_stopping || _loopExited)
        {
            call.Dispose();
            throw new DBusErrorException("org.freedesktop.DBus.Error.Disconnected", "the D-Bus connection is closed");
        }
        var pending = new PendingCall();
        _outbox.Enqueue(new Outgoing(call, pending));
        Wake();
        var task = pending.Completion.Task;
        try
        {
            var reply = timeoutMs is < 0 or LibDBus.TimeoutInfinite
                ? await task.WaitAsync(cancellationToken).ConfigureAwait(false)
                : await task.WaitAsync(TimeSpan.FromMilliseconds(timeoutMs), cancellationToken).ConfigureAwait(false);
            if (reply.IsError)
            {
                using (reply)
                    throw new DBusErrorException(reply.ErrorName ?? "org.freedesktop.DBus.Error.Failed", reply.ErrorMessage);
            }
            return reply;
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            pending.Abandon(_pending);
            if (ex is TimeoutException)
                throw new DBusErrorException("org.freedesktop.DBus.Error.NoReply", $"no reply within {timeoutMs} ms");
            throw;
        }
    }

    private unsafe void Wake()
    {
        ulong one = 1;
        LibC.write(_wakeFd, &one, 8);
    }

    private unsafe void Loop()
    {
        Exception? failure = null;
        int dbusFd = -1;
        try
        {
            if (LibDBus.dbus_connection_get_unix_fd(_conn, &dbusFd) == 0) throw new IOException("dbus_connection_get_unix_fd failed");
            var fds = stackalloc LibC.PollFd[2];
            while (true)
            {
                DrainOutbox();
                if (LibDBus.dbus_connection_read_write(_conn, 0) == 0) break; // disconnected
                IntPtr m;
                bool disconnected = false;
                while ((m = LibDBus.dbus_connection_pop_message(_conn)) != IntPtr.Zero)
                    disconnected |= Dispatch(new DBusMessage(m));
                if (disconnected) break;
                if (_stopping && _outbox.IsEmpty)
                {
                    LibDBus.dbus_connection_flush(_conn);
                    break;
                }
                bool wantWrite = LibDBus.dbus_connection_has_messages_to_send(_conn) != 0;
                fds[0] = new LibC.PollFd { Fd = dbusFd, Events = (short)(LibC.PollIn | (wantWrite ? LibC.PollOut : 0)) };
                fds[1] = new LibC.PollFd { Fd = _wakeFd, Events = LibC.PollIn };
                int n = LibC.poll(fds, 2, 1000);
                if (n < 0 && Marshal.GetLastPInvokeError() != LibC.EINTR)
                    throw new IOException($"poll failed (errno {Marshal.GetLastPInvokeError()})");
                if (n > 0 && (fds[1].REvents & LibC.PollIn) != 0)
                {
                    ulong v;
                    LibC.read(_wakeFd, &v, 8);
                }
            }
        }
        catch (Exception ex)
        {
            failure = ex;
            Trace.TraceError($"D-Bus loop {UniqueName} failed: {ex}");
        }
        finally
        {
            _loopExited = true;
            while (_outbox.TryDequeue(out var o))
            {
                o.Message.Dispose();
                o.Pending?.Completion.TrySetException(new DBusErrorException("org.freedesktop.DBus.Error.Disconnected", "the D-Bus connection closed"));
            }
            foreach (var kv in _pending)
                if (_pending.TryRemove(kv.Key, out var p))
                    p.Completion.TrySetException(new DBusErrorException("org.freedesktop.DBus.Error.Disconnected",
                        _stopping ? "the D-Bus connection was closed" : "the D-Bus connection was lost"));
            _signals.Writer.TryComplete();
            if (failure is null) _closed.TrySetResult(); else _closed.TrySetException(failure);
        }
    }

    private unsafe void DrainOutbox()
    {
        while (_outbox.TryDequeue(out var o))
        {
            using var msg = o.Message;
            if (o.Pending is { } p && p.Completion.Task.IsCompleted) continue; // timed out before it was sent
            uint serial = 0;
            if (LibDBus.dbus_connection_send(_conn, msg.Handle, &serial) == 0)
            {
                o.Pending?.Completion.TrySetException(new OutOfMemoryException("dbus_connection_send failed"));
                continue;
            }
            if (o.Pending is { } pending)
            {
                pending.Serial = serial;
                _pending[serial] = pending;
                if (pending.Completion.Task.IsCompleted) _pending.TryRemove(serial, out _);
            }
        }
    }

    /// <summary>Routes one incoming message; returns true for the local Disconnected signal.</summary>
    private unsafe bool Dispatch(DBusMessage msg)
    {
        switch (msg.Type)
        {
            case LibDBus.MessageTypeMethodReturn:
            case LibDBus.MessageTypeError:
                if (_pending.TryRemove(msg.ReplySerial, out var p) && p.Completion.TrySetResult(msg)) return false;
                msg.Dispose();
                return false;
            case LibDBus.MessageTypeSignal:
                if (msg.Interface == "org.freedesktop.DBus.Local" && msg.Member == "Disconnected")
                {
                    msg.Dispose();
                    return true;
                }
                if (_onSignal is null || !_signals.Writer.TryWrite(msg)) msg.Dispose();
                return false;
            case LibDBus.MessageTypeMethodCall:
                var handler = _onMethodCall;
                if (handler is null)
                {
                    if (!msg.NoReply)
                    {
                        using var err = msg.CreateError("org.freedesktop.DBus.Error.UnknownObject", "this connection exports no objects");
                        uint s;
                        LibDBus.dbus_connection_send(_conn, err.Handle, &s);
                    }
                    msg.Dispose();
                    return false;
                }
                _ = Task.Run(() => RunHandlerAsync(handler, msg));
                return false;
            default:
                msg.Dispose();
                return false;
        }
    }

    private static async Task RunHandlerAsync(Func<DBusMessage, Task> handler, DBusMessage msg)
    {
        try { await handler(msg).ConfigureAwait(false); }
        catch (Exception ex) { Trace.TraceError($"D-Bus method handler failed: {ex}"); msg.Dispose(); }
    }

    private async Task DispatchSignalsAsync()
    {
        await foreach (var msg in _signals.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            using (msg)
            {
                try { _onSignal?.Invoke(msg); }
                catch (Exception ex) { Trace.TraceWarning($"D-Bus signal handler failed: {ex.Message}"); }
            }
        }
    }

    /// <summary>Flushes queued messages, stops the loop, closes the connection.</summary>
    public unsafe void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping = true;
        if (_thread is not null)
        {
            Wake();
            if (!_thread.Join(TimeSpan.FromSeconds(10)))
                Trace.TraceError($"D-Bus loop {UniqueName} did not stop within 10 s");
        }
        else
        {
            _loopExited = true;
            _closed.TrySetResult();
        }
        if (_conn != IntPtr.Zero && (_thread is null || !_thread.IsAlive))
        {
            LibDBus.dbus_connection_close(_conn);
            LibDBus.dbus_connection_unref(_conn);
            _conn = IntPtr.Zero;
        }
        LibC.close(_wakeFd);
    }

    private readonly record struct Outgoing(DBusMessage Message, PendingCall? Pending);

    private sealed class PendingCall
    {
        public TaskCompletionSource<DBusMessage> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public volatile uint Serial;

        public void Abandon(ConcurrentDictionary<uint, PendingCall> table)
        {
            Completion.TrySetCanceled();
            if (Serial != 0) table.TryRemove(Serial, out _);
            // A reply that raced in is owned by the task: release it.
            if (Completion.Task.IsCompletedSuccessfully) Completion.Task.Result.Dispose();
        }
    }
}
