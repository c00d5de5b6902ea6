using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using LatentBalance.Engine.Tests;

namespace LatentBalance.Cluster.Tests.Support;

/// <summary>A private Debian <c>redis-server</c> on a free loopback port, its files in a temp folder
/// (append-only file on: a batch's state is durable as the cluster documents it).</summary>
public sealed class RedisServer : IDisposable
{
    readonly Process _process;

    public RedisServer()
    {
        Port = FreePort();
        Dir = TestPaths.TempDir("redis");
        var psi = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Dir };
        foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--dir", Dir, "--save", "", "--appendonly", "yes" }) psi.ArgumentList.Add(a);
        try { _process = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception e) { throw new InvalidOperationException("redis-server is not installed (.ci/run installs it)", e); }
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            try { using var c = new TcpClient(); c.Connect(IPAddress.Loopback, Port); break; }
            catch (SocketException) when (DateTime.UtcNow < until && !_process.HasExited) { Thread.Sleep(100); }
        }
    }

    public int Port { get; }
    public string Dir { get; }
    public string Address => $"127.0.0.1:{Port}";

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) { _process.Kill(); _process.WaitForExit(5000); } } catch (InvalidOperationException) { }
        _process.Dispose();
        try { Directory.Delete(Dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
