using System.Diagnostics;
using LatentBalance.Bridge.Contract;

namespace LatentBalance.Bridge.DBus;

/// <summary>An incoming method call as seen by a <see cref="DBusServer"/> handler (arguments already signature-checked).</summary>
public sealed class DBusMethodCall
{
    internal DBusMethodCall(string member, string? sender, MessageReader args, CancellationToken cancellation)
    {
        Member = member;
        Sender = sender;
        Args = args;
        Cancellation = cancellation;
    }

    public string Member { get; }
    /// <summary>Unique bus name of the caller, e.g. ":1.7".</summary>
    public string? Sender { get; }
    /// <summary>Reader positioned at the first argument; only valid until the handler's task completes.</summary>
    public MessageReader Args { get; }
    /// <summary>Cancelled when the server shuts down.</summary>
    public CancellationToken Cancellation { get; }
}

/// <summary>
/// Exports one object (path + interface) on a <see cref="DBusConnection"/>: routes method calls by member to async
/// handlers on the thread pool (long work never blocks the loop thread; the reply is sent when the handler finishes),
/// checks argument signatures against the interface's XML, answers org.freedesktop.DBus.Introspectable.Introspect
/// (returning that XML) and org.freedesktop.DBus.Peer, turns exceptions into D-Bus error replies, and emits signals.
/// </summary>
public sealed class DBusServer : IDisposable
{
    private const string IntrospectableInterface = "org.freedesktop.DBus.Introspectable";
    private const string PeerInterface = "org.freedesktop.DBus.Peer";
    private const string IntrospectDocType =
        "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n";

    private readonly Dictionary<string, Method> _methods = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _shutdown = new();
    private int _inFlight;
    private bool _started;

    public DBusServer(DBusConnection connection, string objectPath, DBusInterface iface)
    {
        Names.CheckPath(objectPath);
        Names.CheckInterface(iface.Name);
        Connection = connection;
        ObjectPath = objectPath;
        Interface = iface;
    }

    public DBusConnection Connection { get; }
    public string ObjectPath { get; }
    public DBusInterface Interface { get; }
    public string InterfaceName => Interface.Name;

    /// <summary>Method calls being handled right now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>
    /// Registers a method of the XML; a call is handled only if its arguments have the XML's in signature.
    /// <paramref name="handler"/> returns the reply body writer (null for an empty reply);
    /// exceptions become error replies (<see cref="BridgeException"/> → org.latentbalance.Engine1.Error.&lt;Code&gt;).
    /// </summary>
    public void AddMethod(string member, Func<DBusMethodCall, Task<Action<MessageWriter>?>> handler)
    {
        if (_started) throw new InvalidOperationException("add methods before Start()");
        if (!Interface.Methods.TryGetValue(member, out var sig))
            throw new ArgumentException($"method '{member}' is not in the introspection XML of '{InterfaceName}'");
        _methods[member] = new Method(sig.In, handler);
    }

    public void Start()
    {
        _started = true;
        Connection.Start(HandleAsync);
    }

    /// <summary>Emits a signal from our object. Thread-safe. False if the connection is closed.</summary>
    public bool EmitSignal(string member, Action<MessageWriter> writeArgs)
    {
        var msg = DBusMessage.Signal(ObjectPath, InterfaceName, member);
        try
        {
            using (var w = msg.Writer()) writeArgs(w);
        }
        catch
        {
            msg.Dispose();
            throw;
        }
        return Connection.Send(msg);
    }

    private async Task HandleAsync(DBusMessage call)
    {
        Interlocked.Increment(ref _inFlight);
        DBusMessage? reply = null;
        try
        {
            reply = await BuildReplyAsync(call).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            reply = ErrorReply(call, ex);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            bool wantsReply = !call.NoReply;
            call.Dispose();
            if (reply is not null)
            {
                if (wantsReply) Connection.Send(reply); else reply.Dispose();
            }
        }
    }

