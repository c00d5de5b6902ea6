// LatentBalance build script (Cake 7, run with `dotnet tool restore && dotnet cake --target=<name>`).
//   build          build the solution (Release); the GLIBCXX patch runs as an MSBuild step
//   test           build and run all tests (xunit, then the GIMP and darktable host tests; --host-tests=false skips those)
//   balance        build the CLI and balance --input=PHOTO [--output=OUT] with the default pack
//   benchmark      run the benchmark project (prints stage times and ratios)
//   train          build the dataset cache and train the balancer (see docs/MODEL.md)
//   publish        the CLI (linux-x64, framework-dependent, ReadyToRun) in artifacts/cli: lean by default (ONNX Runtime, no libtorch, ~61 MB);
//                  --with-torch adds libtorch (--runtime torch, train, eval); see docs/PACKAGING.md
//   --onnx=cuda    (any target) ONNX Runtime with its CUDA provider (Microsoft.ML.OnnxRuntime.Gpu.Linux) for --device cuda
var target = Argument("target", "test");
var configuration = Argument("configuration", "Release");
var torchBackend = Argument("torch", "cpu");   // cpu | cuda (TorchSharp-cuda-linux, on users' machines)
var onnxBackend = Argument("onnx", "cpu");     // cpu | cuda (Microsoft.ML.OnnxRuntime.Gpu.Linux)
var withTorch = HasArgument("with-torch") && Argument("with-torch", "true") != "false";
var solution = "./LatentBalance.sln";
var cliProject = "./engine/LatentBalance.Cli/LatentBalance.Cli.csproj";

DotNetMSBuildSettings Props() => new DotNetMSBuildSettings().WithProperty("TorchBackend", torchBackend).WithProperty("OnnxBackend", onnxBackend);
// publish: libtorch only with --with-torch (the serving path runs on ONNX Runtime and loads none); linux-x64,
// framework-dependent, ReadyToRun (precompiled: the daemon owns its bus name in about half the time of JIT start-up)
DotNetMSBuildSettings PublishProps() => Props().WithProperty("LatentBalancePublishTorch", withTorch ? "true" : "false").WithProperty("PublishReadyToRun", "true");
DotNetPublishSettings Publish(string outputDirectory, DotNetMSBuildSettings props) => new DotNetPublishSettings
{
    Configuration = configuration, OutputDirectory = outputDirectory, Runtime = "linux-x64", SelfContained = false, MSBuildSettings = props,
};

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
    // One test project at a time, then the host tests, each run whatever failed before it: the projects' real
    // processes (silos, daemons, GIMP) share the machine, and run side by side they loaded 2 cores to 20-30, enough to
    // break the tests that bound a wall-clock time (a stop signal within 2.5 s). Failures are reported together.
    var failures = new List<string>();
    void Run(string what, Action run)
    {
        try { run(); }
        catch (Exception e) { failures.Add($"{what}: {e.Message}"); Error($"{what} failed: {e.Message}"); }
    }
    foreach (var project in GetFiles("./tests/*/*.Tests.csproj").OrderBy(p => p.FullPath))
        Run(project.GetFilenameWithoutExtension().ToString(), () => DotNetTest(project.FullPath, new DotNetTestSettings
        {
            Configuration = configuration,
            NoBuild = true,
            Loggers = { "console;verbosity=normal" },
        }));
    if (hostTests)
    {
        Run("GIMP host test", () => RunHostTest("./tests/gimp/run-gimp-test.sh", "--bench"));
        Run("darktable host test", () => RunHostTest("./tests/darktable/run-darktable-test.sh"));
    }
    if (failures.Count > 0) throw new Exception($"{failures.Count} test run(s) failed: " + string.Join("; ", failures));
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
    DotNetPublish(cliProject, Publish("./artifacts/cli", PublishProps()));
    Information($"published {(withTorch ? "with libtorch" : "lean (no libtorch; --with-torch for the full one)")}: {MakeAbsolute(Directory("./artifacts/cli")).FullPath}");
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

