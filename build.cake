// LatentBalance build script (Cake 7, run with `dotnet tool restore && dotnet cake --target=<name>`).
//   build          build the solution (Release); the GLIBCXX patch runs as an MSBuild step
//   test           build and run all tests (xunit, then the GIMP and darktable host tests; --host-tests=false skips those)
//   balance        build the CLI and balance --input=PHOTO [--output=OUT] with the default pack
//   benchmark      run the benchmark project (prints stage times and ratios)
//   train          build the dataset cache and train the balancer (see docs/MODEL.md)
//   publish        self-contained CLI in artifacts/cli
var target = Argument("target", "test");
var configuration = Argument("configuration", "Release");
var torchBackend = Argument("torch", "cpu");   // cpu | cuda (TorchSharp-cuda-linux, on users' machines)
var solution = "./LatentBalance.sln";
var cliProject = "./engine/LatentBalance.Cli/LatentBalance.Cli.csproj";

DotNetMSBuildSettings Props() => new DotNetMSBuildSettings().WithProperty("TorchBackend", torchBackend);

Task("build").Does(() =>
{
    DotNetBuild(solution, new DotNetBuildSettings { Configuration = configuration, MSBuildSettings = Props() });
});

string CliDll() => System.IO.Path.GetFullPath($"./engine/LatentBalance.Cli/bin/{configuration}/net10.0/latentbalance.dll");

// host tests: the GIMP 3 plug-in in a Debian trixie chroot, the darktable hook in Debian's darktable
var hostTests = Argument("host-tests", true);
void RunHostTest(string script, params string[] args)
{
    if (!FileExists(script)) return;
    var pa = new ProcessArgumentBuilder().Append(script);
    foreach (var a in args) pa.Append(a);
    var rc = StartProcess("bash", new ProcessSettings
    {
        Arguments = pa,
        EnvironmentVariables = new Dictionary<string, string> { ["LATENTBALANCE_CLI"] = CliDll() },
    });
    if (rc != 0) throw new Exception($"{script} failed with exit code {rc}");
}

Task("test").IsDependentOn("build").Does(() =>
{
    DotNetTest(solution, new DotNetTestSettings
    {
        Configuration = configuration,
        NoBuild = true,
        Loggers = { "console;verbosity=normal" },
    });
    if (hostTests)
    {
        RunHostTest("./tests/gimp/run-gimp-test.sh", "--bench");
        RunHostTest("./tests/darktable/run-darktable-test.sh");
    }
});

Task("balance").IsDependentOn("build").Does(() =>
{
    var input = Argument<string>("input");
    var output = Argument("output", System.IO.Path.ChangeExtension(input, null) + ".balanced" + System.IO.Path.GetExtension(input));
    var rc = StartProcess("dotnet", new ProcessSettings { Arguments = new ProcessArgumentBuilder().Append(CliDll()).Append("balance").AppendQuoted(input).Append("-o").AppendQuoted(output) });
    if (rc != 0) throw new Exception($"latentbalance balance failed with exit code {rc}");
    Information($"balanced image written to {output}");
});

Task("benchmark").IsDependentOn("build").Does(() =>
{
    var rc = StartProcess("dotnet", new ProcessSettings { Arguments = new ProcessArgumentBuilder().Append("run").Append("--no-build").Append("-c").Append(configuration).Append("--project").Append("./tests/LatentBalance.Benchmarks").Append("--").Append(Argument("bench", "all")) });
    if (rc != 0) throw new Exception($"benchmark failed with exit code {rc}");
});

Task("train").IsDependentOn("build").Does(() =>
{
    var args = new ProcessArgumentBuilder().Append(CliDll()).Append("train");
    foreach (var a in Arguments<string>("train-arg", new string[0])) args.Append(a);
    var rc = StartProcess("dotnet", new ProcessSettings { Arguments = args });
    if (rc != 0) throw new Exception($"training failed with exit code {rc}");
});

Task("publish").Does(() =>
{
    DotNetPublish(cliProject, new DotNetPublishSettings { Configuration = configuration, OutputDirectory = "./artifacts/cli", MSBuildSettings = Props() });
});

