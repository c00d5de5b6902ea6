using System.Reflection;
using System.Xml.Linq;
using LatentBalance.Bridge.Contract;

namespace LatentBalance.Bridge.DBus;

/// <summary>
/// One interface of an introspection XML: the XML itself and, parsed from it, each method's in and out signatures and
/// each signal's. <see cref="Engine"/> (the embedded org.latentbalance.Engine1.xml) is the one source of the engine's
/// signatures: the host serves it verbatim (Introspect) and checks each call's arguments against it, the client checks
/// signals against it, and tests check the codec and the GIMP plug-in against it.
/// </summary>
public sealed record DBusInterface(string Name, string Xml,
    IReadOnlyDictionary<string, (string In, string Out)> Methods, IReadOnlyDictionary<string, string> Signals)
{
    public static DBusInterface Engine { get; } = Parse(EmbeddedXml("org.latentbalance.Engine1.xml"), EngineBusNames.Interface);

    public static DBusInterface Parse(string xml, string name)
    {
        var iface = XDocument.Parse(xml).Root?.Elements("interface").SingleOrDefault(i => (string?)i.Attribute("name") == name)
            ?? throw new FormatException($"the introspection XML declares no interface '{name}'");
        // A method's arg is "in" unless it says otherwise; a signal's args have no direction (all are sent).
        static string Sig(XElement member, string? direction) => string.Concat(member.Elements("arg")
            .Where(a => direction is null || ((string?)a.Attribute("direction") ?? "in") == direction)
            .Select(a => (string?)a.Attribute("type") ?? throw new FormatException($"an arg of '{member.Attribute("name")}' has no type")));
        return new DBusInterface(name, xml,
            iface.Elements("method").ToDictionary(m => (string)m.Attribute("name")!, m => (Sig(m, "in"), Sig(m, "out"))),
            iface.Elements("signal").ToDictionary(s => (string)s.Attribute("name")!, s => Sig(s, null)));
    }

    private static string EmbeddedXml(string resource)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"embedded resource {resource} is missing from LatentBalance.Bridge");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