    private async Task<DBusMessage> BuildReplyAsync(DBusMessage call)
    {
        string path = call.Path ?? "";
        string? iface = call.Interface;
        string member = call.Member ?? "";
        string signature = call.Signature;

        if (iface == PeerInterface)
        {
            return member switch
            {
                "Ping" => Expect(call, signature, "").CreateReturn(),
                "GetMachineId" => Reply(Expect(call, signature, ""), w => w.WriteString(MachineId())),
                _ => throw new DBusErrorException("org.freedesktop.DBus.Error.UnknownMethod", $"no method '{member}' in interface '{PeerInterface}'"),
            };
        }

        bool isOurs = path == ObjectPath;
        if (!isOurs)
        {
            string? child = ChildOf(path);
            if (child is not null && (iface is null || iface == IntrospectableInterface) && member == "Introspect")
                return Reply(Expect(call, signature, ""), w => w.WriteString(
                    $"{IntrospectDocType}<node>\n  <node name=\"{child}\"/>\n</node>\n"));
            throw new DBusErrorException("org.freedesktop.DBus.Error.UnknownObject", $"no object at path '{path}'");
        }

        if (iface == IntrospectableInterface || (iface is null && member == "Introspect" && !_methods.ContainsKey(member)))
        {
            if (member != "Introspect")
                throw new DBusErrorException("org.freedesktop.DBus.Error.UnknownMethod", $"no method '{member}' in interface '{IntrospectableInterface}'");
            return Reply(Expect(call, signature, ""), w => w.WriteString(Interface.Xml));
        }

        if (iface is not null && iface != InterfaceName)
            throw new DBusErrorException("org.freedesktop.DBus.Error.UnknownInterface", $"object '{ObjectPath}' has no interface '{iface}'");
        if (!_methods.TryGetValue(member, out var method))
            throw new DBusErrorException("org.freedesktop.DBus.Error.UnknownMethod", $"no method '{member}' in interface '{InterfaceName}'");

        Expect(call, signature, method.InSignature);
        using var reader = call.Reader();
        var write = await method.Handler(new DBusMethodCall(member, call.Sender, reader, _shutdown.Token)).ConfigureAwait(false);
        return write is null ? call.CreateReturn() : Reply(call, write);
    }

    private static DBusMessage Expect(DBusMessage call, string actual, string expected)
    {
        if (actual != expected)
            throw new DBusErrorException("org.freedesktop.DBus.Error.InvalidArgs",
                $"method '{call.Member}' takes arguments of signature '{expected}', got '{actual}'");
        return call;
    }

    private static DBusMessage Reply(DBusMessage call, Action<MessageWriter> write)
    {
        var reply = call.CreateReturn();
        try
        {
            using var w = reply.Writer();
            write(w);
            return reply;
        }
        catch
        {
            reply.Dispose();
            throw;
        }
    }

    private static DBusMessage? ErrorReply(DBusMessage call, Exception ex)
    {
        string name, text;
        switch (ex)
        {
            case DBusErrorException d: name = d.ErrorName; text = d.Message; break;
            case DBusSignatureException s: name = "org.freedesktop.DBus.Error.InvalidArgs"; text = s.Message; break;
            default:
                var b = BridgeException.From(ex);
                if (b.Code == BridgeErrorCode.Internal) Trace.TraceError($"D-Bus {call.Member} failed: {ex}");
                name = BridgeErrors.ToDBusName(b.Code);
                text = b.Message;
                break;
        }
        try { return call.CreateError(name, text); }
        catch (Exception inner)
        {
            Trace.TraceError($"cannot build error reply '{name}': {inner.Message}");
            return call.CreateError("org.freedesktop.DBus.Error.Failed", text);
        }
    }

    /// <summary>Name of the next path segment if <paramref name="path"/> is a proper ancestor of our object path.</summary>
    private string? ChildOf(string path)
    {
        string prefix = path == "/" ? "/" : path + "/";
        if (!ObjectPath.StartsWith(prefix, StringComparison.Ordinal) || ObjectPath.Length == prefix.Length) return null;
        string rest = ObjectPath[prefix.Length..];
        int slash = rest.IndexOf('/');
        return slash < 0 ? rest : rest[..slash];
    }

    private static string MachineId()
    {
        foreach (var f in new[] { "/etc/machine-id", "/var/lib/dbus/machine-id" })
        {
            try
            {
                string id = File.ReadAllText(f).Trim();
                if (id.Length == 32) return id;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        throw new DBusErrorException("org.freedesktop.DBus.Error.FileNotFound", "no machine id on this host");
    }

    /// <summary>Cancels in-flight handlers' tokens and closes the connection (queued replies are flushed first).</summary>
    public void Dispose()
    {
        _shutdown.Cancel();
        Connection.Dispose();
    }

    private sealed record Method(string InSignature, Func<DBusMethodCall, Task<Action<MessageWriter>?>> Handler);
}
