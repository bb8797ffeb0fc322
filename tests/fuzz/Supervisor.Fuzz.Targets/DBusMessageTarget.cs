using Microsoft.Win32.SafeHandles;
using Supervisor.DBus;

namespace Supervisor.Fuzz;

/// <summary>
/// The D-Bus message reader: <see cref="Message.Parse"/> on the input bytes, as MessageStream
/// calls it for every message a peer sends, with <see cref="ProtocolConstants.MaxUnixFdsPerMessage"/>
/// fds "received" beside it (so messages that carry fds get past the fd count). Contracts checked:
/// <list type="bullet">
/// <item>it returns a message or throws <see cref="DBusProtocolException"/>, nothing else;</item>
/// <item>it stays within <see cref="Bound"/>, also when it rejects the input;</item>
/// <item>a message it accepts can be written back by <see cref="Message.Serialize"/> and read
/// again to the same message (writer and reader agree on every value the reader can produce).</item>
/// </list>
/// </summary>
public sealed class DBusMessageTarget : IFuzzTarget
{
    /// <summary>
    /// A message is at most ProtocolConstants.DefaultMaxMessageSize (8 MiB) on the wire and the
    /// reader checks every length against the bytes present before it allocates, so memory can
    /// only grow with the input. The densest bodies are arrays of tiny values that each become
    /// objects: 'av' of one-byte variants (4 wire bytes → a Variant, a signature string and a
    /// boxed byte) and 'ag' of one-type signatures measure 34 bytes a wire byte (the corpus'
    /// call-dense-* seeds), not the "about tenfold" ProtocolConstants assumes. The bound is
    /// 64 a byte: an 8 MiB message may cost 512 MiB. The constant covers the header fields, an
    /// exception with its message, and the fixed costs of a short message (at most about 1 KiB).
    /// </summary>
    public static readonly AllocationBound Bound = new("Message.Parse", PerInputByte: 64, PerFile: 0, Constant: 64 * 1024);

    private readonly SafeFileHandle _devNull = File.OpenHandle("/dev/null");
    private readonly AllocationBound _bound;
    private bool _warm;

    /// <param name="bound">The allocation bound to enforce; <see cref="Bound"/> unless a test checks the check.</param>
    public DBusMessageTarget(AllocationBound? bound = null)
    {
        _bound = bound ?? Bound;
    }

    public string Name => FuzzTargets.DBusMessage;

    public string Run(byte[] input)
    {
        WarmUp();
        var fds = FakeFds();
        Message message;
        try
        {
            message = _bound.Measure(input.Length, 0, () => Message.Parse(input, fds, ProtocolConstants.DefaultMaxMessageSize));
        }
        catch (DBusProtocolException e)
        {
            return $"rejected ({AllocationBound.LastMeasured} bytes allocated for {input.Length}): {e.Message}";
        }
        catch (Exception e) when (e is not FuzzFindingException)
        {
            throw new FuzzFindingException($"Message.Parse threw {e.GetType().Name}, but its only error is DBusProtocolException: {e.Message}", e);
        }
        using (message)
        {
            string summary = message.ToString();
            CheckRoundTrip(message);
            return $"parsed ({AllocationBound.LastMeasured} bytes allocated for {input.Length}): {summary}";
        }
    }

    /// <summary>
    /// Serialize → Parse → Serialize: the two serializations must be byte for byte the same and
    /// the re-read message must equal the first. (The first input need not equal the first
    /// serialization: unknown header fields are dropped and fields are written in a fixed order.)
    /// </summary>
    private static void CheckRoundTrip(Message message)
    {
        byte[] first, second;
        try
        {
            first = message.Serialize(message.Serial, out var handles, message.IsBigEndian);
            using var reread = Message.Parse(first, handles.Select(h => new UnixFd(h)).ToList(), int.MaxValue);
            second = reread.Serialize(reread.Serial, out _, reread.IsBigEndian);
            if (!SameMessage(message, reread))
                throw new FuzzFindingException($"write → read changed the message\n  read:    {Describe(message)}\n  re-read: {Describe(reread)}");
        }
        catch (Exception e) when (e is not FuzzFindingException)
        {
            throw new FuzzFindingException($"a message the reader accepted cannot be written and read back: {e.GetType().Name}: {e.Message}\n  message: {Describe(message)}", e);
        }
        if (!first.AsSpan().SequenceEqual(second))
            throw new FuzzFindingException($"write → read → write is not stable: {Convert.ToHexString(first)} then {Convert.ToHexString(second)}");
    }

    private static bool SameMessage(Message a, Message b) =>
        a.Type == b.Type && a.Flags == b.Flags && a.Serial == b.Serial && a.Path == b.Path && a.Interface == b.Interface
        && a.Member == b.Member && a.ErrorName == b.ErrorName && a.ReplySerial == b.ReplySerial && a.Destination == b.Destination
        && a.Sender == b.Sender && a.Signature == b.Signature && a.IsBigEndian == b.IsBigEndian
        && DBusValue.DeepEquals(a.Body.ToArray(), b.Body.ToArray());

    private static string Describe(Message m) =>
        $"type {(byte)m.Type} flags {(byte)m.Flags} serial {m.Serial} path {m.Path} interface {m.Interface} member {m.Member} " +
        $"error {m.ErrorName} reply {m.ReplySerial} destination {m.Destination} sender {m.Sender} " +
        $"signature '{m.Signature}' fds {m.UnixFds.Count} body {DBusValue.Format(m.Body.ToArray())}";

    /// <summary>Fds as MessageStream hands them over; they wrap /dev/null without owning it, so disposing them closes nothing.</summary>
    private List<UnixFd> FakeFds() =>
        Enumerable.Range(0, ProtocolConstants.MaxUnixFdsPerMessage)
            .Select(_ => new UnixFd(new SafeFileHandle(_devNull.DangerousGetHandle(), ownsHandle: false)))
            .ToList();

    /// <summary>Pays the first-call costs (signature caches, exception machinery) outside the bound.</summary>
    private void WarmUp()
    {
        if (_warm) return;
        _warm = true;
        foreach (var seed in DBusSeeds.WarmUp())
        {
            try
            {
                using var m = Message.Parse(seed, FakeFds());
            }
            catch (DBusProtocolException)
            {
                // Rejections warm up the error path.
            }
        }
    }

    public void Dispose() => _devNull.Dispose();
}
