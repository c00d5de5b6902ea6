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

RunTarget(target);
