using Xunit.Abstractions;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.DBus;
using LatentBalance.Bridge.Tests.Contract;
using LatentBalance.Bridge.Tests.Support;

namespace LatentBalance.Bridge.Tests.DBus;

/// <summary>A private dbus-daemon with <see cref="FakeEngineService"/> served on it by <see cref="DBusEngineHost"/>.</summary>
public sealed class DBusEngineFixture : IDisposable
{
    public DBusEngineFixture()
    {
        Bus = new PrivateBus();
        Service = new FakeEngineService();
        Host = DBusEngineHost.Start(Service, new DBusHostOptions { Address = Bus.Address });
    }

    public PrivateBus Bus { get; }
    public FakeEngineService Service { get; }
    public DBusEngineHost Host { get; }

    public DBusEngineClient Connect(DBusClientOptions? options = null) =>
        DBusEngineClient.Connect((options ?? new DBusClientOptions()) with { Address = Bus.Address });

    public void Dispose()
    {
        Host.Dispose();
        Service.Dispose();
        Bus.Dispose();
    }
}

/// <summary>The shared contract suite over D-Bus.</summary>
public sealed class DBusContractTests(DBusEngineFixture fixture, ITestOutputHelper output) : EngineContractTests(output), IClassFixture<DBusEngineFixture>
{
    protected override FakeEngineService Service => fixture.Service;
    protected override IEngineService OpenClient() => fixture.Connect();
}
