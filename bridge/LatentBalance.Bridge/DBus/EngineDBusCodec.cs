using System.Globalization;
using LatentBalance.Bridge.Contract;

namespace LatentBalance.Bridge.DBus;

/// <summary>
/// The D-Bus marshalling of the contract types, shared by <see cref="DBusEngineHost"/> and <see cref="DBusEngineClient"/>
/// so that both sides agree by construction. The signatures are those of org.latentbalance.Engine1.xml
/// (<see cref="DBusInterface.Engine"/>); IntrospectionXmlTests checks that this codec writes exactly them.
/// </summary>
public static class EngineDBusCodec
{
    // ---- EngineInfo: (s version, s device, as models, as filters, u protocol, a{ss} details) ----
    public static void Write(MessageWriter w, EngineInfo info) => w
        .WriteString(info.Version)
        .WriteString(info.Device)
        .WriteStringArray(info.ModelsLoaded)
        .WriteStringArray(info.Filters)
        .WriteUInt32((uint)Math.Max(0, info.ProtocolVersion))
        .WriteStringDictionary(info.Details);

    public static EngineInfo ReadEngineInfo(MessageReader r) => new()
    {
        Version = r.ReadString(),
        Device = r.ReadString(),
        ModelsLoaded = r.ReadStringArray(),
        Filters = r.ReadStringArray(),
        ProtocolVersion = (int)r.ReadUInt32(),
        Details = r.ReadStringDictionary(),
    };

    // ---- Filters: a(s id, s label, s description, a(s name, s type, b required, s default, s min, s max, s description)) ----
    public static void Write(MessageWriter w, IReadOnlyList<FilterDescriptor> filters) =>
        w.WriteArray("(sssa(ssbssss))", a =>
        {
            foreach (var f in filters)
                a.WriteStruct(s => s
                    .WriteString(f.Id).WriteString(f.Label).WriteString(f.Description)
                    .WriteArray("(ssbssss)", pa =>
                    {
                        foreach (var p in f.Parameters)
                            pa.WriteStruct(ps => ps
                                .WriteString(p.Name).WriteString(WireNames.ToWire(p.Type)).WriteBoolean(p.Default is null).WriteString(p.Default ?? "")
                                .WriteString(Num(p.Min)).WriteString(Num(p.Max)).WriteString(p.Description));
                    }));
        });

    public static List<FilterDescriptor> ReadFilters(MessageReader r) =>
        r.ReadArray(e => e.ReadStruct(s => new FilterDescriptor
        {
            Id = s.ReadString(),
            Label = s.ReadString(),
            Description = s.ReadString(),
            Parameters = s.ReadArray(pe => pe.ReadStruct(ps =>
            {
                string name = ps.ReadString();
                var type = WireNames.ParseParameterType(ps.ReadString());
                bool required = ps.ReadBoolean();
                string dflt = ps.ReadString();
                return new ParameterDescriptor
                {
                    Name = name,
                    Type = type,
                    Default = required ? null : dflt,
                    Min = ParseNum(ps.ReadString()),
                    Max = ParseNum(ps.ReadString()),
                    Description = ps.ReadString(),
                };
            })),
        }));

    // ---- Balance(s input, s output, s filter, a{ss} params, s lut, b overwrite) ----
    public static void Write(MessageWriter w, BalanceRequest q) => w
        .WriteString(q.InputPath).WriteString(q.OutputPath).WriteString(q.FilterId ?? "")
        .WriteStringDictionary(q.Parameters).WriteString(q.LutPath ?? "").WriteBoolean(q.Overwrite);

    public static BalanceRequest ReadBalanceRequest(MessageReader r) => new()
    {
        InputPath = r.ReadString(),
        OutputPath = r.ReadString(),
        FilterId = r.ReadString() is { Length: > 0 } f ? f : FilterIds.LatentBalance,
        Parameters = r.ReadStringDictionary(),
        LutPath = NullIfEmpty(r.ReadString()),
        Overwrite = r.ReadBoolean(),
    };

