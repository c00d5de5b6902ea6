using System.Text.RegularExpressions;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.DBus;
using LatentBalance.Daemon.Tests.Support;
using Xunit.Abstractions;

namespace LatentBalance.Daemon.Tests.Service;

/// <summary>D-Bus only: gdbus as an independent client, wrong argument types, a client that disconnects mid-job, a second daemon.</summary>
[Collection(DBusDaemonCollection.Name)]
public sealed class DBusDaemonTests(DBusDaemonFixture fixture, ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new("dbus");
    private const string Dest = EngineBusNames.BusName;

    private Task<(int Code, string Out, string Err)> Gdbus(string method, params string[] args) =>
        fixture.Bus.RunToolAsync("gdbus", ["call", "--session", "--dest", Dest, "--object-path", EngineBusNames.ObjectPath,
            "--timeout", "600", "--method", $"{EngineBusNames.Interface}.{method}", .. args]);

    private async Task AnswersGetInfo()
    {
        var (code, stdout, err) = await Gdbus("GetInfo");
        Assert.True(code == 0, err);
        Assert.Contains("'grey-world'", stdout);
    }

    [Fact]
    public async Task Gdbus_balances_an_image_and_waits_for_it()
    {
        var input = TestImages.Gradient(_dir.File("g.png"), 48, 32, [1.0, 0.8, 0.6]);
        var outp = _dir.File("g.out.png");
        var (code, stdout, err) = await Gdbus("Balance", input, outp, "grey-world", "{'strength': '0.8'}", "", "false");
        Assert.True(code == 0, err);
        var id = Regex.Match(stdout, @"'(job-[^']+)'").Groups[1].Value;
        Assert.StartsWith("job-", id);
        (code, stdout, err) = await Gdbus("Wait", id, "600000"); // a negative number would read as a gdbus option
        Assert.True(code == 0, err);
        output.WriteLine(stdout);
        Assert.StartsWith("('done', '" + outp + "'", stdout.Trim());
        Assert.True(File.Exists(outp));
        (code, stdout, _) = await Gdbus("ListFilters");
        Assert.Contains("'iterations', 'int', false, '1', '1', '10'", stdout);
    }

    [Theory]
    [InlineData("Balance", new[] { "1", "2" })]                                  // ints where strings and more are expected
    [InlineData("Balance", new[] { "/a.png", "/b.png", "", "true", "", "false" })] // a bool where a{ss} is expected
    [InlineData("Wait", new[] { "job-1", "'soon'" })]                              // a string where an int is expected
    [InlineData("Cancel", new[] { "42" })]
    [InlineData("NoSuchMethod", new string[0])]
    public async Task Wrong_argument_types_from_gdbus_get_an_error_and_the_daemon_answers_the_next_call(string method, string[] args)
    {
        var (code, _, err) = await Gdbus(method, args);
        output.WriteLine(err);
        Assert.NotEqual(0, code);
        Assert.Matches("InvalidArgs|InvalidArgument|UnknownMethod|Unsupported|NotFound|Error", err);
        await AnswersGetInfo();
    }

    [Fact]
    public async Task A_relative_path_from_a_raw_client_is_InvalidArgument()
    {
        var (code, _, err) = await Gdbus("Balance", "in.png", "out.png", "", "{}", "", "false");
        Assert.NotEqual(0, code);
        Assert.Contains(BridgeErrors.ToDBusName(BridgeErrorCode.InvalidArgument), err);
        Assert.Contains("absolute", err);
        await AnswersGetInfo();
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_job_does_not_disturb_the_daemon_and_its_job_finishes()
    {
        var input = TestImages.Gradient(_dir.File("gone.png"), 64, 48);
        var outp = _dir.File("gone.out.png");
        string id;
        using (var leaving = DBusEngineClient.Connect(new DBusClientOptions { Address = fixture.Bus.Address }))
        {
            id = (await leaving.BalanceAsync(new BalanceRequest { InputPath = input, OutputPath = outp, Parameters = new Dictionary<string, string> { ["iterations"] = "2" } })).JobId;
            var waiting = leaving.WaitAsync(id, -1); // a call in flight when the connection goes
            _ = waiting.ContinueWith(t => t.Exception, TaskScheduler.Default);
        }
        var other = fixture.Connect();
        Assert.Contains("grey-world", (await other.GetInfoAsync()).Filters);
        var r = await other.WaitAsync(id, -1);
        Assert.Equal(JobState.Done, r.State);
        Assert.True(File.Exists(outp));
    }

    [Fact]
    public void A_second_daemon_on_the_same_bus_exits_with_code_3_and_the_first_keeps_serving()
    {
        var psi = DaemonProcess.StartInfo("--bus-address", fixture.Bus.Address);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(4)), "the second daemon should give up");
        Assert.Equal(3, p.ExitCode);
        Assert.Contains("\"event\":\"bus_failed\"", err.Result);
        Assert.True(DBusEngineClient.IsEngineRunning(fixture.Bus.Address));
    }

    [Fact]
    public void Log_lines_are_json_objects_with_ts_level_and_event()
    {
        var lines = fixture.Daemon.LogLines.Where(l => !l.StartsWith("stdout: ")).ToArray();
        Assert.Contains(lines, l => l.Contains("\"event\":\"models_loaded\""));
        foreach (var line in lines.Where(l => l.StartsWith('{')))
        {
            using var doc = System.Text.Json.JsonDocument.Parse(line);
            Assert.True(doc.RootElement.TryGetProperty("ts", out _) && doc.RootElement.TryGetProperty("level", out _) && doc.RootElement.TryGetProperty("event", out _), line);
        }
        Assert.DoesNotContain(fixture.Daemon.LogLines, l => l.StartsWith("stdout: "));
    }

    public void Dispose() => _dir.Dispose();
}
