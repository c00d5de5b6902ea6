using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.DBus;
using LatentBalance.Bridge.Tests.Support;

namespace LatentBalance.Bridge.Tests.DBus;

/// <summary>
/// org.latentbalance.Engine1.xml is the one source of the engine's D-Bus signatures (<see cref="DBusInterface.Engine"/>;
/// the host checks each call against it). These tests check everything else against it, reading the signatures from the
/// XML, never from a copy: the codec's encodings, the host's replies and signals on a real bus, and every call of the
/// GIMP plug-in. Each check is also run on edited copies of the XML and of the plug-in, and must then fail.
/// </summary>
public sealed class IntrospectionXmlTests(DBusEngineFixture fx) : IClassFixture<DBusEngineFixture>, IDisposable
{
    private const string PluginFile = "plugins/gimp/latent-color-balance/latent-color-balance.py";
    private readonly TempDir _dir = new();

    // ---------------------------------------------------------------- the codec

    /// <summary>What the codec writes for a member ("in"/"out" of a method, "signal"), and how it reads it back.</summary>
    private sealed record Encoding(string Member, string Direction, object Sample, Action<MessageWriter> Write, Func<MessageReader, object> Read);

    private static readonly EngineInfo Info = new()
    {
        Version = "9.8.7", Device = "cuda:0", ModelsLoaded = ["vae", "balancer"], Filters = ["latent-balance", "grey-world"],
        ProtocolVersion = 3, Details = new Dictionary<string, string> { ["k"] = "v", ["ünïcode"] = "✓" },
    };
    private static readonly List<FilterDescriptor> Filters =
    [
        new()
        {
            Id = "latent-balance", Label = "Latent", Description = "d",
            Parameters =
            [
                new() { Name = "strength", Type = ParameterType.Double, Default = "1", Min = 0, Max = 1.5, Description = "s" },
                new() { Name = "reference", Type = ParameterType.Path, Default = null, Description = "r" },
            ],
        },
        new() { Id = "grey-world", Label = "Grey", Description = "" },
    ];
    private static readonly BalanceRequest Balance = new()
    {
        InputPath = "/a/in.tif", OutputPath = "/a/out.tif", FilterId = "grey-world",
        Parameters = new Dictionary<string, string> { ["strength"] = "0.5" }, LutPath = "/a/x.cube", Overwrite = true,
    };
    private static readonly ExportCubeRequest Cube = new()
    {
        InputPath = "/a/in.tif", CubePath = "/a/x.cube", FilterId = "latent-balance",
        Parameters = new Dictionary<string, string> { ["iterations"] = "2" }, LutSize = 17, Overwrite = true,
    };
    private static readonly JobResult Result = new()
    {
        JobId = "job-1", State = JobState.Failed, OutputPath = "/a/out.tif", ErrorCode = BridgeErrorCode.BadImage, Error = "bad", ElapsedMs = 1234,
        Details = new Dictionary<string, string> { [JobDetails.Width] = "6000", [JobDetails.Notes] = "two pages\nthe first balanced" },
    };
    private static readonly JobStatus Status = new()
    {
        JobId = "job-1", State = JobState.Running, Progress = 0.25, Stage = "fit", OutputPath = "/a/out.tif", ErrorCode = null, Error = null,
    };
    private static readonly JobProgressEventArgs Progress = new() { JobId = "job-1", Progress = 0.5, Stage = "decode" };
    private static readonly JobCompletedEventArgs Completed = new()
    {
        JobId = "job-1", State = JobState.Cancelled, OutputPath = "/a/out.tif", ErrorCode = BridgeErrorCode.Cancelled, Error = "stop",
    };

    /// <summary>Every encoding the codec makes. A method's in or out that is not here is written inline (one job id, one
    /// bool) by the host or client and is checked on the bus below.</summary>
    private static readonly Encoding[] CodecEncodings =
    [
        new("GetInfo", "out", Info, w => EngineDBusCodec.Write(w, Info), EngineDBusCodec.ReadEngineInfo),
        new("ListFilters", "out", Filters, w => EngineDBusCodec.Write(w, Filters), EngineDBusCodec.ReadFilters),
        new("Balance", "in", Balance, w => EngineDBusCodec.Write(w, Balance), EngineDBusCodec.ReadBalanceRequest),
        new("ExportCube", "in", Cube, w => EngineDBusCodec.Write(w, Cube), EngineDBusCodec.ReadExportCubeRequest),
        new("Wait", "out", Result, w => EngineDBusCodec.Write(w, Result), r => EngineDBusCodec.ReadJobResult(r, Result.JobId)),
        new("GetJob", "out", Status, w => EngineDBusCodec.Write(w, Status), r => EngineDBusCodec.ReadJobStatus(r, Status.JobId)),
        new("JobProgress", "signal", Progress, w => EngineDBusCodec.Write(w, Progress), EngineDBusCodec.ReadJobProgress),
        new("JobCompleted", "signal", Completed, w => EngineDBusCodec.Write(w, Completed), EngineDBusCodec.ReadJobCompleted),
    ];

