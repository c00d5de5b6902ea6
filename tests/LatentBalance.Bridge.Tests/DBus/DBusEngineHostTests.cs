using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.DBus;
using LatentBalance.Bridge.Tests.Support;

namespace LatentBalance.Bridge.Tests.DBus;

/// <summary>The D-Bus face of the host as other tools see it (gdbus), and its behaviour under bad callers.</summary>
public sealed class DBusEngineHostTests(DBusEngineFixture fx) : IClassFixture<DBusEngineFixture>, IDisposable
{
    private const string Gdbus = "/usr/bin/gdbus";
    private readonly TempDir _dir = new();

    private Task<(int Code, string Out, string Err)> GdbusCall(string method, params string[] args) =>
        GdbusCallTimeout(30, method, args);

    private Task<(int Code, string Out, string Err)> GdbusCallTimeout(int seconds, string method, params string[] args) =>
        fx.Bus.RunToolAsync(Gdbus, ["call", "--session", "--dest", EngineBusNames.BusName, "--object-path", EngineBusNames.ObjectPath,
            "--timeout", seconds.ToString(), "--method", method, .. args]);

    [Fact]
    public async Task Gdbus_GetInfo_returns_the_engine_info()
    {
        var (code, stdout, stderr) = await GdbusCall("org.latentbalance.Engine1.GetInfo");
        Assert.True(code == 0, stderr);
        Assert.StartsWith("('0.0.0-fake', 'cpu', ['fake-vae', 'fake-balancer'], ['latent-balance', 'needs-reference'], uint32 2, {", stdout.Trim());
    }

    [Fact]
    public async Task Gdbus_can_script_a_whole_job_Balance_then_Wait()
    {
        string input = _dir.Input("g.jpg", "gdbus-bytes"), output = _dir.File("g.out.jpg");
        var (code, stdout, stderr) = await GdbusCall("org.latentbalance.Engine1.Balance",
            input, output, "", "{'steps': '2', 'delay_ms': '5'}", "", "false");
        Assert.True(code == 0, stderr);
        string jobId = stdout.Trim().TrimStart('(', '\'').Split('\'')[0];
        Assert.StartsWith("job-", jobId);
        (code, stdout, stderr) = await GdbusCall("org.latentbalance.Engine1.Wait", jobId, "10000");
        Assert.True(code == 0, stderr);
        Assert.StartsWith($"('done', '{output}', '', '', uint64 ", stdout.Trim());
        Assert.Equal("gdbus-bytes", File.ReadAllText(output));
        (code, stdout, _) = await GdbusCall("org.latentbalance.Engine1.GetJob", jobId);
        Assert.Equal($"('done', 1.0, 'done', '{output}', '', '')", stdout.Trim());
    }

    [Fact]
    public async Task Introspect_returns_the_embedded_xml_verbatim_and_it_is_the_file_in_the_repo()
    {
        using var client = fx.Connect();
        string xml = await client.IntrospectAsync();
        Assert.Equal(DBusInterface.Engine.Xml, xml);
        Assert.Equal(File.ReadAllText(RepoFile("bridge/LatentBalance.Bridge/DBus/org.latentbalance.Engine1.xml")), xml);
    }

    [Fact]
    public async Task Gdbus_introspect_parses_our_xml()
    {
        var (code, stdout, stderr) = await fx.Bus.RunToolAsync(Gdbus, "introspect", "--session", "--dest", EngineBusNames.BusName,
            "--object-path", EngineBusNames.ObjectPath);
        Assert.True(code == 0, stderr);
        Assert.Contains("interface org.latentbalance.Engine1", stdout);
        Assert.Contains("Balance(in  s input_path,", stdout);
        Assert.Contains("signals:", stdout);
        Assert.Contains("JobCompleted(s job_id,", stdout);
    }

    [Fact]
    public async Task Parent_paths_are_introspectable_so_tools_can_walk_to_the_object()
    {
        var (code, stdout, stderr) = await fx.Bus.RunToolAsync(Gdbus, "introspect", "--session", "--dest", EngineBusNames.BusName,
            "--object-path", "/", "--recurse");
        Assert.True(code == 0, stderr);
        Assert.Contains("node /org/latentbalance/Engine1", stdout);
    }

