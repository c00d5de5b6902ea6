using PrivateBus = LatentBalance.Bridge.Tests.Support.PrivateBus;
using LatentBalance.Bridge.DBus;

namespace LatentBalance.Daemon.Tests.Support;

/// <summary>A private dbus-daemon and <c>latentbalance daemon</c> on it, shared by the D-Bus test classes.</summary>
public sealed class DBusDaemonFixture : IDisposable
{
    private readonly List<IDisposable> _clients = new();

    public DBusDaemonFixture()
    {
        Bus = new PrivateBus();
        try { Daemon = DaemonProcess.StartOnBus(Bus.Address, "--job-timeout", "900"); }
        catch { Bus.Dispose(); throw; }
    }

    public PrivateBus Bus { get; }
    public DaemonProcess Daemon { get; }

    /// <summary>A new connection (a separate D-Bus client), closed with the fixture.</summary>
    public DBusEngineClient Connect()
    {
        var c = DBusEngineClient.Connect(new DBusClientOptions { Address = Bus.Address, CallTimeoutMs = 120_000 });
        lock (_clients) _clients.Add(c);
        return c;
    }

    public void Dispose()
    {
        lock (_clients) foreach (var c in _clients) c.Dispose();
        Daemon.Dispose();
        Bus.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class DBusDaemonCollection : ICollectionFixture<DBusDaemonFixture>
{
    public const string Name = "daemon on a private D-Bus";
}