// install-gimp: installs the GIMP 3 plug-in "Latent Color Balance" for the current user, as
// <GIMP 3.0 config>/plug-ins/latent-color-balance/latent-color-balance.py (executable). The config folder is
// $GIMP3_DIRECTORY, else $XDG_CONFIG_HOME/GIMP/3.0 (~/.config/GIMP/3.0; %APPDATA%\GIMP\3.0 on Windows,
// ~/Library/Application Support/GIMP/3.0 on macOS); --gimp-plugins=DIR installs into DIR instead.
// The plug-in talks to the daemon (`latentbalance daemon`, see install-daemon). Restart GIMP afterwards.
Task("install-gimp").Does(() =>
{
    const string name = "latent-color-balance";
    string gimpConfig = Environment.GetEnvironmentVariable("GIMP3_DIRECTORY") ?? "";
    if (gimpConfig.Length == 0)
    {
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string xdg = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") ?? "";
        gimpConfig = OperatingSystem.IsWindows() ? System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData), "GIMP", "3.0")
            : OperatingSystem.IsMacOS() ? System.IO.Path.Combine(home, "Library", "Application Support", "GIMP", "3.0")
            : System.IO.Path.Combine(xdg.Length > 0 ? xdg : System.IO.Path.Combine(home, ".config"), "GIMP", "3.0");
    }
    string pluginsDir = Argument("gimp-plugins", System.IO.Path.Combine(gimpConfig, "plug-ins"));
    string source = MakeAbsolute(new FilePath($"./plugins/gimp/{name}/{name}.py")).FullPath;
    if (!System.IO.File.Exists(source)) throw new Exception($"install-gimp: plug-in source {source} not found");
    string folder = System.IO.Path.Combine(pluginsDir, name);
    System.IO.Directory.CreateDirectory(folder);
    string dest = System.IO.Path.Combine(folder, name + ".py");
    string temp = dest + ".tmp";
    System.IO.File.Copy(source, temp, overwrite: true);
    if (!OperatingSystem.IsWindows())
        System.IO.File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
    System.IO.File.Move(temp, dest, overwrite: true);
    Information($"GIMP plug-in installed: {dest}");
    Information("Restart GIMP; the filter is Filters > Colors > Latent Color Balance… (needs `latentbalance daemon` or `dotnet cake --target=install-daemon`).");
});

// install-daemon   publish the CLI (with its filter plug-ins) to ~/.local/lib/latentbalance and install, for the
//                  current user, the D-Bus activation file (~/.local/share/dbus-1/services) and the systemd user
//                  unit (~/.config/systemd/user), so the first D-Bus call starts `latentbalance daemon`.
//                  --prefix=DIR installs elsewhere; systemctl/dbus reload are attempted and their failure only reported.
Task("install-daemon").Does(() =>
{
    var home = Environment.GetEnvironmentVariable("HOME") ?? throw new Exception("HOME is not set");
    string Xdg(string variable, string fallback) =>
        string.IsNullOrEmpty(Environment.GetEnvironmentVariable(variable)) ? System.IO.Path.Combine(home, fallback) : Environment.GetEnvironmentVariable(variable);
    var prefix = Argument("prefix", System.IO.Path.Combine(home, ".local", "lib", "latentbalance"));
    var dbusDir = System.IO.Path.Combine(Xdg("XDG_DATA_HOME", ".local/share"), "dbus-1", "services");
    var unitDir = System.IO.Path.Combine(Xdg("XDG_CONFIG_HOME", ".config"), "systemd", "user");

    DotNetPublish(cliProject, new DotNetPublishSettings { Configuration = configuration, OutputDirectory = prefix, MSBuildSettings = Props() });
    // a launcher script, so Exec= lines need no `dotnet` path
    var launcher = System.IO.Path.Combine(prefix, "latentbalance");
    if (!System.IO.File.Exists(launcher) || System.IO.File.ReadAllText(launcher).StartsWith("#!"))
    {
        System.IO.File.WriteAllText(launcher, "#!/bin/sh\nexec dotnet \"" + System.IO.Path.Combine(prefix, "latentbalance.dll") + "\" \"$@\"\n");
        StartProcess("chmod", new ProcessSettings { Arguments = new ProcessArgumentBuilder().Append("755").AppendQuoted(launcher) });
    }

    void Install(string template, string targetDir, string name, string extra)
    {
        System.IO.Directory.CreateDirectory(targetDir);
        var text = System.IO.File.ReadAllText(template).Replace("@BINDIR@", prefix) + extra;
        var target = System.IO.Path.Combine(targetDir, name);
        var temp = target + ".tmp";
        System.IO.File.WriteAllText(temp, text);
        System.IO.File.Move(temp, target, true);
        Information($"installed {target}");
    }
    Install("./bridge/LatentBalance.Bridge/DBus/org.latentbalance.Engine1.service.in", dbusDir, "org.latentbalance.Engine1.service",
        "SystemdService=latentbalance.service\n");
    Install("./engine/LatentBalance.Daemon/systemd/latentbalance.service.in", unitDir, "latentbalance.service", "");

    int Try(string tool, string args)
    {
        try { return StartProcess(tool, new ProcessSettings { Arguments = args }); }
        catch (Exception e) { Warning($"{tool} {args}: {e.Message}"); return -1; }
    }
    if (Try("systemctl", "--user daemon-reload") != 0) Warning("systemctl --user daemon-reload failed (no user systemd?): D-Bus activation still starts the daemon directly");
    Information($"done: the first call to org.latentbalance.Engine1 starts {launcher} daemon");
});

RunTarget(target);
