using System.Diagnostics;

namespace LatentBalance.Engine.Tests.Cli;

/// <summary>Runs the real `latentbalance` program (built beside the tests) as a child process.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(IReadOnlyDictionary<string, string>? env, params string[] args) =>
        Run(env, Path.Combine(AppContext.BaseDirectory, "latentbalance.dll"), args);

    /// <summary>Runs the program at <paramref name="dll"/> (a copy of the build).</summary>
    public static Result Run(IReadOnlyDictionary<string, string>? env, string dll, string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? TestPack.Environment) psi.Environment[k] = v;
        psi.Environment["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/nonexistent/latentbalance-test-bus"; // no daemon: in-process
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(10))) { p.Kill(true); throw new TimeoutException("latentbalance " + string.Join(' ', args)); }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
