using PrivateBus = LatentBalance.Bridge.Tests.Support.PrivateBus;
using System.Diagnostics;
using LatentBalance.Daemon.Tests.Support;
using LatentBalance.Engine.Tests;

namespace LatentBalance.Daemon.Tests.Service;

/// <summary><c>latentbalance balance</c> as a client of a running daemon (relative paths made absolute), and <c>--daemon</c> without one.</summary>
[Collection(DBusDaemonCollection.Name)]
public sealed class CliClientTests(DBusDaemonFixture fixture) : IDisposable
{
    private readonly TempDir _dir = new("cli");

    private static async Task<(int Code, string Out, string Err)> Cli(string busAddress, string cwd, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = cwd };
        psi.ArgumentList.Add(CliPaths.CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in TestPack.Environment) psi.Environment[k] = v;
        psi.Environment["DBUS_SESSION_BUS_ADDRESS"] = busAddress;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Balance_goes_through_the_running_daemon_with_relative_paths_made_absolute()
    {
        TestImages.Gradient(_dir.File("rel.png"), 48, 32);
        var (code, stdout, err) = await Cli(fixture.Bus.Address, _dir.Path, "balance", "rel.png", "-o", "rel.out.png", "--lut", "rel.cube", "--json");
        Assert.True(code == 0, err);
        Assert.Contains("\"via\": \"daemon\"", stdout);
        Assert.Contains(_dir.File("rel.out.png"), stdout);
        Assert.True(File.Exists(_dir.File("rel.out.png")));
        Assert.True(File.Exists(_dir.File("rel.cube")));
    }

    [Fact]
    public async Task Compare_and_quality_go_through_the_daemon_too_with_the_same_result_shape()
    {
        // one path (issue 12): these options used to force the in-process engine
        TestImages.Gradient(_dir.File("q.png"), 48, 32);
        var (code, stdout, err) = await Cli(fixture.Bus.Address, _dir.Path, "balance", "q.png", "-o", "q.out.jpg", "--quality", "60", "--compare", "q.cmp.jpg", "--json");
        Assert.True(code == 0, err);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        Assert.Equal("daemon", doc.RootElement.GetProperty("via").GetString());
        Assert.Equal("48", doc.RootElement.GetProperty("details").GetProperty("width").GetString());
        Assert.True(doc.RootElement.GetProperty("details").TryGetProperty("tile_delta_e", out _));
        Assert.True(File.Exists(_dir.File("q.cmp.jpg")));
        var (code2, _, err2) = await Cli(fixture.Bus.Address, _dir.Path, "balance", "q.png", "-o", "q.out95.jpg", "--json");
        Assert.True(code2 == 0, err2);
        Assert.True(new FileInfo(_dir.File("q.out.jpg")).Length < new FileInfo(_dir.File("q.out95.jpg")).Length, "quality 60 is not smaller than 95");
    }

    [Fact]
    public async Task Daemon_option_without_a_daemon_fails_with_a_clear_message()
    {
        using var empty = new PrivateBus();
        TestImages.Gradient(_dir.File("x.png"), 16, 16);
        var (code, _, err) = await Cli(empty.Address, _dir.Path, "balance", "x.png", "-o", "x.out.png", "--daemon");
        Assert.NotEqual(0, code);
        Assert.Contains("org.latentbalance.Engine1", err);
        Assert.False(File.Exists(_dir.File("x.out.png")));
    }

    public void Dispose() => _dir.Dispose();
}