// install-daemon   publish the CLI (with its filter plug-ins; lean: ONNX Runtime, no libtorch, unless --with-torch) to
//                  ~/.local/lib/latentbalance, write the launcher <prefix>/latentbalance (a sh script: the dotnet that
//                  ran this task on <prefix>/latentbalance.dll), and install, for the current user, the D-Bus activation
//                  file (~/.local/share/dbus-1/services) and the systemd user unit (~/.config/systemd/user); both start
//                  `<prefix>/latentbalance daemon --idle-exit SECONDS`, so the first D-Bus call starts the daemon and it
//                  exits when idle (the next call starts it again, in well under a second: it owns its bus name first).
//                  --prefix=DIR        install there instead
//                  --idle-exit=SECONDS the daemon's idle exit (default 600)
//                  --model-mirror=DIR  default for LATENTBALANCE_MODEL_MIRROR in the launcher (default: $LATENTBALANCE_MODEL_MIRROR, else ../shared/models when present)
//                  --with-torch        also publish libtorch (--runtime torch, train, eval)
//                  systemctl --user daemon-reload is attempted and its failure only reported. Files are written to a temp
//                  name and renamed. See docs/PACKAGING.md.
Task("install-daemon").Does(() =>
{
    var home = Environment.GetEnvironmentVariable("HOME") ?? throw new Exception("HOME is not set");
    string Xdg(string variable, string fallback) =>
        string.IsNullOrEmpty(Environment.GetEnvironmentVariable(variable)) ? System.IO.Path.Combine(home, fallback) : Environment.GetEnvironmentVariable(variable);
    var prefix = System.IO.Path.GetFullPath(Argument("prefix", System.IO.Path.Combine(home, ".local", "lib", "latentbalance")));
    var dbusDir = System.IO.Path.Combine(Xdg("XDG_DATA_HOME", ".local/share"), "dbus-1", "services");
    var unitDir = System.IO.Path.Combine(Xdg("XDG_CONFIG_HOME", ".config"), "systemd", "user");
    var idleExit = Argument("idle-exit", 600.0);
    if (!(idleExit > 0)) throw new Exception($"install-daemon: --idle-exit must be a positive number of seconds, not {idleExit}");
    var idleText = idleExit.ToString(System.Globalization.CultureInfo.InvariantCulture);
    var sharedModels = System.IO.Path.GetFullPath(System.IO.Path.Combine(MakeAbsolute(Directory(".")).FullPath, "..", "shared", "models"));
    var mirror = Argument("model-mirror", Environment.GetEnvironmentVariable("LATENTBALANCE_MODEL_MIRROR") is { Length: > 0 } m ? m
        : System.IO.Directory.Exists(sharedModels) ? sharedModels : "");

    void WriteFile(string path, string text, bool executable)
    {
        System.IO.Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path));
        var temp = path + ".tmp-" + System.Diagnostics.Process.GetCurrentProcess().Id;
        System.IO.File.WriteAllText(temp, text, new System.Text.UTF8Encoding(false));
        if (executable && !OperatingSystem.IsWindows()) System.IO.File.SetUnixFileMode(temp, (UnixFileMode)0b111_101_101);
        System.IO.File.Move(temp, path, true);
        Information($"installed {path}");
    }
    string ShQuote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    // no apphost: <prefix>/latentbalance is the launcher below, the name the activation file and unit run
    DotNetPublish(cliProject, Publish(prefix, PublishProps().WithProperty("UseAppHost", "false")));

    var dotnetExe = Environment.ProcessPath is { } pp && System.IO.Path.GetFileNameWithoutExtension(pp) == "dotnet" ? pp : "dotnet";
    var launcher = System.IO.Path.Combine(prefix, "latentbalance");
    WriteFile(launcher, "#!/bin/sh\n# latentbalance launcher written by `dotnet cake --target=install-daemon`\n"
        + (mirror.Length > 0 ? ": \"${LATENTBALANCE_MODEL_MIRROR:=" + mirror.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("$", "\\$").Replace("`", "\\`") + "}\"\nexport LATENTBALANCE_MODEL_MIRROR\n" : "")
        + "exec " + ShQuote(dotnetExe) + " " + ShQuote(System.IO.Path.Combine(prefix, "latentbalance.dll")) + " \"$@\"\n", executable: true);

    string Fill(string template) => System.IO.File.ReadAllText(template).Replace("@BINDIR@", prefix).Replace("@IDLE_EXIT@", idleText);
    WriteFile(System.IO.Path.Combine(dbusDir, "org.latentbalance.Engine1.service"),
        Fill("./bridge/LatentBalance.Bridge/DBus/org.latentbalance.Engine1.service.in") + "SystemdService=latentbalance.service\n", executable: false);
    WriteFile(System.IO.Path.Combine(unitDir, "latentbalance.service"), Fill("./engine/LatentBalance.Daemon/systemd/latentbalance.service.in"), executable: false);

    int Try(string tool, string args)
    {
        try { return StartProcess(tool, new ProcessSettings { Arguments = args }); }
        catch (Exception e) { Warning($"{tool} {args}: {e.Message}"); return -1; }
    }
    if (Try("systemctl", "--user daemon-reload") != 0) Warning("systemctl --user daemon-reload failed (no user systemd?): D-Bus activation still starts the daemon directly");
    Information($"done: the first call to org.latentbalance.Engine1 starts {launcher} daemon --idle-exit {idleText} ({(withTorch ? "with libtorch" : "lean: no libtorch")})");
});

