using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using Supervisor.DBus;

namespace Supervisor.Fuzz;

/// <summary>
/// The D-Bus seed corpus (tests/fuzz/corpus/dbus), written with our own MessageWriter and, for
/// headers the writer never produces, field by field. Shaped like the cases systemd keeps for
/// its fuzz-bus-message: calls, signals, returns and errors; every basic type; arrays, structs,
/// variants and dicts, nested; unix fds; both byte orders; long names, the longest signature,
/// deep nesting; unknown and reordered header fields, header padding, a future message type.
/// </summary>
public static class DBusSeeds
{
    private const string Bus = "org.freedesktop.DBus";
    private static readonly ObjectPath BusPath = new("/org/freedesktop/DBus");
    private const string Manager = "io.supervisor.Manager1";
    private static readonly ObjectPath ManagerPath = new("/io/supervisor/Supervisor1");

    /// <summary>Every seed by file name (without extension), in both byte orders where the name says so.</summary>
    public static IEnumerable<(string Name, byte[] Bytes)> All()
    {
        using var fd = File.OpenHandle("/dev/null");
        foreach (var (name, message) in Messages(fd))
        {
            yield return (name + "-le", message.Serialize(7, out _, bigEndian: false));
            yield return (name + "-be", message.Serialize(7, out _, bigEndian: true));
        }
        foreach (var bigEndian in new[] { false, true })
        {
            string order = bigEndian ? "be" : "le";
            yield return ($"raw-unknown-and-reordered-header-fields-{order}", UnknownAndReorderedFields(bigEndian));
            yield return ($"raw-future-message-type-{order}", Raw(bigEndian, 5, 0, [(1, "o", BusPath), (3, "s", "Ping")], "", []));
            yield return ($"raw-header-padding-before-body-{order}", Raw(bigEndian, 1, 0, [(1, "o", new ObjectPath("/a")), (3, "s", "M"), (8, "g", new Signature("y"))], "y", [(byte)42]));
        }
        // Lengths that promise more than the message holds: a reader that sizes anything from
        // them before checking the bytes present allocates up to the limit for a few bytes.
        yield return ("raw-array-length-at-limit-body-short", Raw(false, 1, 0, [(1, "o", new ObjectPath("/a")), (3, "s", "M"), (8, "g", new Signature("ay"))], "u", [(uint)ProtocolConstants.MaxArrayLength]));
        yield return ("raw-array-length-past-limit", Raw(false, 1, 0, [(1, "o", new ObjectPath("/a")), (3, "s", "M"), (8, "g", new Signature("as"))], "u", [0xFFFF_FFF0u]));
        yield return ("raw-string-length-huge", Raw(true, 1, 0, [(1, "o", new ObjectPath("/a")), (3, "s", "M"), (8, "g", new Signature("s"))], "u", [0x7FFF_FFFFu]));
        yield return ("raw-header-fields-length-past-limit", Raw(false, 1, 0, [(1, "o", new ObjectPath("/a"))], "", [])
            .Select((b, i) => i == 12 ? (byte)0xF0 : i == 15 ? (byte)0x7F : b).ToArray());
        yield return ("raw-fixed-header-only", Convert.FromHexString("6C010001" + "00000000" + "01000000" + "00000000"));
    }

    /// <summary>A few seeds that reach most of the reader, for paying first-call costs outside the allocation bound.</summary>
    public static IEnumerable<byte[]> WarmUp() =>
        All().Where(s => s.Name.Contains("every-basic-type", StringComparison.Ordinal) || s.Name.Contains("variants", StringComparison.Ordinal)
            || s.Name.StartsWith("raw-", StringComparison.Ordinal)).Select(s => s.Bytes);

