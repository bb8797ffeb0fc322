namespace Supervisor.DBus.Tests;

/// <summary>
/// What a received body costs (issue #13): checking it allocates nothing per value, it is
/// materialised only when someone reads it, a call refused from its header never reads it,
/// and reading it allocates at most <see cref="MaxDecodeFactor"/> times its size whatever the
/// signature. Allocations are counted on this thread only, so other tests cannot disturb them.
/// </summary>
public sealed class DecodeCostTests
{
    private const int BodySize = 1024 * 1024;

    /// <summary>Allocations on the test's thread that are the runtime's (JIT), not the decoder's.</summary>
    private const int RuntimeSlack = 64 * 1024;

    /// <summary>
    /// Bodies of about 1 MiB made of the cheapest elements each type allows: the shapes where
    /// objects per byte, and so memory per byte, are largest.
    /// </summary>
    public static TheoryData<string, string> Shapes => new()
    {
        { "as", "one-letter strings (8 bytes each)" },
        { "av", "variants holding one byte (4 bytes each)" },
        { "ag", "empty signatures (2 bytes each)" },
        { "a(y)", "structs of one byte (8 bytes each)" },
        { "a(yyyyyyyy)", "structs of eight bytes (8 bytes each)" },
        { "aay", "empty byte arrays (4 bytes each)" },
        { "a{yy}", "dict entries of two bytes (8 bytes each)" },
        { "ao", "root paths (8 bytes each)" },
        { "aav", "empty arrays of variants (4 bytes each)" },
        { "av(v)", "variants holding a variant holding a byte" },
        { "a((y))", "structs holding a struct of one byte" },
    };

    private static object Element(string shape) => shape switch
    {
        "as" => "x",
        "av" => new Variant("y", (byte)7),
        "ag" => Signature.Empty,
        "a(y)" => new DBusStruct((byte)1),
        "a(yyyyyyyy)" => new DBusStruct(Enumerable.Repeat((object)(byte)1, 8).ToArray()),
        "aay" => Array.Empty<byte>(),
        "a{yy}" => new KeyValuePair<object, object>((byte)1, (byte)2),
        "ao" => new ObjectPath("/"),
        "aav" => Array.Empty<object>(),
        "a((y))" => new DBusStruct(new DBusStruct((byte)1)),
        _ => new Variant("v", new Variant("y", (byte)7)),
    };

