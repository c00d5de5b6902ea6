using LatentBalance.Bridge.Contract;

namespace LatentBalance.Bridge.DBus;

public sealed record DBusClientOptions
{
    /// <summary>Bus address; null = $DBUS_SESSION_BUS_ADDRESS (the session bus).</summary>
    public string? Address { get; init; }
    /// <summary>Well-known name of the engine.</summary>
    public string BusName { get; init; } = EngineBusNames.BusName;
    /// <summary>Time limit of a method call (Wait gets its own timeout plus this).</summary>
    public int CallTimeoutMs { get; init; } = 30_000;
    /// <summary>Fail in Connect with Unavailable when no process owns <see cref="BusName"/>. Turn off to rely on D-Bus activation.</summary>
    public bool RequireRunning { get; init; } = true;
    /// <summary>Subscribe to JobProgress/JobCompleted signals (AddMatch). Off saves the bus some work for one-shot calls.</summary>
    public bool SubscribeToSignals { get; init; } = true;
}

/// <summary>
/// <see cref="IEngineService"/> over D-Bus: each method is a call to org.latentbalance.Engine1; the engine's signals
/// (subscribed with AddMatch on sender, interface and path) raise <see cref="JobProgress"/> and <see cref="JobCompleted"/>,
/// in order, on a dispatcher thread. Thread-safe: many calls may be in flight at once on the one connection.
/// Relative paths in requests are made absolute against this process's working directory before sending.
/// </summary>
public sealed class DBusEngineClient : IEngineService, IDisposable
{
    private readonly DBusConnection _conn;
    private readonly DBusClientOptions _options;

    private DBusEngineClient(DBusConnection conn, DBusClientOptions options)
    {
        _conn = conn;
        _options = options;
    }

    public event EventHandler<JobProgressEventArgs>? JobProgress;
    public event EventHandler<JobCompletedEventArgs>? JobCompleted;

    /// <summary>Completes when the bus connection ends.</summary>
    public Task Closed => _conn.Closed;

    public string UniqueName => _conn.UniqueName;

    /// <summary>Connects to the bus. Throws <see cref="BridgeErrorCode.Unavailable"/> if there is no bus or (by default) no engine on it.</summary>
    public static DBusEngineClient Connect(DBusClientOptions? options = null)
    {
        options ??= new DBusClientOptions();
        Names.CheckBusName(options.BusName);
        if (options.CallTimeoutMs <= 0) throw new ArgumentOutOfRangeException(nameof(options), options.CallTimeoutMs, "CallTimeoutMs must be > 0");
        var conn = DBusConnection.OpenSessionOrUnavailable(options.Address);
        try
        {
            if (options.RequireRunning && !conn.NameHasOwner(options.BusName))
                throw new BridgeException(BridgeErrorCode.Unavailable,
                    $"no engine daemon is running: nobody owns '{options.BusName}' on the session bus (start it with 'latentbalance daemon')");
            var client = new DBusEngineClient(conn, options);
            if (options.SubscribeToSignals)
            {
                conn.AddMatch($"type='signal',sender='{options.BusName}',interface='{EngineBusNames.Interface}',path='{EngineBusNames.ObjectPath}'");
                conn.Start(onSignal: client.OnSignal);
            }
            else
            {
                conn.Start();
            }
            return client;
        }
        catch (DBusErrorException ex)
        {
            conn.Dispose();
            throw new BridgeException(BridgeErrors.FromDBusName(ex.ErrorName), ex.Message, ex);
        }
        catch
        {
            conn.Dispose();
            throw;
        }
    }

    /// <summary>True if some process owns the engine's bus name. False (not an exception) when there is no bus.</summary>
    public static bool IsEngineRunning(string? address = null, string busName = EngineBusNames.BusName)
    {
        try
        {
            using var conn = DBusConnection.OpenSession(address);
            return conn.NameHasOwner(busName);
        }
        catch (DBusErrorException)
        {
            return false;
        }
    }

    public Task<EngineInfo> GetInfoAsync(CancellationToken cancellationToken = default) =>
        CallAsync("GetInfo", null, EngineDBusCodec.ReadEngineInfo, _options.CallTimeoutMs, cancellationToken);

    public async Task<IReadOnlyList<FilterDescriptor>> ListFiltersAsync(CancellationToken cancellationToken = default) =>
        await CallAsync("ListFilters", null, EngineDBusCodec.ReadFilters, _options.CallTimeoutMs, cancellationToken).ConfigureAwait(false);