    private static IEnumerable<(string, Message)> Messages(SafeFileHandle fd)
    {
        yield return ("call-hello", Message.MethodCall(Bus, BusPath, Bus, "Hello"));
        yield return ("call-every-basic-type", Message.MethodCall(Bus, BusPath, "io.supervisor.Fuzz1", "Basic", "ybnqiuxtdsogh",
            (byte)0xff, true, (short)-2, (ushort)65535, int.MinValue, uint.MaxValue, long.MinValue, ulong.MaxValue, -0.5,
            "ünïcode ✓", new ObjectPath("/io/supervisor/unit/web_2eservice"), new Signature("a{sv}"), fd));
        yield return ("call-arrays", Message.MethodCall(null, ManagerPath, Manager, "Arrays", "ayaiasaoagaxadabaqan",
            new byte[] { 0, 1, 2, 255 }, new[] { 1, -1 }, new[] { "a", "", "c" }, new[] { new ObjectPath("/"), new ObjectPath("/a/b") },
            new[] { new Signature(""), new Signature("(ii)") }, Array.Empty<long>(), new[] { double.NaN, double.NegativeInfinity },
            new[] { true, false }, new ushort[] { 1 }, new short[] { -1, 2 }));
        yield return ("call-structs-nested", Message.MethodCall(null, ManagerPath, Manager, "Structs", "(i(s(ay)))a(ss)",
            new DBusStruct(1, new DBusStruct("x", new DBusStruct(new byte[] { 9 }))),
            new[] { new DBusStruct("web", "active"), new DBusStruct("db", "failed") }));
        yield return ("call-variants", Message.MethodCall(null, ManagerPath, Manager, "Variants", "vvv",
            Variant.From(7u), new Variant(new Signature("v"), new Variant(new Signature("v"), Variant.From("deep"))),
            new Variant(new Signature("a{sv}"), new Dictionary<string, Variant> { ["MemoryMax"] = Variant.From(134217728UL), ["Names"] = Variant.From(new[] { "a", "b" }) })));
        yield return ("call-dicts-nested", Message.MethodCall(null, ManagerPath, Manager, "Dicts", "a{sa{sv}}a{ya{ss}}a{tb}",
            new Dictionary<string, Dictionary<string, Variant>> { ["io.supervisor.Unit1"] = new() { ["ActiveState"] = Variant.From("active") }, ["empty"] = new() },
            new Dictionary<byte, Dictionary<string, string>> { [1] = new() { ["k"] = "v" } },
            new Dictionary<ulong, bool> { [ulong.MaxValue] = true }));
        yield return ("call-unix-fds", Message.MethodCall(null, ManagerPath, Manager, "Fds", "hah(h)", fd, new[] { fd, fd }, new DBusStruct(fd)));
        yield return ("call-flags-no-reply-no-autostart-interactive", WithFlags(Message.MethodCall(Bus, BusPath, Bus, "GetId"),
            MessageFlags.NoReplyExpected | MessageFlags.NoAutoStart | MessageFlags.AllowInteractiveAuthorization));
        yield return ("call-longest-names", Message.MethodCall(new string('d', 10) + "." + new string('e', 244), new ObjectPath("/" + string.Join("/", Enumerable.Repeat(new string('p', 15), 32))),
            new string('i', 127) + "." + new string('j', 127), new string('m', 255)));
        yield return ("call-longest-signature", Message.MethodCall(null, ManagerPath, Manager, "Many", new string('y', 255), Enumerable.Repeat((object)(byte)1, 255).ToArray()));
        yield return ("call-deepest-arrays", Message.MethodCall(null, ManagerPath, Manager, "Deep", new string('a', 32) + "y", Nest(new byte[] { 1, 2 }, 31)));
        yield return ("call-deep-variants", Message.MethodCall(null, ManagerPath, Manager, "DeepVariant", "v", NestVariants(60)));
        yield return ("signal-properties-changed", Message.Signal(new ObjectPath("/io/supervisor/Supervisor1/unit/web_2eservice"), "org.freedesktop.DBus.Properties", "PropertiesChanged", "sa{sv}as",
            "io.supervisor.Unit1", new Dictionary<string, Variant> { ["ActiveState"] = Variant.From("active"), ["MainPID"] = Variant.From(4242u) }, new[] { "MemoryCurrent" }));
        yield return ("signal-big-body", Message.Signal(ManagerPath, Manager, "Log", "asay", Enumerable.Range(0, 64).Select(i => $"line {i}: {new string('x', i)}").ToArray(), new byte[4096]));
        // The densest bodies: each a few wire bytes per value, and each value an object (or three).
        yield return ("call-dense-variants", Message.MethodCall(null, ManagerPath, Manager, "Dense", "av", (object)Enumerable.Range(0, 2000).Select(i => Variant.From((byte)i)).ToArray()));
        yield return ("call-dense-signatures", Message.MethodCall(null, ManagerPath, Manager, "Dense", "ag", (object)Enumerable.Range(0, 2000).Select(_ => new Signature("y")).ToArray()));
        yield return ("call-dense-empty-arrays", Message.MethodCall(null, ManagerPath, Manager, "Dense", "aay", (object)Enumerable.Range(0, 2000).Select(_ => Array.Empty<byte>()).ToArray()));
        yield return ("call-dense-dict", Message.MethodCall(null, ManagerPath, Manager, "Dense", "a{yy}", Enumerable.Range(0, 256).ToDictionary(i => (byte)i, i => (byte)i)));
        yield return ("call-dense-booleans", Message.MethodCall(null, ManagerPath, Manager, "Dense", "ab", (object)Enumerable.Range(0, 2000).Select(i => i % 2 == 0).ToArray()));
        var call = new Message { Type = MessageType.MethodCall, Serial = 41, Sender = ":1.7" };
        yield return ("return-list-units", Message.MethodReturn(call, "a(ssssssouso)", (object)new[]
        {
            new DBusStruct("web.service", "Static site", "loaded", "active", "running", "", new ObjectPath("/io/supervisor/Supervisor1/unit/web_2eservice"), 0u, "", new ObjectPath("/")),
            new DBusStruct("batch.slice", "Batch jobs", "loaded", "inactive", "dead", "", new ObjectPath("/io/supervisor/Supervisor1/unit/batch_2eslice"), 0u, "", new ObjectPath("/")),
        }));
        yield return ("return-empty", Message.MethodReturn(call));
        yield return ("error-reply", Message.Error(call, "org.freedesktop.DBus.Error.AccessDenied", "uid 1000 may not StopUnit"));
    }