    private static string? XmlSignature(DBusInterface xml, string member, string direction) => direction switch
    {
        "in" => xml.Methods.TryGetValue(member, out var m) ? m.In : null,
        "out" => xml.Methods.TryGetValue(member, out var m) ? m.Out : null,
        _ => xml.Signals.GetValueOrDefault(member),
    };

    /// <summary>Writes each sample with the codec into a real libdbus message, compares the message's signature with the
    /// XML's and reads the sample back (all of it, and nothing left over). Returns the disagreements.</summary>
    private static List<string> CodecMismatches(DBusInterface xml)
    {
        var problems = new List<string>();
        foreach (var e in CodecEncodings)
        {
            string? expected = XmlSignature(xml, e.Member, e.Direction);
            using var m = e.Direction == "signal"
                ? DBusMessage.Signal(EngineBusNames.ObjectPath, xml.Name, e.Member)
                : DBusMessage.MethodCall(EngineBusNames.BusName, EngineBusNames.ObjectPath, xml.Name, e.Member);
            using (var w = m.Writer()) e.Write(w);
            if (m.Signature != expected)
                problems.Add($"{e.Member} {e.Direction}: the codec writes '{m.Signature}', the XML says '{expected ?? "(no such member)"}'");
            using var r = m.Reader();
            object back;
            try { back = e.Read(r); }
            catch (DBusSignatureException ex) { problems.Add($"{e.Member} {e.Direction}: the codec cannot read what it writes: {ex.Message}"); continue; }
            if (!r.AtEnd) problems.Add($"{e.Member} {e.Direction}: the codec's reader leaves arguments unread");
            string want = JsonSerializer.Serialize(e.Sample, e.Sample.GetType()), got = JsonSerializer.Serialize(back, back.GetType());
            if (want != got) problems.Add($"{e.Member} {e.Direction}: round trip changed {want} into {got}");
        }
        return problems;
    }

    [Fact]
    public void The_codec_writes_exactly_the_xml_signatures_and_reads_them_back()
    {
        var problems = CodecMismatches(DBusInterface.Engine);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Equal(DBusInterface.Engine.Signals.Keys.Order(), CodecEncodings.Where(e => e.Direction == "signal").Select(e => e.Member).Order());
    }

    /// <summary>Edits a copy of the XML: adds one string arg to one member's in, out or signal args.</summary>
    private static DBusInterface WithExtraArg(string member, string direction)
    {
        var doc = XDocument.Parse(DBusInterface.Engine.Xml);
        var element = doc.Root!.Elements("interface").Single(i => (string?)i.Attribute("name") == EngineBusNames.Interface)
            .Elements(direction == "signal" ? "signal" : "method").Single(x => (string?)x.Attribute("name") == member);
        var arg = new XElement("arg", new XAttribute("name", "extra"), new XAttribute("type", "s"));
        if (direction != "signal") arg.Add(new XAttribute("direction", direction));
        element.Add(arg);
        return DBusInterface.Parse(doc.ToString(), EngineBusNames.Interface);
    }

    [Fact]
    public void The_codec_check_fails_when_only_the_xml_is_edited()
    {
        foreach (var e in CodecEncodings)
        {
            var problems = CodecMismatches(WithExtraArg(e.Member, e.Direction));
            Assert.Contains(problems, p => p.StartsWith($"{e.Member} {e.Direction}: the codec writes", StringComparison.Ordinal));
        }
    }

    // ---------------------------------------------------------------- the host, on a real bus

    /// <summary>A sample value for each in arg of the XML, by the arg's name.</summary>
    private Dictionary<string, object> InArgSamples(string jobId) => new()
    {
        ["input_path"] = _dir.Input(), ["output_path"] = _dir.File("out.jpg"), ["cube_path"] = _dir.File("out.cube"),
        ["filter_id"] = "", ["parameters"] = new Dictionary<string, string> { ["steps"] = "2", ["delay_ms"] = "5" },
        ["lut_path"] = "", ["overwrite"] = true, ["lut_size"] = 0, ["job_id"] = jobId, ["timeout_ms"] = 10_000,
    };

    private static void WriteArg(MessageWriter w, string member, string name, string type, object value)
    {
        switch (type)
        {
            case "s": w.WriteString((string)value); break;
            case "b": w.WriteBoolean((bool)value); break;
            case "i": w.WriteInt32((int)value); break;
            case "a{ss}": w.WriteStringDictionary((Dictionary<string, string>)value); break;
            default: Assert.Fail($"{member}: the test cannot write an in arg '{name}' of type '{type}' yet: add it to WriteArg"); break;
        }
    }

