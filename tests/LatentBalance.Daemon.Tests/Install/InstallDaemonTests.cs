using System.Diagnostics;
using PrivateBus = LatentBalance.Bridge.Tests.Support.PrivateBus;
using LatentBalance.Bridge.Contract;
using LatentBalance.Daemon.Tests.Support;
using LatentBalance.Engine.Tests;
using Xunit.Abstractions;

namespace LatentBalance.Daemon.Tests.Install;

/// <summary>
/// The real <c>dotnet cake --target=install-daemon</c> (lean: no libtorch) into a temporary prefix, XDG_DATA_HOME and
/// XDG_CONFIG_HOME, run once for the class: what it writes, then D-Bus activation of the installed daemon on a private
/// dbus-daemon that finds the activation file where the session bus looks (XDG_DATA_HOME), a balance through it, and
/// its idle exit. The same install is the lean publish: it balances in its own process and refuses libtorch's
/// commands in one line.
/// </summary>
public sealed class InstalledDaemon : IDisposable
{
    public const double IdleExitSeconds = 4;
    private readonly TempDir _dir = new("install-daemon");

    public InstalledDaemon()
    {
        Prefix = Path.Combine(_dir.Path, "prefix");
        DataHome = Path.Combine(_dir.Path, "data");
        ConfigHome = Path.Combine(_dir.Path, "config");
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = TestPaths.RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "cake", "--target=install-daemon", $"--configuration={CliPaths.Configuration}", $"--prefix={Prefix}",
                     $"--idle-exit={IdleExitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}", $"--model-mirror={TestPack.MirrorDir}" })
            psi.ArgumentList.Add(a);
        psi.Environment["XDG_DATA_HOME"] = DataHome;
        psi.Environment["XDG_CONFIG_HOME"] = ConfigHome;
        psi.Environment["NO_COLOR"] = "1";
        var clock = Stopwatch.StartNew();
        using (var p = Process.Start(psi)!)
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromMinutes(10))) { p.Kill(true); throw new TimeoutException("install-daemon ran over 10 minutes"); }
            Output = stdout.Result + stderr.Result;
            if (p.ExitCode != 0) throw new InvalidOperationException($"install-daemon failed with exit code {p.ExitCode}:\n{Output}");
        }
        InstallSeconds = clock.Elapsed.TotalSeconds;
    }

    public string Prefix { get; }
    public string DataHome { get; }
    public string ConfigHome { get; }
    public string Output { get; }
    public double InstallSeconds { get; }
    public string Launcher => Path.Combine(Prefix, "latentbalance");
    public string ActivationFile => Path.Combine(DataHome, "dbus-1", "services", "org.latentbalance.Engine1.service");
    public string Unit => Path.Combine(ConfigHome, "systemd", "user", "latentbalance.service");

    /// <summary>Runs the installed launcher (not the build output) with <paramref name="env"/> added.</summary>
    public (int Code, string Out, string Err) Run(IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var psi = new ProcessStartInfo(Launcher) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = _dir.Path };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["LATENTBALANCE_CACHE"] = TestPack.CacheDir;
        psi.Environment.Remove("LATENTBALANCE_PACK"); // the installed default pack
        psi.Environment.Remove("LATENTBALANCE_MODEL_MIRROR"); // the launcher's default
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); throw new TimeoutException($"latentbalance {string.Join(' ', args)} ran over 5 minutes"); }
        return (p.ExitCode, o.Result, e.Result);
    }

    public void Dispose() => _dir.Dispose();
}

public sealed class InstallDaemonTests(InstalledDaemon install, ITestOutputHelper output) : IClassFixture<InstalledDaemon>
{
    private static readonly Dictionary<string, string> NoEnv = new();

