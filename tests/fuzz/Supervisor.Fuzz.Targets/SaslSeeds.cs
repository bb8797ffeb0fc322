using System.Text;
using Supervisor.DBus;

namespace Supervisor.Fuzz;

/// <summary>
/// The SASL seed corpus (tests/fuzz/corpus/sasl): what clients send from their first byte.
/// The handshakes of libdbus (AUTH EXTERNAL with the uid in hex), gdbus and sd-bus (AUTH
/// EXTERNAL, then an empty DATA), fd negotiation, BEGIN with messages pipelined behind it, and
/// the broken and hostile ones (no NUL, unknown commands, CANCEL and ERROR, a bare \n, a line
/// at the length limit, a message announcing more than it sends).
/// "30" is "0" in hex: root, who runs the fuzzer; as another user the server rejects it,
/// which is still a path worth running.
/// </summary>
public static class SaslSeeds
{
    public static IEnumerable<(string Name, byte[] Bytes)> All()
    {
        byte[] hello = Call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", 1);
        byte[] echo = Message.MethodCall(FuzzObject.Name, FuzzObject.Path, FuzzObject.Interface, "Echo", "v",
            new Variant(new Signature("a{sv}"), new Dictionary<string, Variant> { ["k"] = Variant.From(new[] { 1, 2 }) })).Serialize(2, out _);
        byte[] getAll = Message.MethodCall(FuzzObject.Name, FuzzObject.Path, "org.freedesktop.DBus.Properties", "GetAll", "s", FuzzObject.Interface).Serialize(3, out _);
        byte[] set = Message.MethodCall(FuzzObject.Name, FuzzObject.Path, "org.freedesktop.DBus.Properties", "Set", "ssv",
            FuzzObject.Interface, "Counter", Variant.From(5u)).Serialize(4, out _);
        byte[] introspect = Call(FuzzObject.Name, "/io/supervisor", "org.freedesktop.DBus.Introspectable", "Introspect", 5);
        byte[] addMatch = Message.MethodCall("org.freedesktop.DBus", new ObjectPath("/org/freedesktop/DBus"), "org.freedesktop.DBus", "AddMatch", "s",
            "type='signal',interface='io.supervisor.Fuzz1',arg0='x'").Serialize(6, out _);
        byte[] names = Call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ListNames", 7);
        byte[] ping = Call(FuzzObject.Name, "/", "org.freedesktop.DBus.Peer", "Ping", 8);
        byte[] unknown = Call(FuzzObject.Name, "/nowhere", "io.nowhere", "Nothing", 9);

        yield return ("libdbus-auth-external-hello", Concat(Ascii("\0AUTH EXTERNAL 30\r\nBEGIN\r\n"), hello));
        yield return ("gdbus-auth-data-exchange", Concat(Ascii("\0AUTH EXTERNAL\r\nDATA\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n"), hello, getAll));
        yield return ("sd-bus-pipelined-calls", Concat(Ascii("\0AUTH EXTERNAL 30\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n"), hello, echo, set, introspect, addMatch, names, ping, unknown));
        yield return ("auth-retry-after-rejection", Ascii("\0AUTH ANONYMOUS\r\nAUTH EXTERNAL 31303030\r\nAUTH EXTERNAL\r\nDATA 3\r\nCANCEL\r\nAUTH EXTERNAL 30\r\nBEGIN\r\n"));
        yield return ("error-and-cancel-in-every-state", Ascii("\0ERROR\r\nCANCEL\r\nAUTH EXTERNAL\r\nERROR \"no\"\r\nAUTH EXTERNAL 30\r\nERROR\r\nAUTH EXTERNAL 30\r\nCANCEL\r\n"));
        yield return ("unknown-commands", Ascii("\0HELLO\r\nBEGIN\r\nNEGOTIATE_UNIX_FD\r\nDATA\r\nAUTH\r\n\r\n"));
        yield return ("no-leading-nul", Ascii("AUTH EXTERNAL 30\r\nBEGIN\r\n"));
        yield return ("bare-newline", Ascii("\0AUTH EXTERNAL 30\n"));
        yield return ("line-at-length-limit", Ascii("\0AUTH EXTERNAL " + new string('3', ProtocolConstants.MaxAuthLineLength - 16) + "\r\n"));
        yield return ("non-ascii-in-line", Concat(Ascii("\0AUTH EXTERNAL "), Encoding.UTF8.GetBytes("ü"), Ascii("\r\n")));
        yield return ("message-longer-than-sent", Concat(Ascii("\0AUTH EXTERNAL 30\r\nBEGIN\r\n"), hello[..16]));
        // 16 bytes that announce a message of almost 8 MiB (the server's limit), then the end:
        // a framing that sized its buffer from the header would hold 8 MiB for them.
        yield return ("header-announcing-a-full-size-message", Concat(Ascii("\0AUTH EXTERNAL 30\r\nBEGIN\r\n"),
            Convert.FromHexString("6C010001" + "C0FF7F00" + "01000000" + "10000000")));
        yield return ("bad-message-after-begin", Concat(Ascii("\0AUTH EXTERNAL 30\r\nBEGIN\r\n"), hello, Ascii("lXXX0000000000000000")));
    }

    private static byte[] Call(string destination, string path, string @interface, string member, uint serial) =>
        Message.MethodCall(destination, new ObjectPath(path), @interface, member).Serialize(serial, out _);

    private static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
