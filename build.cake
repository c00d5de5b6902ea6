// LatentBalance build script (Cake 7, run with `dotnet tool restore && dotnet cake --target=<name>`).
//   build          build the solution (Release); the GLIBCXX patch runs as an MSBuild step
//   test           build and run all tests
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

Task("test").IsDependentOn("build").Does(() =>
{
    DotNetTest(solution, new DotNetTestSettings
    {
        Configuration = configuration,
        NoBuild = true,
        Loggers = { "console;verbosity=normal" },
    });
});

string CliDll() => $"./engine/LatentBalance.Cli/bin/{configuration}/net10.0/latentbalance.dll";

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