    [Fact]
    public void Install_writes_the_launcher_and_activation_files_it_documents_and_leaves_libtorch_out()
    {
        output.WriteLine($"install took {install.InstallSeconds:F1} s");
        var launcher = File.ReadAllText(install.Launcher);
        Assert.StartsWith("#!/bin/sh\n", launcher);
        Assert.Contains($"'{Path.Combine(install.Prefix, "latentbalance.dll")}' \"$@\"", launcher);
        Assert.Contains(TestPack.MirrorDir, launcher);
        Assert.True(File.GetUnixFileMode(install.Launcher).HasFlag(UnixFileMode.UserExecute), "the launcher is not executable");

        var daemonLine = $"{install.Launcher} daemon --idle-exit {InstalledDaemon.IdleExitSeconds}";
        var activation = File.ReadAllLines(install.ActivationFile);
        Assert.Contains("Name=org.latentbalance.Engine1", activation);
        Assert.Contains("Exec=" + daemonLine, activation);
        Assert.Contains("SystemdService=latentbalance.service", activation);
        Assert.Contains("ExecStart=" + daemonLine, File.ReadAllLines(install.Unit));
        Assert.DoesNotContain(File.ReadAllText(install.ActivationFile) + File.ReadAllText(install.Unit), "@");

        var files = Directory.GetFiles(install.Prefix, "*", SearchOption.AllDirectories);
        Assert.DoesNotContain(files, f => Path.GetFileName(f) is "libtorch.so" or "libtorch_cpu.so" or "libLibTorchSharp.so");
        Assert.Contains(files, f => Path.GetFileName(f) == "libonnxruntime.so");
        Assert.DoesNotContain(files, f => f.Contains("/runtimes/") && !f.Contains("/runtimes/linux-x64/") && (f.EndsWith(".so") || f.EndsWith(".dll") && f.Contains("/native/") || f.EndsWith(".dylib")));
        Assert.True(File.Exists(Path.Combine(install.Prefix, "filters", "LatentBalance.Filters.GreyWorld", "LatentBalance.Filters.GreyWorld.dll")));
        long bytes = files.Sum(f => new FileInfo(f).Length);
        output.WriteLine($"lean install: {bytes / 1e6:F1} MB in {files.Length} files");
        Assert.True(bytes < 200_000_000, $"the lean install is {bytes / 1e6:F0} MB (the issue's bound: 200 MB)");
    }

    [Fact]
    public void The_lean_install_balances_a_photo_in_process_and_refuses_libtorch_commands_in_one_line()
    {
        using var dir = new TempDir("lean");
        var input = TestImages.Gradient(dir.File("cast.png"), 96, 64, [1.0, 0.8, 0.6]);
        var outp = dir.File("cast.out.png");
        var (code, _, err) = install.Run(NoEnv, "balance", input, "-o", outp, "--in-process");
        output.WriteLine(err);
        Assert.True(code == 0, err);
        Assert.Equal(TestImages.Size(input), TestImages.Size(outp));
        Assert.Contains("onnx on cpu", err);

        foreach (var args in new[] { new[] { "balance", input, "-o", dir.File("torch.png"), "--in-process", "--runtime", "torch" }, ["eval", "--photos", dir.Path] })
        {
            (code, var stdout, err) = install.Run(NoEnv, args);
            output.WriteLine($"{args[0]}: rc {code}: {err}");
            Assert.NotEqual(0, code);
            var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(lines);
            Assert.StartsWith("latentbalance: error: libtorch is not installed in " + install.Prefix, lines[0]);
            Assert.Contains("--with-torch", lines[0]);
            Assert.DoesNotContain("Exception", err + stdout);
        }
        Assert.False(File.Exists(dir.File("torch.png")));
    }

