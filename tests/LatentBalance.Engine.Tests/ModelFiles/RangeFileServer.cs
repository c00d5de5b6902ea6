using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LatentBalance.Engine.Tests.ModelFiles;

/// <summary>
/// A tiny HTTP/1.1 server on 127.0.0.1 (random port) that serves one byte array at any path,
/// honours <c>Range: bytes=N-</c> with 206 (unless told not to), and can break the connection
/// after a number of body bytes. It records what each request asked for and how many body bytes it meant to send.
/// </summary>
sealed class RangeFileServer : IDisposable
{
    readonly TcpListener _listener;
    readonly CancellationTokenSource _stop = new();
    readonly Task _loop;
    readonly object _gate = new();
    readonly List<(string? Range, long BodyBytesSent, int Status)> _requests = [];

    public RangeFileServer(byte[] content)
    {
        Content = content;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _loop = Task.Run(AcceptLoop);
    }

    public byte[] Content { get; set; }

    /// <summary>When set, each response closes the connection after this many body bytes.</summary>
    public long? DropAfterBytes { get; set; }

    /// <summary>When true, Range headers are ignored and the whole file comes back with 200.</summary>
    public bool IgnoreRange { get; set; }

    public string Url(string name) => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/{name}";

    public IReadOnlyList<(string? Range, long BodyBytesSent, int Status)> Requests
    {
        get { lock (_gate) return _requests.ToList(); }
    }

    async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch { return; }
            _ = Task.Run(() => Serve(client));
        }
    }

    async Task Serve(TcpClient client)
    {
        using (client)
        {
            var stream = client.GetStream();
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await stream.ReadAsync(one) == 0) return;
                head.Append((char)one[0]);
            }
            string? range = null;
            foreach (var line in head.ToString().Split("\r\n"))
            {
                if (line.StartsWith("Range:", StringComparison.OrdinalIgnoreCase)) range = line[6..].Trim();
            }

            var content = Content;
            long start = 0;
            int status = 200;
            string extra = "";
            if (range is not null && !IgnoreRange && range.StartsWith("bytes=") && range.EndsWith('-'))
            {
                start = long.Parse(range[6..^1]);
                if (start >= content.Length)
                {
                    status = 416;
                    extra = $"Content-Range: bytes */{content.Length}\r\n";
                }
                else
                {
                    status = 206;
                    extra = $"Content-Range: bytes {start}-{content.Length - 1}/{content.Length}\r\n";
                }
            }
            long length = status == 416 ? 0 : content.Length - start;
            var reason = status switch { 200 => "OK", 206 => "Partial Content", _ => "Range Not Satisfiable" };
            var header = $"HTTP/1.1 {status} {reason}\r\nContent-Length: {length}\r\n{extra}Accept-Ranges: bytes\r\nConnection: close\r\n\r\n";
            long sent = 0;
            long limit = Math.Min(length, DropAfterBytes ?? long.MaxValue);
            // Recorded before answering so that a test never races the bookkeeping.
            lock (_gate) _requests.Add((range, limit, status));
            try
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(header));
                while (sent < limit)
                {
                    int n = (int)Math.Min(8192, limit - sent);
                    await stream.WriteAsync(content.AsMemory((int)(start + sent), n));
                    sent += n;
                }
                await stream.FlushAsync();
            }
            catch (IOException) { /* client went away */ }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try { _loop.Wait(2000); } catch { }
    }
}
