namespace Supervisor.DBus.Tests;

/// <summary>
/// Exact bytes in both byte orders. Sources:
/// - HelloLE: the hand-built Hello from the reference (A.1), accepted by dbus-daemon 1.14.10.
/// - HelloBE: the same message with every integer byte-swapped (python struct) and 'l' → 'B'.
/// - Captures: run a private dbus-daemon (the B.1 config), then
///   `dbus-monitor --address $A --binary "type='signal',interface='io.supervisor.Test'" > cap.bin` and
///   `dbus-send --bus=$A --type=signal /io/supervisor/Test io.supervisor.Test.Ping string:hello uint32:42`,
///   `busctl --address=$A emit /io/supervisor/Test io.supervisor.Test Dict 'a{sv}(ix)' 2 Id s web MainPID u 7 -- -3 9000000000`,
///   `gdbus emit --address $A --object-path /io/supervisor/Test --signal io.supervisor.Test.Glib "[byte 1, 2]" "<true>" "3.5"`;
///   cap.bin split into messages with python (16 + align8(fieldsLen) + bodyLen each).
/// - GLib big-endian: /usr/bin/python3 with gi: Gio.DBusMessage.new_signal(...), set_body(...),
///   set_byte_order(BIG_ENDIAN / LITTLE_ENDIAN), to_blob(): an independent implementation's bytes.
/// </summary>
public class WireVectorTests
{
    private const string HelloLE =
        "6c01000100000000 010000006d000000 01016f0015000000 2f6f72672f667265" +
        "656465736b746f70 2f44427573000000 0201730014000000 6f72672e66726565" +
        "6465736b746f702e 4442757300000000 0301730005000000 48656c6c6f000000" +
        "0601730014000000 6f72672e66726565 6465736b746f702e 4442757300000000";

    private const string HelloBE =
        "4201000100000000000000010000006d01016f00000000152f6f72672f667265656465736b746f702f4442757300000002017300000000146f72672e667265656465736b746f702e4442757300000000030173000000000548656c6c6f00000006017300000000146f72672e667265656465736b746f702e4442757300000000";

    /// <summary>dbus-send signal Ping("hello", 42) as relayed by dbus-daemon (which appended SENDER ":1.4").</summary>
    private const string DbusSendPing =
        "6c04010110000000020000006500000001016f00130000002f696f2f73757065727669736f722f5465737400000000000201730012000000696f2e73757065727669736f722e54657374000000000000030173000400000050696e6700000000080167000273750007017300040000003a312e34000000000500000068656c6c6f0000002a000000";

    /// <summary>busctl (sd-bus) signal Dict(a{sv} {Id: &lt;"web"&gt;, MainPID: &lt;uint32 7&gt;}, (-3, 9000000000)).</summary>
    private const string BusctlDict =
        "6c04010148000000020000006d00000001016f00130000002f696f2f73757065727669736f722f5465737400000000000201730012000000696f2e73757065727669736f722e54657374000000000000030173000400000044696374000000000801670009617b73767d28697829000007017300040000003a312e36000000002c00000000000000020000004964000173000000030000007765620000000000070000004d61696e50494400017500000700000000000000fdffffff00000000001a711802000000";

    /// <summary>gdbus (GLib) signal Glib([1, 2], &lt;true&gt;, 3.5): ay, v, d.</summary>
    private const string GdbusGlib =
        "6c04010118000000010000007800000001016f00130000002f696f2f73757065727669736f722f5465737400000000000201730012000000696f2e73757065727669736f722e54657374000000000000080167000461797664000000000000000301730004000000476c696200000000070173000f0000003a6e6f742e6163746976652e79657400020000000102016200000000010000000000000000000c40";

    private const string GlibPingBE =
        "4204010100000010000000020000006507017300000000043a312e340000000001016f00000000132f696f2f73757065727669736f722f5465737400000000000201730000000012696f2e73757065727669736f722e546573740000000000000801670002737500030173000000000450696e67000000000000000568656c6c6f0000000000002a";

    private const string GlibPingLE =
        "6c04010110000000020000006500000007017300040000003a312e340000000001016f00130000002f696f2f73757065727669736f722f5465737400000000000201730012000000696f2e73757065727669736f722e546573740000000000000801670002737500030173000400000050696e67000000000500000068656c6c6f0000002a000000";

    private const string GlibDictBE =
        "4204010100000048000000020000006d07017300000000043a312e360000000001016f00000000132f696f2f73757065727669736f722f5465737400000000000201730000000012696f2e73757065727669736f722e546573740000000000000801670009617b73767d286978290000030173000000000444696374000000000000002c00000000000000024964000173000000000000037765620000000000000000074d61696e50494400017500000000000700000000fffffffd000000000000000218711a00";

    [Theory]
    [InlineData(HelloLE, false)]
    [InlineData(HelloBE, true)]
    public void Hello_is_written_byte_for_byte_in_both_orders(string expected, bool bigEndian)
    {
        var hello = Message.MethodCall("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello");
        Assert.Equal(Hex.Of(Hex.Parse(expected)), Hex.Of(hello.Serialize(1, out _, bigEndian)));
    }

    [Theory]
    [InlineData(HelloLE, false)]
    [InlineData(HelloBE, true)]
    public void Hello_is_read_from_both_orders(string hex, bool bigEndian)
    {
        var m = Message.Parse(Hex.Parse(hex));
        Assert.Equal(bigEndian, m.IsBigEndian);
        Assert.Equal(MessageType.MethodCall, m.Type);
        Assert.Equal(1u, m.Serial);
        Assert.Equal("/org/freedesktop/DBus", m.Path!.Value.Value);
        Assert.Equal("org.freedesktop.DBus", m.Interface);
        Assert.Equal("Hello", m.Member);
        Assert.Equal("org.freedesktop.DBus", m.Destination);
        Assert.Empty(m.Body);
    }