    [Fact]
    public async Task Wrong_argument_types_get_InvalidArgs_and_the_host_keeps_serving()
    {
        var (code, _, stderr) = await GdbusCall("org.latentbalance.Engine1.Wait", "42", "not-a-number");
        Assert.NotEqual(0, code); // gdbus itself refuses: the introspected signature is 'si'
        (code, _, stderr) = await fx.Bus.RunToolAsync("/usr/bin/dbus-send", "--session", "--print-reply",
            $"--dest={EngineBusNames.BusName}", EngineBusNames.ObjectPath, "org.latentbalance.Engine1.Wait", "int32:42", "string:x");
        Assert.NotEqual(0, code);
        Assert.Contains("org.freedesktop.DBus.Error.InvalidArgs", stderr);
        Assert.Contains($"'{DBusInterface.Engine.Methods["Wait"].In}'", stderr);
        (code, _, stderr) = await fx.Bus.RunToolAsync("/usr/bin/dbus-send", "--session", "--print-reply",
            $"--dest={EngineBusNames.BusName}", EngineBusNames.ObjectPath, "org.latentbalance.Engine1.Balance", "string:/only/one/arg");
        Assert.Contains("org.freedesktop.DBus.Error.InvalidArgs", stderr);
        var ok = await GdbusCall("org.latentbalance.Engine1.GetInfo");
        Assert.Equal(0, ok.Code);
    }

    [Fact]
    public async Task Unknown_method_interface_and_object_get_standard_errors()
    {
        var (code, _, stderr) = await fx.Bus.RunToolAsync("/usr/bin/dbus-send", "--session", "--print-reply",
            $"--dest={EngineBusNames.BusName}", EngineBusNames.ObjectPath, "org.latentbalance.Engine1.Explode");
        Assert.NotEqual(0, code);
        Assert.Contains("org.freedesktop.DBus.Error.UnknownMethod", stderr);
        (_, _, stderr) = await fx.Bus.RunToolAsync("/usr/bin/dbus-send", "--session", "--print-reply",
            $"--dest={EngineBusNames.BusName}", EngineBusNames.ObjectPath, "org.example.Other.GetInfo");
        Assert.Contains("org.freedesktop.DBus.Error.UnknownInterface", stderr);
        (_, _, stderr) = await fx.Bus.RunToolAsync("/usr/bin/dbus-send", "--session", "--print-reply",
            $"--dest={EngineBusNames.BusName}", "/not/our/object", "org.latentbalance.Engine1.GetInfo");
        Assert.Contains("org.freedesktop.DBus.Error.UnknownObject", stderr);
        Assert.Equal(0, (await GdbusCall("org.latentbalance.Engine1.GetInfo")).Code);
    }

    [Fact]
    public async Task Contract_errors_carry_our_error_names()
    {
        var (code, _, stderr) = await GdbusCall("org.latentbalance.Engine1.Balance", "relative/in.jpg", "/tmp/out.jpg", "", "{}", "", "false");
        Assert.NotEqual(0, code);
        Assert.Contains("org.latentbalance.Engine1.Error.InvalidArgument", stderr);
        Assert.Contains("absolute path", stderr);
        (_, _, stderr) = await GdbusCall("org.latentbalance.Engine1.GetJob", "job-nope");
        Assert.Contains("org.latentbalance.Engine1.Error.NotFound", stderr);
    }

    [Fact]
    public async Task Peer_Ping_and_GetMachineId_answer()
    {
        using var client = fx.Connect();
        await client.PingAsync();
        var (code, stdout, stderr) = await GdbusCall("org.freedesktop.DBus.Peer.Ping");
        Assert.True(code == 0, stderr);
        Assert.Equal("()", stdout.Trim());
    }