    /// <summary>Calls <paramref name="member"/> on the host with the XML's in args (sample values by arg name), plus
    /// <paramref name="extra"/> string args. Returns the reply (the caller disposes it).</summary>
    private async Task<DBusMessage> RawCall(DBusConnection conn, string member, string jobId, int extra = 0)
    {
        var samples = InArgSamples(jobId);
        var call = DBusMessage.MethodCall(EngineBusNames.BusName, EngineBusNames.ObjectPath, EngineBusNames.Interface, member);
        using (var w = call.Writer())
        {
            foreach (var arg in XDocument.Parse(DBusInterface.Engine.Xml).Descendants("method")
                         .Single(m => (string?)m.Attribute("name") == member && (string?)m.Parent!.Attribute("name") == EngineBusNames.Interface)
                         .Elements("arg").Where(a => ((string?)a.Attribute("direction") ?? "in") == "in"))
            {
                string name = (string)arg.Attribute("name")!;
                Assert.True(samples.TryGetValue(name, out var value), $"{member}: no sample value for the in arg '{name}': add it to InArgSamples");
                WriteArg(w, member, name, (string)arg.Attribute("type")!, value!);
            }
            for (int i = 0; i < extra; i++) w.WriteString("extra");
        }
        return await conn.CallAsync(call, 30_000);
    }

