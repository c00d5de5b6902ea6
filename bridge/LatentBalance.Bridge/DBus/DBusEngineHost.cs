using LatentBalance.Bridge.Contract;

namespace LatentBalance.Bridge.DBus;

public sealed record DBusHostOptions
{
    /// <summary>Bus address; null = $DBUS_SESSION_BUS_ADDRESS (the session bus).</summary>
    public string? Address { get; init; }
    /// <summary>Well-known name to own.</summary>
    public string BusName { get; init; } = EngineBusNames.BusName;
}

/// <summary>
/// Serves an <see cref="IEngineService"/> on the bus as org.latentbalance.Engine1 at /org/latentbalance/Engine1:
/// method calls (their arguments checked against <see cref="DBusInterface.Engine"/>, the introspection XML) are forwarded
/// to the service, its JobProgress/JobCompleted events become signals.
/// </summary>
public sealed class DBusEngineHost : IDisposable
{
    private readonly IEngineService _service;
    private readonly DBusServer _server;
    private int _disposed;

    private DBusEngineHost(IEngineService service, DBusServer server)
    {
        _service = service;
        _server = server;
    }

    public string UniqueName => _server.Connection.UniqueName;
    public string BusName { get; private init; } = EngineBusNames.BusName;

    /// <summary>Completes when the bus connection ends (the daemon should exit then).</summary>
    public Task Closed => _server.Connection.Closed;

    /// <summary>
    /// Connects, claims the well-known name and starts serving. Throws <see cref="BridgeErrorCode.Busy"/> if another
    /// process owns the name, <see cref="BridgeErrorCode.Unavailable"/> if there is no bus.
    /// </summary>
    public static DBusEngineHost Start(IEngineService service, DBusHostOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(service);
        options ??= new DBusHostOptions();
        Names.CheckBusName(options.BusName);
        var conn = DBusConnection.OpenSessionOrUnavailable(options.Address);
        try
        {
            if (!conn.TryRequestName(options.BusName))
                throw new BridgeException(BridgeErrorCode.Busy, $"the bus name '{options.BusName}' is already owned by another process (is a daemon already running?)");
            var server = new DBusServer(conn, EngineBusNames.ObjectPath, DBusInterface.Engine);
            var host = new DBusEngineHost(service, server) { BusName = options.BusName };
            host.Register();
            service.JobProgress += host.OnProgress;
            service.JobCompleted += host.OnCompleted;
            server.Start();
            return host;
        }
        catch
        {
            conn.Dispose();
            throw;
        }
    }

    private void Register()
    {
        var s = _service;
        _server.AddMethod("GetInfo", async c =>
        {
            var info = await s.GetInfoAsync(c.Cancellation).ConfigureAwait(false);
            return w => EngineDBusCodec.Write(w, info);
        });
        _server.AddMethod("ListFilters", async c =>
        {
            var filters = await s.ListFiltersAsync(c.Cancellation).ConfigureAwait(false);
            return w => EngineDBusCodec.Write(w, filters);
        });
        _server.AddMethod("Balance", async c =>
        {
            var request = RequestRules.Validate(EngineDBusCodec.ReadBalanceRequest(c.Args));
            var ticket = await s.BalanceAsync(request, c.Cancellation).ConfigureAwait(false);
            return w => w.WriteString(ticket.JobId);
        });
        _server.AddMethod("ExportCube", async c =>
        {
            var request = RequestRules.Validate(EngineDBusCodec.ReadExportCubeRequest(c.Args));
            var ticket = await s.ExportCubeAsync(request, c.Cancellation).ConfigureAwait(false);
            return w => w.WriteString(ticket.JobId);
        });
        _server.AddMethod("Wait", async c =>
        {
            string id = c.Args.ReadString();
            RequestRules.ValidateJobId(id);
            int timeout = c.Args.ReadInt32();
            var result = await s.WaitAsync(id, timeout, c.Cancellation).ConfigureAwait(false);
            return w => EngineDBusCodec.Write(w, result);
        });
        _server.AddMethod("Cancel", async c =>
        {
            string id = c.Args.ReadString();
            RequestRules.ValidateJobId(id);
            bool cancelled = await s.CancelAsync(id, c.Cancellation).ConfigureAwait(false);
            return w => w.WriteBoolean(cancelled);
        });
        _server.AddMethod("GetJob", async c =>
        {
            string id = c.Args.ReadString();
            RequestRules.ValidateJobId(id);
            var status = await s.GetJobAsync(id, c.Cancellation).ConfigureAwait(false);
            return w => EngineDBusCodec.Write(w, status);
        });
    }

    private void OnProgress(object? sender, JobProgressEventArgs e) =>
        _server.EmitSignal("JobProgress", w => EngineDBusCodec.Write(w, e));

    private void OnCompleted(object? sender, JobCompletedEventArgs e) =>
        _server.EmitSignal("JobCompleted", w => EngineDBusCodec.Write(w, e));

    /// <summary>Stops serving: unsubscribes from the service, flushes queued replies/signals, releases the name.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _service.JobProgress -= OnProgress;
        _service.JobCompleted -= OnCompleted;
        _server.Dispose();
    }
}