    [Fact]
    public async Task An_external_caller_that_gives_up_mid_call_does_not_hurt_the_host()
    {
        using var client = fx.Connect();
        var id = (await client.BalanceAsync(new BalanceRequest
        {
            InputPath = _dir.Input(), OutputPath = _dir.File("slow.jpg"),
            Parameters = new Dictionary<string, string> { ["steps"] = "3", ["delay_ms"] = "700" },
        })).JobId;
        var (code, _, _) = await GdbusCallTimeout(1, "org.latentbalance.Engine1.Wait", id, "-1"); // gdbus leaves after 1 s
        Assert.NotEqual(0, code);
        Assert.Equal(FakeEngineService.Version, (await client.GetInfoAsync()).Version);
        Assert.Equal(JobState.Done, (await client.WaitAsync(id, 15_000)).State); // host replied to the vanished gdbus too
        Assert.Equal(0, (await GdbusCall("org.latentbalance.Engine1.GetInfo")).Code);
    }

    [Fact]
    public async Task Signals_are_seen_by_other_bus_clients_too()
    {
        using var watcher = fx.Connect();
        using var submitter = fx.Connect();
        var seen = new TaskCompletionSource<JobCompletedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        string? id = null;
        watcher.JobCompleted += (_, e) => { if (e.JobId == Volatile.Read(ref id)) seen.TrySetResult(e); };
        var ticket = await submitter.BalanceAsync(new BalanceRequest
        {
            InputPath = _dir.Input(), OutputPath = _dir.File("watched.jpg"),
            Parameters = new Dictionary<string, string> { ["steps"] = "3", ["delay_ms"] = "50" },
        });
        Volatile.Write(ref id, ticket.JobId);
        var e = await seen.Task.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(JobState.Done, e.State);
    }

    [Fact]
    public void A_second_host_for_the_same_name_is_Busy()
    {
        using var other = new FakeEngineService();
        var ex = Assert.Throws<BridgeException>(() => DBusEngineHost.Start(other, new DBusHostOptions { Address = fx.Bus.Address }));
        Assert.Equal(BridgeErrorCode.Busy, ex.Code);
        Assert.Contains(EngineBusNames.BusName, ex.Message);
    }

    [Fact]
    public void Connecting_without_an_engine_or_a_bus_is_Unavailable()
    {
        var ex = Assert.Throws<BridgeException>(() => fx.Connect(new DBusClientOptions { BusName = "org.latentbalance.Nobody1" }));
        Assert.Equal(BridgeErrorCode.Unavailable, ex.Code);
        Assert.Contains("latentbalance daemon", ex.Message);
        Assert.False(DBusEngineClient.IsEngineRunning(fx.Bus.Address, "org.latentbalance.Nobody1"));
        Assert.True(DBusEngineClient.IsEngineRunning(fx.Bus.Address));
        ex = Assert.Throws<BridgeException>(() => DBusEngineClient.Connect(new DBusClientOptions { Address = $"unix:path={_dir.File("no-bus")}" }));
        Assert.Equal(BridgeErrorCode.Unavailable, ex.Code);
        Assert.False(DBusEngineClient.IsEngineRunning($"unix:path={_dir.File("no-bus")}"));
    }

    [Fact]
    public async Task Calls_after_the_bus_dies_fail_with_Unavailable_not_a_hang()
    {
        using var bus = new PrivateBus();
        using var service = new FakeEngineService();
        using var host = DBusEngineHost.Start(service, new DBusHostOptions { Address = bus.Address });
        using var client = DBusEngineClient.Connect(new DBusClientOptions { Address = bus.Address });
        Assert.Equal(FakeEngineService.Version, (await client.GetInfoAsync()).Version);
        bus.Dispose();
        await host.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        await client.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        var ex = await Assert.ThrowsAsync<BridgeException>(() => client.GetInfoAsync());
        Assert.Equal(BridgeErrorCode.Unavailable, ex.Code);
    }

    internal static string RepoFile(string relative)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, relative);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"'{relative}' not found above {AppContext.BaseDirectory}");
    }

    public void Dispose() => _dir.Dispose();
}
