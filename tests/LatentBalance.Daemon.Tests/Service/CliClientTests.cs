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