    public async Task<JobTicket> BalanceAsync(BalanceRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var q = RequestRules.WithAbsolutePaths(request);
        string id = await CallAsync("Balance", w => EngineDBusCodec.Write(w, q), r => r.ReadString(), _options.CallTimeoutMs, cancellationToken)
            .ConfigureAwait(false);
        return new JobTicket { JobId = id };
    }

    public async Task<JobTicket> ExportCubeAsync(ExportCubeRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var q = RequestRules.WithAbsolutePaths(request);
        string id = await CallAsync("ExportCube", w => EngineDBusCodec.Write(w, q), r => r.ReadString(), _options.CallTimeoutMs, cancellationToken)
            .ConfigureAwait(false);
        return new JobTicket { JobId = id };
    }

    public Task<JobResult> WaitAsync(string jobId, int timeoutMs, CancellationToken cancellationToken = default)
    {
        int callTimeout = timeoutMs < 0 ? -1 : (int)Math.Min(int.MaxValue - 1L, (long)timeoutMs + _options.CallTimeoutMs);
        return CallAsync("Wait", w => w.WriteString(jobId ?? "").WriteInt32(timeoutMs),
            r => EngineDBusCodec.ReadJobResult(r, jobId ?? ""), callTimeout, cancellationToken);
    }

    public Task<bool> CancelAsync(string jobId, CancellationToken cancellationToken = default) =>
        CallAsync("Cancel", w => w.WriteString(jobId ?? ""), r => r.ReadBoolean(), _options.CallTimeoutMs, cancellationToken);

    public Task<JobStatus> GetJobAsync(string jobId, CancellationToken cancellationToken = default) =>
        CallAsync("GetJob", w => w.WriteString(jobId ?? ""), r => EngineDBusCodec.ReadJobStatus(r, jobId ?? ""),
            _options.CallTimeoutMs, cancellationToken);

    /// <summary>org.freedesktop.DBus.Introspectable.Introspect on the engine object: its XML.</summary>
    public Task<string> IntrospectAsync(CancellationToken cancellationToken = default) =>
        CallAsync("Introspect", null, r => r.ReadString(), _options.CallTimeoutMs, cancellationToken, "org.freedesktop.DBus.Introspectable");

    /// <summary>org.freedesktop.DBus.Peer.Ping on the engine.</summary>
    public Task PingAsync(CancellationToken cancellationToken = default) =>
        CallAsync<object?>("Ping", null, _ => null, _options.CallTimeoutMs, cancellationToken, "org.freedesktop.DBus.Peer");

    private async Task<T> CallAsync<T>(string member, Action<MessageWriter>? writeArgs, Func<MessageReader, T> readReply,
        int timeoutMs, CancellationToken cancellationToken, string iface = EngineBusNames.Interface)
    {
        var call = DBusMessage.MethodCall(_options.BusName, EngineBusNames.ObjectPath, iface, member);
        try
        {
            if (writeArgs is not null)
                using (var w = call.Writer()) writeArgs(w);
        }
        catch
        {
            call.Dispose();
            throw;
        }
        DBusMessage reply;
        try
        {
            reply = await _conn.CallAsync(call, timeoutMs, cancellationToken).ConfigureAwait(false);
        }
        catch (DBusErrorException ex)
        {
            throw new BridgeException(BridgeErrors.FromDBusName(ex.ErrorName), ex.Message, ex);
        }
        using (reply)
        using (var r = reply.Reader())
        {
            try
            {
                return readReply(r);
            }
            catch (DBusSignatureException ex)
            {
                throw new BridgeException(BridgeErrorCode.Internal, $"unexpected reply to {member}: {ex.Message}", ex);
            }
        }
    }

    private void OnSignal(DBusMessage msg)
    {
        if (msg.Interface != EngineBusNames.Interface || msg.Path != EngineBusNames.ObjectPath) return;
        if (!DBusInterface.Engine.Signals.TryGetValue(msg.Member ?? "", out var signature) || msg.Signature != signature) return;
        using var r = msg.Reader();
        try
        {
            switch (msg.Member)
            {
                case "JobProgress":
                    JobProgress?.Invoke(this, EngineDBusCodec.ReadJobProgress(r));
                    break;
                case "JobCompleted":
                    JobCompleted?.Invoke(this, EngineDBusCodec.ReadJobCompleted(r));
                    break;
            }
        }
        catch (Exception ex) when (ex is DBusSignatureException or BridgeException)
        {
            System.Diagnostics.Trace.TraceWarning($"ignored malformed {msg.Member} signal: {ex.Message}");
        }
    }

    public void Dispose() => _conn.Dispose();
}