    // ---- ExportCube(s input, s cube, s filter, a{ss} params, i lut_size, b overwrite) ----
    public static void Write(MessageWriter w, ExportCubeRequest q) => w
        .WriteString(q.InputPath).WriteString(q.CubePath).WriteString(q.FilterId ?? "")
        .WriteStringDictionary(q.Parameters).WriteInt32(q.LutSize).WriteBoolean(q.Overwrite);

    public static ExportCubeRequest ReadExportCubeRequest(MessageReader r) => new()
    {
        InputPath = r.ReadString(),
        CubePath = r.ReadString(),
        FilterId = r.ReadString() is { Length: > 0 } f ? f : FilterIds.LatentBalance,
        Parameters = r.ReadStringDictionary(),
        LutSize = r.ReadInt32(),
        Overwrite = r.ReadBoolean(),
    };

    // ---- Wait -> (s state, s output, s error_code, s error, t elapsed_ms, a{ss} details) ----
    public static void Write(MessageWriter w, JobResult x) => w
        .WriteString(WireNames.ToWire(x.State)).WriteString(x.OutputPath).WriteString(Code(x.ErrorCode))
        .WriteString(x.Error ?? "").WriteUInt64((ulong)Math.Max(0, x.ElapsedMs))
        .WriteStringDictionary(x.Details);

    public static JobResult ReadJobResult(MessageReader r, string jobId) => new()
    {
        JobId = jobId,
        State = WireNames.ParseJobState(r.ReadString()),
        OutputPath = r.ReadString(),
        ErrorCode = ParseCode(r.ReadString()),
        Error = NullIfEmpty(r.ReadString()),
        ElapsedMs = (long)Math.Min(r.ReadUInt64(), long.MaxValue),
        Details = r.ReadStringDictionary(),
    };

    // ---- GetJob -> (s state, d progress, s stage, s output, s error_code, s error) ----
    public static void Write(MessageWriter w, JobStatus x) => w
        .WriteString(WireNames.ToWire(x.State)).WriteDouble(x.Progress).WriteString(x.Stage)
        .WriteString(x.OutputPath).WriteString(Code(x.ErrorCode)).WriteString(x.Error ?? "");

    public static JobStatus ReadJobStatus(MessageReader r, string jobId) => new()
    {
        JobId = jobId,
        State = WireNames.ParseJobState(r.ReadString()),
        Progress = r.ReadDouble(),
        Stage = r.ReadString(),
        OutputPath = r.ReadString(),
        ErrorCode = ParseCode(r.ReadString()),
        Error = NullIfEmpty(r.ReadString()),
    };

    // ---- Signals ----
    public static void Write(MessageWriter w, JobProgressEventArgs e) =>
        w.WriteString(e.JobId).WriteDouble(e.Progress).WriteString(e.Stage);

    public static JobProgressEventArgs ReadJobProgress(MessageReader r) => new()
    {
        JobId = r.ReadString(), Progress = r.ReadDouble(), Stage = r.ReadString(),
    };

    public static void Write(MessageWriter w, JobCompletedEventArgs e) => w
        .WriteString(e.JobId).WriteString(WireNames.ToWire(e.State)).WriteString(e.OutputPath)
        .WriteString(Code(e.ErrorCode)).WriteString(e.Error ?? "");

    public static JobCompletedEventArgs ReadJobCompleted(MessageReader r) => new()
    {
        JobId = r.ReadString(),
        State = WireNames.ParseJobState(r.ReadString()),
        OutputPath = r.ReadString(),
        ErrorCode = ParseCode(r.ReadString()),
        Error = NullIfEmpty(r.ReadString()),
    };

    private static string Code(BridgeErrorCode? c) => c is { } v ? BridgeErrors.ToWire(v) : "";
    private static BridgeErrorCode? ParseCode(string s) =>
        s.Length == 0 ? null : BridgeErrors.TryParseWire(s, out var c) ? c : BridgeErrorCode.Internal;
    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;
    private static string Num(double? d) => d is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "";
    private static double? ParseNum(string s) =>
        s.Length == 0 ? null : double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d
        : throw new BridgeException(BridgeErrorCode.InvalidArgument, $"parameter bound '{s}' is not a number");
}
