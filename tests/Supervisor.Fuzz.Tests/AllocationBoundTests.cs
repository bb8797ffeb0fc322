namespace Supervisor.Fuzz.Tests;

/// <summary>
/// The allocation oracle itself: it must see what a reader allocates, also when the reader
/// throws, and the replay must fail when a reader needs more than its bound (shown by
/// running real corpus inputs under a bound far tighter than the readers need).
/// </summary>
public sealed class AllocationBoundTests
{
    private static readonly AllocationBound Tight = new("a reader", PerInputByte: 2, PerFile: 0, Constant: 1024);

    [Fact]
    public void A_reader_within_its_bound_passes_and_its_allocation_is_counted()
    {
        var result = Tight.Measure(1000, 0, () => new byte[1000]);
        Assert.Equal(1000, result.Length);
        Assert.InRange(AllocationBound.LastMeasured, 1000, 3024);
    }

    [Fact]
    public void A_reader_over_its_bound_is_a_finding_that_states_the_bound()
    {
        var e = Assert.Throws<FuzzFindingException>(() => Tight.Measure(100, 0, () => new byte[64 * 1024]));
        Assert.Contains("a reader allocated", e.Message);
        Assert.Contains("2 × 100 + 1024 = 1224", e.Message);
    }

    [Fact]
    public void Memory_allocated_before_the_reader_rejects_its_input_still_counts()
    {
        // A reader that sizes a buffer from a length field and then finds the input short.
        var e = Assert.Throws<FuzzFindingException>(() => Tight.Measure<int>(16, 0, () =>
        {
            GC.KeepAlive(new byte[1 << 20]);
            throw new InvalidDataException("input too short");
        }));
        Assert.Contains("allocated", e.Message);
    }

    [Fact]
    public void The_unit_file_replay_fails_when_the_reader_needs_more_than_its_bound()
    {
        using var scratch = new ScratchDirectory();
        var bound = UnitFileTarget.Bound with { PerInputByte = 16 };
        using var target = new UnitFileTarget(scratch.Path, bound);
        var input = File.ReadAllBytes(Corpus.PathOf("unitfile/huge-environment-table.toml"));
        var e = Assert.Throws<FuzzFindingException>(() => target.Run(input));
        Assert.Contains("reading and parsing a unit file allocated", e.Message);
        // The real bound accepts it.
        using var real = new UnitFileTarget(scratch.Path);
        Assert.StartsWith("valid service", real.Run(input));
    }

    [Fact]
    public void The_DBus_replay_fails_when_the_reader_needs_more_than_its_bound()
    {
        // Tight enough that any decode exceeds it (the reader checks bodies lazily, so a loose one would not).
        var bound = DBusMessageTarget.Bound with { PerInputByte = 0, Constant = 64 };
        using var target = new DBusMessageTarget(bound);
        var input = File.ReadAllBytes(Corpus.PathOf("dbus/call-dense-variants-le.bin"));
        var e = Assert.Throws<FuzzFindingException>(() => target.Run(input));
        Assert.Contains("Message.Parse allocated", e.Message);
        using var real = new DBusMessageTarget();
        Assert.StartsWith("parsed", real.Run(input));
    }

    [Fact]
    public async Task The_SASL_replay_fails_when_a_connection_needs_more_than_its_bound()
    {
        using var scratch = new ScratchDirectory();
        var input = File.ReadAllBytes(Corpus.PathOf("sasl/sd-bus-pipelined-calls.bin"));
        await Task.Run(() =>
        {
            using var target = new SaslTarget(scratch.Path, SaslTarget.Bound with { PerInputByte = 1, Constant = 4096 });
            var e = Assert.Throws<FuzzFindingException>(() => target.Run(input));
            Assert.Contains("one client's connection allocated", e.Message);
        }, TestContext.Current.CancellationToken);
    }
}
