using System.IO.Pipelines;
using System.Text;
using System.Text.Json;

namespace LatentBalance.Bridge.Rpc;

/// <summary>
/// Sits between the raw input and StreamJsonRpc, which ends the whole session on a single malformed message.
/// Each input line that is a JSON-RPC 2.0 object is passed on; anything else is answered here with a standard
/// error (-32700 Parse error, -32600 Invalid Request) and dropped, so a script's typo does not kill the daemon.
/// Blank lines are ignored.
/// </summary>
internal sealed class LineGuard
{
    private readonly Stream _input;
    private readonly SerializedOutput _output;
    private readonly Pipe _pipe = new();

    public LineGuard(Stream input, SerializedOutput output)
    {
        _input = input;
        _output = output;
    }

    /// <summary>What StreamJsonRpc reads: only well-formed lines.</summary>
    public Stream RpcInput => _pipe.Reader.AsStream();

    public async Task PumpAsync(CancellationToken cancellationToken)
    {
        Exception? failure = null;
        try
        {
            using var reader = new StreamReader(_input, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false, leaveOpen: true);
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                var (ok, code, reason, id) = Check(line);
                if (ok)
                {
                    await _pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await _output.WriteLineAtomicAsync(ErrorLine(id, code, reason), cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) { }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            failure = ex;
        }
        finally
        {
            await _pipe.Writer.CompleteAsync(failure).ConfigureAwait(false);
        }
    }

    private static (bool Ok, int Code, string Reason, JsonElement? Id) Check(string line)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            return (false, -32700, $"Parse error: {ex.Message}", null);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return (false, -32600, "Invalid Request: a message must be one JSON object per line (batches are not supported)", null);
            JsonElement? id = root.TryGetProperty("id", out var idEl) && idEl.ValueKind is JsonValueKind.String or JsonValueKind.Number
                ? idEl.Clone() : null;
            if (!root.TryGetProperty("jsonrpc", out var v) || v.ValueKind != JsonValueKind.String || v.GetString() != "2.0")
                return (false, -32600, "Invalid Request: \"jsonrpc\" must be \"2.0\"", id);
            bool isRequest = root.TryGetProperty("method", out var m) && m.ValueKind == JsonValueKind.String;
            bool isResponse = id is not null && (root.TryGetProperty("result", out _) || root.TryGetProperty("error", out _));
            if (!isRequest && !isResponse)
                return (false, -32600, "Invalid Request: needs a string \"method\"", id);
            if (root.TryGetProperty("params", out var p) && p.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array))
                return (false, -32600, "Invalid Request: \"params\" must be an object or an array", id);
            return (true, 0, "", id);
        }
    }

    private static byte[] ErrorLine(JsonElement? id, int code, string message)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("jsonrpc", "2.0");
            w.WritePropertyName("id");
            if (id is { } i) i.WriteTo(w); else w.WriteNullValue();
            w.WriteStartObject("error");
            w.WriteNumber("code", code);
            w.WriteString("message", message);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }
}
