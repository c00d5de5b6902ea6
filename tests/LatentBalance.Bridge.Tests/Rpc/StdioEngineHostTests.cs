using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.Rpc;
using LatentBalance.Bridge.Tests.Support;
using Nerdbank.Streams;

namespace LatentBalance.Bridge.Tests.Rpc;

/// <summary>The stdio wire format as a script sees it: one JSON object per line in, one per line out.</summary>
public sealed class StdioEngineHostTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly FakeEngineService _service = new();
    private readonly Stream _clientSide;
    private readonly Task _host;
    private readonly StreamWriter _writer;
    private readonly StreamReader _reader;
    private readonly List<JsonObject> _notifications = new();

    public StdioEngineHostTests()
    {
        var (client, server) = FullDuplexStream.CreatePair();
        _clientSide = client;
        _host = StdioEngineHost.RunAsync(_service, server, server);
        _writer = new StreamWriter(client, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        _reader = new StreamReader(client, Encoding.UTF8);
    }

    /// <summary>Sends one raw line and returns the response with that id (collecting notifications on the way).</summary>
    private async Task<JsonObject> Send(string json, int? id)
    {
        await _writer.WriteLineAsync(json);
        while (true)
        {
            string? line = await _reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(15));
            Assert.NotNull(line);
            Assert.DoesNotContain('\n', line);
            var msg = JsonNode.Parse(line)!.AsObject();
            Assert.Equal("2.0", (string?)msg["jsonrpc"]);
            if (!msg.ContainsKey("id")) { _notifications.Add(msg); continue; }
            if (msg["id"] is null ? id is null : id is not null && (int)msg["id"]! == id) return msg;
        }
    }

    [Fact]
    public async Task A_script_can_run_a_job_with_plain_json_lines()
    {
        string input = _dir.Input("s.jpg", "script-bytes"), output = _dir.File("s.out.jpg");
        var info = await Send("""{"jsonrpc":"2.0","id":1,"method":"GetInfo"}""", 1);
        Assert.Equal(FakeEngineService.Version, (string?)info["result"]!["version"]);
        Assert.Equal("fake-vae", (string?)info["result"]!["modelsLoaded"]![0]);

        var balance = await Send(JsonSerializer.Serialize(new
        {
            jsonrpc = "2.0", id = 2, method = "Balance",
            @params = new { inputPath = input, outputPath = output, parameters = new Dictionary<string, string> { ["steps"] = "3", ["delay_ms"] = "5" } },
        }), 2);
        string jobId = (string)balance["result"]!["jobId"]!;

        var wait = await Send($$$"""{"jsonrpc":"2.0","id":3,"method":"Wait","params":{"jobId":"{{{jobId}}}","timeoutMs":10000}}""", 3);
        Assert.Equal("done", (string?)wait["result"]!["state"]);
        Assert.Equal(output, (string?)wait["result"]!["outputPath"]);
        Assert.Null(wait["result"]!["errorCode"]); // nulls are omitted
        Assert.Equal("script-bytes", File.ReadAllText(output));

        var positional = await Send($$$"""{"jsonrpc":"2.0","id":4,"method":"GetJob","params":["{{{jobId}}}"]}""", 4);
        Assert.Equal(1.0, (double)positional["result"]!["progress"]!);

        // Progress notifications arrived as JSON-RPC notifications with named params.
        await Send("""{"jsonrpc":"2.0","id":5,"method":"ListFilters"}""", 5); // gives late notifications time to land
        var progress = _notifications.Where(n => (string?)n["method"] == "JobProgress" && (string?)n["params"]!["jobId"] == jobId).ToList();
        Assert.Equal(3, progress.Count);
        Assert.Equal("step 1/3", (string?)progress[0]["params"]!["stage"]);
        Assert.Contains(_notifications, n => (string?)n["method"] == "JobCompleted" && (string?)n["params"]!["state"] == "done");
    }

    [Fact]
    public async Task Errors_have_stable_codes_and_data_and_the_host_keeps_serving()
    {
        var unknown = await Send("""{"jsonrpc":"2.0","id":1,"method":"Explode"}""", 1);
        Assert.Equal(-32601, (int)unknown["error"]!["code"]!);

        var relative = await Send("""{"jsonrpc":"2.0","id":2,"method":"Balance","params":{"inputPath":"in.jpg","outputPath":"/tmp/o.jpg"}}""", 2);
        Assert.Equal(1000 + (int)BridgeErrorCode.InvalidArgument, (int)relative["error"]!["code"]!);
        Assert.Equal("InvalidArgument", (string?)relative["error"]!["data"]!["code"]);
        Assert.Contains("absolute path", (string?)relative["error"]!["message"]);

        var notFound = await Send("""{"jsonrpc":"2.0","id":3,"method":"GetJob","params":{"jobId":"job-nope"}}""", 3);
        Assert.Equal(1002, (int)notFound["error"]!["code"]!);
        Assert.Equal("NotFound", (string?)notFound["error"]!["data"]!["code"]);

        var wrongType = await Send("""{"jsonrpc":"2.0","id":4,"method":"Wait","params":{"jobId":"x","timeoutMs":"soon"}}""", 4);
        Assert.NotNull(wrongType["error"]);

        // StreamJsonRpc alone would drop the session on these; the line guard answers them and goes on.
        var invalid = await Send("""{"foo":1,"id":7}""", 7);
        Assert.Equal(-32600, (int)invalid["error"]!["code"]!);
        var parse = await Send("this is not json", null);
        Assert.Equal(-32700, (int)parse["error"]!["code"]!);
        var batch = await Send("""[{"jsonrpc":"2.0","id":8,"method":"GetInfo"}]""", null);
        Assert.Equal(-32600, (int)batch["error"]!["code"]!);
        await _writer.WriteLineAsync("");
        var after = await Send("""{"jsonrpc":"2.0","id":5,"method":"GetInfo"}""", 5);
        Assert.Equal(FakeEngineService.Version, (string?)after["result"]!["version"]);
    }

    [Fact]
    public async Task The_host_returns_when_its_input_closes()
    {
        await Send("""{"jsonrpc":"2.0","id":1,"method":"GetInfo"}""", 1);
        _clientSide.Dispose();
        await _host.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Launching_a_process_that_is_not_an_engine_gives_Unavailable()
    {
        using var client = StdioEngineClient.Launch(new ProcessStartInfo("/bin/true"));
        var ex = await Assert.ThrowsAsync<BridgeException>(() => client.GetInfoAsync().WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal(BridgeErrorCode.Unavailable, ex.Code);

        var missing = Assert.Throws<BridgeException>(() => StdioEngineClient.Launch(new ProcessStartInfo(_dir.File("no-such-daemon"))));
        Assert.Equal(BridgeErrorCode.Unavailable, missing.Code);
    }

    [Fact]
    public async Task A_launched_process_speaks_to_the_client_over_its_stdio()
    {
        // A shell stands in for the daemon: it answers one request line with a canned response, then exits.
        string script = """
            read line
            id=$(printf '%s' "$line" | sed 's/.*"id":\([0-9]*\).*/\1/')
            printf '{"jsonrpc":"2.0","id":%s,"result":{"version":"sh-1","device":"cpu"}}\n' "$id"
            """;
        var psi = new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", script } };
        using var client = StdioEngineClient.Launch(psi);
        var info = await client.GetInfoAsync().WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal("sh-1", info.Version);
        Assert.Equal(EngineBusNames.ProtocolVersion, info.ProtocolVersion); // absent members take their defaults
    }

    public void Dispose()
    {
        _clientSide.Dispose();
        _service.Dispose();
        _dir.Dispose();
    }
}