    /// <summary>A method call whose single argument is an array of <paramref name="shape"/> filling about <see cref="BodySize"/> bytes.</summary>
    private static byte[] CallWith(string shape, int? count = null)
    {
        string signature = shape == "av(v)" ? "av" : shape;
        object element = Element(shape);
        int perElement = new MessageWriter().Also(w => w.WriteValue(signature, new[] { element, element })).Length
            - new MessageWriter().Also(w => w.WriteValue(signature, new[] { element })).Length;
        var elements = Enumerable.Repeat(element, count ?? BodySize / perElement).ToArray();
        object array = shape == "a{yy}" ? elements.Cast<KeyValuePair<object, object>>().ToArray() : elements;
        return Message.MethodCall("io.supervisor.Test1", "/io/supervisor/Test1", "io.supervisor.Test1", "Echo", signature, array).Serialize(1, out _);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Checking_a_body_allocates_nothing_per_value_and_decoding_it_at_most_16_times_its_size(string shape, string what)
    {
        byte[] bytes = CallWith(shape);
        long checking = AllocatedByChecking(bytes) - AllocatedByChecking(CallWith(shape, 2));
        Assert.True(checking < RuntimeSlack, $"checking a body of {what} allocated {checking} bytes more than checking one of two elements");

        // Decode once first, so what is measured is the decoding and not a first call's JIT or type loading.
        using (var warmUp = Message.Parse(bytes, null, ProtocolConstants.DefaultMaxMessageSize, ownsBytes: true)) _ = warmUp.Body;
        using var message = Message.Parse(bytes, null, ProtocolConstants.DefaultMaxMessageSize, ownsBytes: true);
        Assert.False(message.IsBodyDecoded);
        long start = GC.GetAllocatedBytesForCurrentThread();

        var body = message.Body;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - start;
        // The estimate the message was admitted on is an upper bound of what decoding allocates,
        // give or take what the runtime itself allocates on this thread now and then (a method
        // being rejitted under load while it runs: seen up to ~5 KiB).
        Assert.True(allocated <= message.DecodeCost + RuntimeSlack, $"decoding a body of {what} allocated {allocated} bytes, the estimate was {message.DecodeCost}");
        double factor = (double)allocated / bytes.Length;
        Assert.True(factor <= ProtocolConstants.MaxDecodeFactor, $"decoding a body of {what} allocated {factor:0.0} times its size");
        Assert.Equal(BodySize / 2, ((Array)body[0]).Length, (double)BodySize / 2);
    }

    /// <summary>The least of three checks of the same bytes: one-time costs (JIT, type loading) drop out.</summary>
    private static long AllocatedByChecking(byte[] bytes)
    {
        long least = long.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            long start = GC.GetAllocatedBytesForCurrentThread();
            using (Message.Parse(bytes, null, ProtocolConstants.DefaultMaxMessageSize, ownsBytes: true))
            {
            }
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - start);
        }
        return least;
    }

    [Theory]
    [InlineData(2, true)]
    [InlineData(32, false)]
    public void Nested_one_byte_structs_that_cost_no_bytes_per_level_are_refused_before_decoding(int levels, bool accepted)
    {
        // "((((y))))": every level is a DBusStruct and an object[] in memory, and nothing on the wire.
        string type = new string('(', levels) + "y" + new string(')', levels);
        object element = (byte)1;
        for (int i = 0; i < levels; i++) element = new DBusStruct(element);
        var elements = Enumerable.Repeat(element, 16 * 1024).ToArray();
        byte[] bytes = Message.MethodCall(null, "/x", "io.supervisor.X", "Y", "a" + type, new object[] { elements }).Serialize(1, out _);
        if (accepted)
        {
            using var message = Message.Parse(bytes);
            Assert.Equal(16 * 1024, ((object[])message.Body[0]).Length);
            return;
        }
        var error = Assert.Throws<DBusProtocolException>(() => Message.Parse(bytes));
        Assert.Matches(@"^body of \d+ bytes \('a\(+y\)+'\) would take \d+ bytes to decode, more than 16 times its size$", error.Message);
    }

    [Fact]
    public async Task A_call_with_the_wrong_signature_is_answered_without_decoding_its_body()
    {
        var service = new TestService();
        byte[] bytes = CallWith("as");
        using var call = Message.Parse(bytes);
        using var reply = await ObjectDispatcher.DispatchAsync(service.Registry, null!, call);
        Assert.Equal(DBusErrors.InvalidArgs, reply.ErrorName);
        Assert.Equal("Method 'Echo' takes arguments of type 's', got 'as'.", reply.ErrorMessage);
        Assert.False(call.IsBodyDecoded);
    }

    [Fact]
    public async Task Setting_a_read_only_or_mistyped_property_never_decodes_the_value()
    {
        var service = new TestService();
        var huge = new Variant("as", Enumerable.Repeat((object)"x", 100_000).ToArray());
        foreach (var (property, error) in new[] { ("Version", DBusErrors.PropertyReadOnly), ("Counter", DBusErrors.InvalidArgs) })
        {
            byte[] bytes = Message.MethodCall(null, TestService.Path, "org.freedesktop.DBus.Properties", "Set", "ssv", TestService.Interface, property, huge).Serialize(1, out _);
            using var call = Message.Parse(bytes);
            using var reply = await ObjectDispatcher.DispatchAsync(service.Registry, null!, call);
            Assert.Equal(error, reply.ErrorName);
            Assert.False(call.IsBodyDecoded);
        }
    }
}

internal static class WriterExtensions
{
    public static MessageWriter Also(this MessageWriter writer, Action<MessageWriter> write)
    {
        write(writer);
        return writer;
    }
}