// install-darktable: the darktable Lua plugin for the current user (see docs/DARKTABLE.md).
//   builds the CLI, writes the launcher <bin-dir>/latentbalance (runs the built CLI with dotnet),
//   copies plugins/darktable/latent_color_balance.lua to <darktable config>/lua/contrib/ and adds
//   `require "contrib/latent_color_balance"` to <darktable config>/luarc once.
//   Files are only written when their content changes: running it twice changes nothing.
//   --darktable-config=DIR  default $XDG_CONFIG_HOME/darktable, else ~/.config/darktable
//   --bin-dir=DIR           default ~/.local/bin
//   --model-mirror=DIR      default for LATENTBALANCE_MODEL_MIRROR in the launcher (default: ../shared/models when present)
Task("install-darktable").Does(() =>
{
    var home = Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
    var xdgConfig = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
    var dtConfig = System.IO.Path.GetFullPath(Argument("darktable-config", System.IO.Path.Combine(string.IsNullOrEmpty(xdgConfig) ? System.IO.Path.Combine(home, ".config") : xdgConfig, "darktable")));
    var binDir = System.IO.Path.GetFullPath(Argument("bin-dir", System.IO.Path.Combine(home, ".local", "bin")));
    var repoRoot = MakeAbsolute(Directory(".")).FullPath;
    var sharedModels = System.IO.Path.GetFullPath(System.IO.Path.Combine(repoRoot, "..", "shared", "models"));
    var mirror = Argument("model-mirror", System.IO.Directory.Exists(sharedModels) ? sharedModels : "");
    var script = System.IO.Path.Combine(repoRoot, "plugins", "darktable", "latent_color_balance.lua");
    if (!System.IO.File.Exists(script)) throw new Exception($"{script}: the darktable plugin is missing from this checkout");
    const string launcherMarker = "# latentbalance launcher written by `dotnet cake --target=install-darktable`";

    string ShQuote(string s) => "'" + s.Replace("'", "'\\''") + "'";
    // Writes the file only when its content differs (temp file beside it, then rename); true when written.
    bool WriteIfChanged(string path, string text, bool executable)
    {
        if (System.IO.File.Exists(path) && System.IO.File.ReadAllText(path) == text) return false;
        System.IO.Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path));
        var tmp = path + ".tmp-" + System.Diagnostics.Process.GetCurrentProcess().Id;
        System.IO.File.WriteAllText(tmp, text, new System.Text.UTF8Encoding(false));
        if (executable) System.IO.File.SetUnixFileMode(tmp, (UnixFileMode)0b111_101_101);
        System.IO.File.Move(tmp, path, overwrite: true);
        return true;
    }

    // 1. the CLI and its launcher
    var cli = "./engine/LatentBalance.Cli/LatentBalance.Cli.csproj";
    DotNetBuild(cli, new DotNetBuildSettings { Configuration = configuration, MSBuildSettings = new DotNetMSBuildSettings().WithProperty("TorchBackend", torchBackend) });
    var dll = System.IO.Path.Combine(repoRoot, "engine", "LatentBalance.Cli", "bin", configuration, "net10.0", "latentbalance.dll");
    if (!System.IO.File.Exists(dll)) throw new Exception($"{dll}: the CLI build did not produce it");
    var dotnetExe = Environment.ProcessPath is { } pp && System.IO.Path.GetFileNameWithoutExtension(pp) == "dotnet" ? pp : "dotnet";
    var launcher = System.IO.Path.Combine(binDir, "latentbalance");
    var launcherText = "#!/bin/sh\n" + launcherMarker + "\n# runs the CLI built in " + repoRoot + "\n"
        + (mirror.Length > 0 ? ": \"${LATENTBALANCE_MODEL_MIRROR:=" + mirror.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("$", "\\$").Replace("`", "\\`") + "}\"\nexport LATENTBALANCE_MODEL_MIRROR\n" : "")
        + "exec " + ShQuote(dotnetExe) + " " + ShQuote(dll) + " \"$@\"\n";
    if (System.IO.File.Exists(launcher) && !System.IO.File.ReadAllText(launcher).Contains(launcherMarker))
        Warning($"{launcher} exists and was not written by this task: left alone (set the plugin's program preference if it is not latentbalance)");
    else
        Information(WriteIfChanged(launcher, launcherText, executable: true) ? $"launcher written: {launcher}" : $"launcher up to date: {launcher}");

    // 2. the Lua script
    var target = System.IO.Path.Combine(dtConfig, "lua", "contrib", "latent_color_balance.lua");
    Information(WriteIfChanged(target, System.IO.File.ReadAllText(script), executable: false) ? $"script installed: {target}" : $"script up to date: {target}");

    // 3. the require line in luarc, once
    var luarc = System.IO.Path.Combine(dtConfig, "luarc");
    var requireLine = "require \"contrib/latent_color_balance\"";
    var existing = System.IO.File.Exists(luarc) ? System.IO.File.ReadAllText(luarc) : "";
    var already = System.Text.RegularExpressions.Regex.IsMatch(existing, @"^\s*require\s*\(?\s*[""']contrib[/.]latent_color_balance[""']", System.Text.RegularExpressions.RegexOptions.Multiline);
    if (already) Information($"luarc already loads the plugin: {luarc}");
    else
    {
        WriteIfChanged(luarc, existing + (existing.Length == 0 || existing.EndsWith("\n") ? "" : "\n") + requireLine + "\n", executable: false);
        Information($"added to {luarc}: {requireLine}");
    }
    Information("restart darktable; the storage \"Latent Color Balance\" and the options under preferences > lua options are then available");
});

RunTarget(target);