    [Fact]
    public async Task Dbus_activation_starts_the_installed_daemon_which_owns_its_name_before_loading_balances_and_exits_when_idle()
    {
        // a private session bus that finds the installed activation file where a user's bus does, and none of the
        // machine's own services; the daemon it activates inherits this environment
        using var bus = new PrivateBus(new Dictionary<string, string?>
        {
            ["XDG_DATA_HOME"] = install.DataHome, ["XDG_DATA_DIRS"] = Path.Combine(install.DataHome, "no-system-services"),
            ["LATENTBALANCE_CACHE"] = TestPack.CacheDir,
            ["LATENTBALANCE_PACK"] = null, ["LATENTBALANCE_MODEL_MIRROR"] = null, ["LATENTBALANCE_FILTER_PATH"] = null, ["DBUS_SESSION_BUS_ADDRESS"] = null,
        });
        var env = new Dictionary<string, string> { ["DBUS_SESSION_BUS_ADDRESS"] = bus.Address };

        // activation: the bus runs the Exec= line of the installed file and answers once the name is owned
        var clock = Stopwatch.StartNew();
        var (code, stdout, err) = await bus.RunToolAsync("gdbus", "call", "--session", "--dest", "org.freedesktop.DBus", "--object-path", "/org/freedesktop/DBus",
            "--method", "org.freedesktop.DBus.StartServiceByName", EngineBusNames.BusName, "0");
        double activation = clock.Elapsed.TotalSeconds;
        output.WriteLine($"StartServiceByName: {stdout.Trim()} in {activation:F2} s");
        Assert.True(code == 0, err + bus.Log);
        Assert.Equal("(uint32 1,)", stdout.Trim()); // DBUS_START_REPLY_SUCCESS: started now
        Assert.True(activation < 10, $"activation took {activation:F1} s");

        // a balance through the activated daemon (--daemon: never in-process)
        using var dir = new TempDir("activated");
        var input = TestImages.Gradient(dir.File("cast.png"), 96, 64, [1.0, 0.8, 0.6]);
        var outp = dir.File("cast.out.png");
        (code, _, err) = install.Run(env, "balance", input, "-o", outp, "--daemon");
        output.WriteLine(err);
        Assert.True(code == 0, err + "\n" + bus.Log);
        Assert.Contains("daemon", err);
        Assert.Equal(TestImages.Size(input), TestImages.Size(outp));

        // the daemon took its name before the models were loaded, and loaded them on the onnx runtime
        var log = bus.Log;
        int ready = log.IndexOf("\"event\":\"daemon_ready\"", StringComparison.Ordinal), loaded = log.IndexOf("\"event\":\"models_loaded\"", StringComparison.Ordinal);
        Assert.True(ready >= 0 && loaded > ready, "daemon_ready did not come before models_loaded:\n" + log);
        Assert.Contains("\"runtime\":\"onnx\"", log);
        Assert.Contains("\"event\":\"job_done\"", log);

        // idle exit: the name goes away by itself, with the daemon saying why
        var deadline = Stopwatch.StartNew();
        bool owned = true;
        while (owned && deadline.Elapsed < TimeSpan.FromSeconds(InstalledDaemon.IdleExitSeconds + 30))
        {
            await Task.Delay(500);
            (code, stdout, err) = await bus.RunToolAsync("gdbus", "call", "--session", "--dest", "org.freedesktop.DBus", "--object-path", "/org/freedesktop/DBus",
                "--method", "org.freedesktop.DBus.NameHasOwner", EngineBusNames.BusName);
            Assert.True(code == 0, err);
            owned = stdout.Contains("true");
        }
        output.WriteLine($"name released {deadline.Elapsed.TotalSeconds:F1} s after the balance");
        Assert.False(owned, "the daemon did not exit when idle:\n" + bus.Log);
        Assert.True(deadline.Elapsed.TotalSeconds >= InstalledDaemon.IdleExitSeconds - 1, $"released after {deadline.Elapsed.TotalSeconds:F1} s, before the idle time");
        for (int i = 0; i < 20 && !bus.Log.Contains("\"reason\":\"idle\""); i++) await Task.Delay(100);
        Assert.Contains("\"event\":\"daemon_stopping\",\"reason\":\"idle\"", bus.Log);
    }
}
