using CsCheck;

namespace Supervisor.DBus.Tests;

public class RoundTripTests
{
    public static TheoryData<string, object> EveryType => new()
    {
        { "y", (byte)0xfe },
        { "b", true },
        { "b", false },
        { "n", short.MinValue },
        { "q", ushort.MaxValue },
        { "i", int.MinValue },
        { "u", uint.MaxValue },
        { "x", long.MinValue },
        { "t", ulong.MaxValue },
        { "d", -0.0 },
        { "d", double.NaN },
        { "s", "" },
        { "s", "héllo 日本 ☃" },
        { "o", new ObjectPath("/") },
        { "o", new ObjectPath("/io/supervisor/Supervisor1/unit/web_2eservice") },
        { "g", new Signature("a{sv}(ii)") },
        { "g", Signature.Empty },
        { "v", new Variant("as", new object[] { "a", "b" }) },
        { "v", new Variant("v", new Variant("y", (byte)1)) },
        { "ay", new byte[] { 1, 2, 3 } },
        { "ab", new[] { true, false } },
        { "an", new short[] { -1, 2 } },
        { "aq", new ushort[] { 1, 65535 } },
        { "ai", new[] { -5, 5 } },
        { "au", new uint[] { 0, 7 } },
        { "ax", new[] { long.MinValue } },
        { "at", Array.Empty<ulong>() },
        { "ad", new[] { 1.5, -2.25 } },
        { "as", new object[] { "x", "", "y" } },
        { "ao", new object[] { new ObjectPath("/a"), new ObjectPath("/b/c") } },
        { "a(ss)", new object[] { new DBusStruct("a", "b") } },
        { "a{sv}", new[] { new KeyValuePair<object, object>("k", new Variant("u", 1u)) } },
        { "a{ua{sv}}", new[] { new KeyValuePair<object, object>(3u, Array.Empty<KeyValuePair<object, object>>()) } },
        { "(ybnqiuxtdsogv)", new DBusStruct((byte)1, true, (short)2, (ushort)3, 4, 5u, 6L, 7UL, 8.5, "s", new ObjectPath("/o"), new Signature("g"), new Variant("s", "v")) },
        { "aay", new object[] { new byte[] { 1 }, Array.Empty<byte>() } },
        { "a(ssssssouso)", new object[] { new DBusStruct("web.service", "Web", "loaded", "active", "running", "", new ObjectPath("/u"), 0u, "", new ObjectPath("/")) } },
    };

    [Theory]
    [MemberData(nameof(EveryType))]
    public void Every_type_round_trips_in_both_byte_orders(string type, object value)
    {
        foreach (bool bigEndian in new[] { false, true })
        {
            var w = new MessageWriter(bigEndian);
            w.WriteByte(0xaa); // an odd start offset makes every alignment rule matter
            w.WriteValue(type, value);
            var r = new MessageReader(w.ToArray(), bigEndian);
            Assert.Equal(0xaa, r.ReadByte());
            object back = r.ReadValue(type);
            Assert.True(DBusValue.DeepEquals(value, back), $"{type}: wrote {DBusValue.Format(value)}, read {DBusValue.Format(back)}");
            Assert.True(r.IsAtEnd);
        }
    }

    [Fact]
    public void Writer_accepts_dictionaries_tuples_and_widening_integers()
    {
        var w = new MessageWriter();
        w.WriteValues("a{sv}(si)u", new object[]
        {
            new Dictionary<string, Variant> { ["a"] = Variant.From(1u) },
            ("x", 2),
            7, // an int written as 'u'
        });
        var values = new MessageReader(w.ToArray(), false).ReadValues("a{sv}(si)u");
        Assert.Equal(new Variant("u", 1u), ((KeyValuePair<object, object>[])values[0])[0].Value);
        Assert.Equal(new DBusStruct("x", 2), values[1]);
        Assert.Equal(7u, values[2]);
    }

    [Theory]
    [InlineData("u", -1)]
    [InlineData("y", 300)]
    [InlineData("s", 5)]
    [InlineData("(ii)", "x")]
    public void Writer_refuses_values_that_do_not_fit_the_type(string type, object value)
    {
        Assert.Throws<ArgumentException>(() => new MessageWriter().WriteValue(type, value));
    }

    [Fact]
    public void Generated_values_round_trip_through_whole_messages()
    {
        ValueGenerators.Message.Sample(message =>
        {
            foreach (bool bigEndian in new[] { false, true })
            {
                byte[] bytes = message.Serialize(42, out _, bigEndian);
                var back = Message.Parse(bytes);
                Assert.Equal(message.Type, back.Type);
                Assert.Equal(message.Flags, back.Flags);
                Assert.Equal(42u, back.Serial);
                Assert.Equal(message.Path, back.Path);
                Assert.Equal(message.Interface, back.Interface);
                Assert.Equal(message.Member, back.Member);
                Assert.Equal(message.ErrorName, back.ErrorName);
                Assert.Equal(message.ReplySerial, back.ReplySerial);
                Assert.Equal(message.Destination, back.Destination);
                Assert.Equal(message.Sender, back.Sender);
                Assert.Equal(message.Signature, back.Signature);
                Assert.True(DBusValue.DeepEquals(message.Body, back.Body), $"body {DBusValue.Format(message.Body)} read back as {DBusValue.Format(back.Body)}");
                // Re-serializing what we read gives the same bytes: write ∘ read = identity.
                Assert.Equal(bytes, back.Serialize(42, out _, bigEndian));
            }
        }, iter: 2000, seed: "0N0XIzNsQ0O2");
    }

    [Fact]
    public void Generated_signatures_are_valid_and_split_into_their_types()
    {
        ValueGenerators.Type(4).Array[1, 5].Sample(types =>
        {
            string joined = string.Concat(types);
            if (joined.Length > ProtocolConstants.MaxSignatureLength) return;
            var sig = new Signature(joined);
            Assert.Equal(types.Select(t => t), sig.Types.Select(t => t.Value));
            Assert.All(sig.Types, t => Assert.True(t.IsSingleCompleteType));
        }, iter: 2000, seed: "0N0XIzNsQ0O2");
    }
}
