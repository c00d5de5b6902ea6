using System.Text.Json;

namespace LatentBalance.Daemon;

/// <summary>
/// Structured log: one compact JSON object per line (<c>ts</c>, <c>level</c>, <c>event</c>, then fields) on
/// stderr, so journald and scripts can read it and stdout stays free for the stdio transport.
/// </summary>
public sealed class DaemonLog
{
    private readonly TextWriter _writer;
    private readonly object _gate = new();

    public DaemonLog(TextWriter? writer = null) => _writer = writer ?? Console.Error;

    public static DaemonLog Silent { get; } = new(TextWriter.Null);

    public void Info(string evt, params (string Key, object? Value)[] fields) => Write("info", evt, fields);
    public void Warn(string evt, params (string Key, object? Value)[] fields) => Write("warn", evt, fields);
    public void Error(string evt, params (string Key, object? Value)[] fields) => Write("error", evt, fields);

    public void Write(string level, string evt, (string Key, object? Value)[] fields)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("ts", DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("level", level);
            json.WriteString("event", evt);
            foreach (var (key, value) in fields)
            {
                json.WritePropertyName(key);
                switch (value)
                {
                    case null: json.WriteNullValue(); break;
                    case string s: json.WriteStringValue(s); break;
                    case bool b: json.WriteBooleanValue(b); break;
                    case int i: json.WriteNumberValue(i); break;
                    case long l: json.WriteNumberValue(l); break;
                    case double d when double.IsFinite(d): json.WriteNumberValue(Math.Round(d, 3)); break;
                    case IEnumerable<string> list:
                        json.WriteStartArray();
                        foreach (var item in list) json.WriteStringValue(item);
                        json.WriteEndArray();
                        break;
                    default: json.WriteStringValue(value.ToString()); break;
                }
            }
            json.WriteEndObject();
        }
        var line = System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        lock (_gate)
        {
            try { _writer.WriteLine(line); _writer.Flush(); }
            catch (IOException) { } // stderr closed: logging must never take the daemon down
            catch (ObjectDisposedException) { }
        }
    }
}