    [Theory]
    [InlineData(DbusSendPing)]
    [InlineData(GlibPingLE)]
    [InlineData(GlibPingBE)]
    public void Ping_signal_from_three_writers_reads_the_same(string hex)
    {
        var m = Message.Parse(Hex.Parse(hex));
        Assert.Equal(MessageType.Signal, m.Type);
        Assert.Equal(MessageFlags.NoReplyExpected, m.Flags);
        Assert.Equal(2u, m.Serial);
        Assert.Equal("/io/supervisor/Test", m.Path!.Value.Value);
        Assert.Equal("io.supervisor.Test", m.Interface);
        Assert.Equal("Ping", m.Member);
        Assert.Equal(":1.4", m.Sender);
        Assert.Equal("su", m.Signature.Value);
        Assert.Equal(new object[] { "hello", 42u }, m.Body);
    }

    [Theory]
    [InlineData(BusctlDict)]
    [InlineData(GlibDictBE)]
    public void Dict_and_struct_signal_from_sdbus_and_glib_reads_the_same(string hex)
    {
        var m = Message.Parse(Hex.Parse(hex));
        Assert.Equal("a{sv}(ix)", m.Signature.Value);
        Assert.Equal(":1.6", m.Sender);
        var dict = Assert.IsType<KeyValuePair<object, object>[]>(m.Body[0]);
        Assert.Equal(2, dict.Length);
        Assert.Equal("Id", dict[0].Key);
        Assert.Equal(new Variant("s", "web"), dict[0].Value);
        Assert.Equal("MainPID", dict[1].Key);
        Assert.Equal(new Variant("u", 7u), dict[1].Value);
        Assert.Equal(new DBusStruct(-3, 9000000000L), m.Body[1]);
    }

    [Fact]
    public void Glib_signal_with_byte_array_variant_and_double_reads_correctly()
    {
        var m = Message.Parse(Hex.Parse(GdbusGlib));
        Assert.Equal("ayvd", m.Signature.Value);
        Assert.Equal(new byte[] { 1, 2 }, m.Body[0]);
        Assert.Equal(new Variant("b", true), m.Body[1]);
        Assert.Equal(3.5, m.Body[2]);
    }

    [Theory]
    [InlineData(DbusSendPing, GlibPingBE)]
    [InlineData(BusctlDict, GlibDictBE)]
    public void Body_is_written_byte_for_byte_in_both_orders(string littleEndianMessage, string bigEndianMessage)
    {
        foreach (var (hex, bigEndian) in new[] { (littleEndianMessage, false), (bigEndianMessage, true) })
        {
            byte[] bytes = Hex.Parse(hex);
            var m = Message.Parse(bytes);
            var w = new MessageWriter(bigEndian);
            w.WriteValues(m.Signature, m.Body);
            int bodyLength = w.Length;
            Assert.Equal(Hex.Of(bytes.AsSpan(bytes.Length - bodyLength)), Hex.Of(w.WrittenSpan));
        }
    }

    [Theory]
    // Spec #message-protocol-marshaling examples (big-endian): at [5]; variant t 5.
    [InlineData("at", true, "00000008 00000000 0000000000000005")]
    [InlineData("at", false, "08000000 00000000 0500000000000000")]
    [InlineData("v", true, "01 74 00 0000000000 0000000000000005")]
    [InlineData("v", false, "01 74 00 0000000000 0500000000000000")]
    public void Spec_examples_are_written_and_read_exactly(string type, bool bigEndian, string hex)
    {
        object value = type == "at" ? new ulong[] { 5 } : new Variant("t", 5UL);
        var w = new MessageWriter(bigEndian);
        w.WriteValue(type, value);
        Assert.Equal(Hex.Of(Hex.Parse(hex)), Hex.Of(w.WrittenSpan));
        var r = new MessageReader(Hex.Parse(hex), bigEndian);
        Assert.True(DBusValue.DeepEquals(value, r.ReadValue(type)));
        Assert.True(r.IsAtEnd);
    }

    [Theory]
    // Empty array of 8-aligned elements: length 0, then padding to 8 that is not counted.
    [InlineData("at", false, "00000000 00000000")]
    [InlineData("a(yy)", true, "00000000 00000000")]
    // Empty array of 4-aligned elements: no padding.
    [InlineData("ai", false, "00000000")]
    public void Empty_arrays_still_carry_element_padding(string type, bool bigEndian, string hex)
    {
        var w = new MessageWriter(bigEndian);
        w.WriteValue(type, Array.Empty<object>());
        Assert.Equal(Hex.Of(Hex.Parse(hex)), Hex.Of(w.WrittenSpan));
    }

    [Theory]
    [InlineData(false, "0500000068656c6c6f00")]
    [InlineData(true, "0000000568656c6c6f00")]
    public void Strings_have_u32_length_and_trailing_nul(bool bigEndian, string hex)
    {
        var w = new MessageWriter(bigEndian);
        w.WriteString("hello");
        Assert.Equal(hex, Hex.Of(w.WrittenSpan));
    }

    [Fact]
    public void Signature_has_a_byte_length_and_is_not_aligned()
    {
        var w = new MessageWriter();
        w.WriteByte(7);
        w.WriteSignature("a{sv}");
        Assert.Equal("0705617b73767d00", Hex.Of(w.WrittenSpan));
    }
}