    private static Message WithFlags(Message m, MessageFlags flags) => new()
    {
        Type = m.Type, Flags = flags, Destination = m.Destination, Path = m.Path, Interface = m.Interface, Member = m.Member,
        Signature = m.Signature, Body = m.Body,
    };

    private static object Nest(byte[] inner, int levels)
    {
        object value = inner;
        for (int i = 0; i < levels; i++) value = new[] { value };
        return value;
    }

    private static Variant NestVariants(int levels)
    {
        var v = Variant.From(1);
        for (int i = 1; i < levels; i++) v = new Variant(new Signature("v"), v);
        return v;
    }

    /// <summary>
    /// Header fields the writer never emits: unknown codes (10 and 200, which readers must skip)
    /// holding a dict and a struct, and the known fields in reverse order.
    /// </summary>
    private static byte[] UnknownAndReorderedFields(bool bigEndian) => Raw(bigEndian, 1, 0,
    [
        (8, "g", new Signature("s")),
        (200, "a{sv}", new Dictionary<string, Variant> { ["x"] = Variant.From(1) }),
        (6, "s", Bus),
        (10, "(yv)", new DBusStruct((byte)1, Variant.From("odd"))),
        (3, "s", "Echo"),
        (2, "s", "io.supervisor.Fuzz1"),
        (1, "o", new ObjectPath("/io/supervisor/Fuzz1")),
    ], "s", ["hello"]);

    /// <summary>A message built field by field: fixed header, the given (code, type, value) fields in order, body.</summary>
    private static byte[] Raw(bool bigEndian, byte type, byte flags, (byte Code, string Type, object Value)[] fields, string bodySignature, object[] body)
    {
        var bodyWriter = new MessageWriter(bigEndian);
        bodyWriter.WriteValues(new Signature(bodySignature), body);
        var w = new MessageWriter(bigEndian);
        w.WriteByte(bigEndian ? (byte)'B' : (byte)'l');
        w.WriteByte(type);
        w.WriteByte(flags);
        w.WriteByte(1);
        w.WriteUInt32(0); // body length, set below
        w.WriteUInt32(9); // serial
        w.WriteUInt32(0); // header fields length, set below
        foreach (var (code, fieldType, value) in fields)
        {
            w.Align(8);
            w.WriteByte(code);
            w.WriteSignature(new Signature(fieldType));
            w.WriteValue(fieldType, value);
        }
        int fieldsLength = w.Length - 16;
        w.Align(8);
        foreach (byte b in bodyWriter.WrittenSpan) w.WriteByte(b);
        byte[] bytes = w.ToArray();
        WriteUInt32(bytes.AsSpan(4), (uint)bodyWriter.Length, bigEndian);
        WriteUInt32(bytes.AsSpan(12), (uint)fieldsLength, bigEndian);
        return bytes;
    }

    private static void WriteUInt32(Span<byte> at, uint value, bool bigEndian)
    {
        if (bigEndian) BinaryPrimitives.WriteUInt32BigEndian(at, value);
        else BinaryPrimitives.WriteUInt32LittleEndian(at, value);
    }
}