    [Fact]
    public async Task The_host_replies_and_signals_with_the_xml_signatures_and_refuses_other_arguments()
    {
        var xml = DBusInterface.Engine;
        var signals = new ConcurrentQueue<(string Member, string Signature)>();
        using var conn = DBusConnection.OpenSession(fx.Bus.Address);
        conn.AddMatch($"type='signal',interface='{EngineBusNames.Interface}',path='{EngineBusNames.ObjectPath}'");
        conn.Start(onSignal: m =>
        {
            if (m.Interface == EngineBusNames.Interface) signals.Enqueue((m.Member ?? "", m.Signature)); // not the bus's NameAcquired
        });

        string jobId;
        using (var first = await RawCall(conn, "Balance", ""))
        using (var r = first.Reader())
            jobId = r.ReadString();
        foreach (var (member, sig) in xml.Methods)
        {
            using (var reply = await RawCall(conn, member, jobId))
                Assert.True(reply.Signature == sig.Out, $"{member} replies '{reply.Signature}', the XML says '{sig.Out}'");
            var ex = await Assert.ThrowsAsync<DBusErrorException>(() => RawCall(conn, member, jobId, extra: 1));
            Assert.Equal("org.freedesktop.DBus.Error.InvalidArgs", ex.ErrorName);
            Assert.Contains($"'{sig.In}'", ex.Message);
        }

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!xml.Signals.Keys.All(k => signals.Any(s => s.Member == k)) && DateTime.UtcNow < deadline) await Task.Delay(20);
        foreach (var name in xml.Signals.Keys) Assert.Contains(signals, s => s.Member == name);
        foreach (var (member, signature) in signals)
            Assert.True(signature == xml.Signals[member], $"signal {member} has '{signature}', the XML says '{xml.Signals[member]}'");
    }

    // ---------------------------------------------------------------- the GIMP plug-in

    /// <summary>One <c>self.call(method, args, reply_type, …)</c> of the plug-in; the type strings' offsets in the source.</summary>
    private sealed record PluginCall(string Method, string? ArgType, int ArgTypeAt, string ReplyType, int ReplyTypeAt);

    private static readonly Regex StringLiteral = new("^\"([^\"]*)\"$");
    private static readonly Regex VariantType = new("\\GGLib\\.Variant\\(\"([^\"]*)\"");

    /// <summary>Reads every <c>self.call(…)</c> of the plug-in: the method name, the GLib.Variant type of its arguments (None:
    /// no arguments; a name: the <c>name = GLib.Variant("…", …)</c> before it) and the reply type.</summary>
    private static List<PluginCall> ParsePluginCalls(string source)
    {
        var calls = new List<PluginCall>();
        foreach (Match call in Regex.Matches(source, @"self\.call\("))
        {
            var args = TopLevelArgs(source, call.Index + call.Length);
            Assert.True(args.Count >= 3, $"{PluginFile}: a call at offset {call.Index} has {args.Count} arguments, expected (method, args, reply_type, ...)");
            var method = StringLiteral.Match(args[0].Text);
            var reply = StringLiteral.Match(args[2].Text);
            Assert.True(method.Success && reply.Success, $"{PluginFile}: cannot read the method name or reply type of the call at offset {call.Index}");
            (string? argType, int argTypeAt) = (null, -1);
            if (args[1].Text != "None")
            {
                var variant = VariantType.Match(source, args[1].At) is { Success: true } direct ? direct
                    : Regex.Matches(source[..call.Index], $@"\b{Regex.Escape(args[1].Text)}\s*=\s*GLib\.Variant\(""([^""]*)""").LastOrDefault();
                Assert.True(variant is { Success: true }, $"{PluginFile}: cannot find the GLib.Variant type of '{args[1].Text}' in the {method.Groups[1].Value} call");
                (argType, argTypeAt) = (variant!.Groups[1].Value, variant.Groups[1].Index);
            }
            calls.Add(new PluginCall(method.Groups[1].Value, argType, argTypeAt, reply.Groups[1].Value, args[2].At + 1));
        }
        return calls;
    }

    /// <summary>The comma-separated arguments of a call whose '(' ends just before <paramref name="start"/>, with their offsets.</summary>
    private static List<(string Text, int At)> TopLevelArgs(string s, int start)
    {
        var args = new List<(string, int)>();
        int depth = 0, from = start;
        for (int i = start; i < s.Length; i++)
        {
            char c = s[i];
            if (c is '"' or '\'') { i = s.IndexOf(c, i + 1) is >= 0 and var end ? end : throw new FormatException($"{PluginFile}: unclosed string"); continue; }
            if (c is '(' or '[' or '{') depth++;
            else if (c is ')' or ']' or '}' && depth > 0) depth--;
            else if (c == ',' && depth == 0 || c == ')')
            {
                string text = s[from..i];
                args.Add((text.Trim(), from + (text.Length - text.TrimStart().Length)));
                if (c == ')') return args;
                from = i + 1;
            }
        }
        throw new FormatException($"{PluginFile}: unclosed call at offset {start}");
    }

    private static List<string> PluginMismatches(DBusInterface xml, string source)
    {
        var problems = new List<string>();
        foreach (var c in ParsePluginCalls(source))
        {
            if (!xml.Methods.TryGetValue(c.Method, out var sig)) { problems.Add($"{c.Method}: not a method of the XML"); continue; }
            if ((c.ArgType ?? "()") != $"({sig.In})") problems.Add($"{c.Method} in: the plug-in sends '{c.ArgType ?? "None"}', the XML says '({sig.In})'");
            if (c.ReplyType != $"({sig.Out})") problems.Add($"{c.Method} out: the plug-in expects '{c.ReplyType}', the XML says '({sig.Out})'");
        }
        return problems;
    }

    [Fact]
    public void Every_call_of_the_GIMP_plugin_matches_the_xml()
    {
        string source = File.ReadAllText(DBusEngineHostTests.RepoFile(PluginFile));
        var calls = ParsePluginCalls(source);
        Assert.NotEmpty(calls);
        Assert.Single(Regex.Matches(source, @"\bcall_sync\(")); // every bus call goes through EngineClient.call
        Assert.Contains($"INTERFACE = \"{EngineBusNames.Interface}\"", source);
        Assert.Contains($"OBJECT_PATH = \"{EngineBusNames.ObjectPath}\"", source);
        Assert.Contains($"BUS_NAME = \"{EngineBusNames.BusName}\"", source);
        var problems = PluginMismatches(DBusInterface.Engine, source);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void The_plugin_check_fails_when_only_one_side_is_edited()
    {
        string source = File.ReadAllText(DBusEngineHostTests.RepoFile(PluginFile));
        foreach (var c in ParsePluginCalls(source))
        {
            // The XML edited: one more out arg, and one more in arg.
            Assert.Contains(PluginMismatches(WithExtraArg(c.Method, "out"), source), p => p.StartsWith($"{c.Method} out:", StringComparison.Ordinal));
            Assert.Contains(PluginMismatches(WithExtraArg(c.Method, "in"), source), p => p.StartsWith($"{c.Method} in:", StringComparison.Ordinal));
            // The plug-in edited: its reply type, and its argument type, one more 's'.
            int replyEnd = c.ReplyTypeAt + c.ReplyType.Length - 1;
            Assert.Contains(PluginMismatches(DBusInterface.Engine, source.Insert(replyEnd, "s")), p => p.StartsWith($"{c.Method} out:", StringComparison.Ordinal));
            if (c.ArgType is not null)
            {
                int argEnd = c.ArgTypeAt + c.ArgType.Length - 1;
                Assert.Equal(c.ArgType, source.Substring(c.ArgTypeAt, c.ArgType.Length));
                Assert.Contains(PluginMismatches(DBusInterface.Engine, source.Insert(argEnd, "s")), p => p.StartsWith($"{c.Method} in:", StringComparison.Ordinal));
            }
        }
    }

    public void Dispose() => _dir.Dispose();
}
