using System.Globalization;
using System.Text;

namespace Supervisor.Supervision;

/// <summary>
/// One sd_notify datagram ($NOTIFY_SOCKET): newline-separated VAR=value assignments, as
/// sd_notify(3) defines them. Unknown variables are kept (a daemon may send its own), malformed
/// lines are dropped and counted, never fatal: a unit cannot crash its supervisor this way.
/// </summary>
public sealed record NotifyMessage
{
    /// <summary>The largest datagram read; systemd reads up to its pipe buffer (NOTIFY_BUFFER_MAX = 4096 with PAGE_SIZE).</summary>
    public const int MaxBytes = 4096;

    public bool Ready { get; init; }
    public bool Reloading { get; init; }
    public bool Stopping { get; init; }
    public bool Watchdog { get; init; }
    public bool WatchdogTrigger { get; init; }
    public string? Status { get; init; }
    public int? MainPid { get; init; }
    public int? Errno { get; init; }
    public long? ExtendTimeoutUsec { get; init; }
    public long? WatchdogUsec { get; init; }
    /// <summary>FDSTORE=1: keep the descriptors sent with this message (FileDescriptorStoreMax).</summary>
    public bool FdStore { get; init; }
    /// <summary>FDSTOREREMOVE=1: close the stored descriptors named <see cref="FdName"/>.</summary>
    public bool FdStoreRemove { get; init; }
    /// <summary>FDNAME=: the name stored descriptors get (LISTEN_FDNAMES), or the name to remove; as sent, checked where it is used.</summary>
    public string? FdName { get; init; }
    /// <summary>FDPOLL=0: a stored descriptor is kept even when it reports a hang-up or an error.</summary>
    public bool FdPoll { get; init; } = true;
    public IReadOnlyList<KeyValuePair<string, string>> Other { get; init; } = [];
    public int MalformedLines { get; init; }

    public static NotifyMessage Parse(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length > MaxBytes) datagram = datagram[..MaxBytes];
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(datagram);
        }
        catch (DecoderFallbackException)
        {
            return new NotifyMessage { MalformedLines = 1 };
        }
        var m = new NotifyMessage();
        var other = new List<KeyValuePair<string, string>>();
        int malformed = 0;
        foreach (var raw in text.Split('\n'))
        {
            if (raw.Length == 0) continue;
            var eq = raw.IndexOf('=');
            if (eq <= 0) { malformed++; continue; }
            var key = raw[..eq];
            var value = raw[(eq + 1)..];
            switch (key)
            {
                case "READY" when value == "1": m = m with { Ready = true }; break;
                case "RELOADING" when value == "1": m = m with { Reloading = true }; break;
                case "STOPPING" when value == "1": m = m with { Stopping = true }; break;
                case "WATCHDOG" when value == "1": m = m with { Watchdog = true }; break;
                case "WATCHDOG" when value == "trigger": m = m with { WatchdogTrigger = true }; break;
                case "STATUS": m = m with { Status = value }; break;
                case "MAINPID" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 1:
                    m = m with { MainPid = pid }; break;
                case "ERRNO" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var errno):
                    m = m with { Errno = errno }; break;
                case "EXTEND_TIMEOUT_USEC" when long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ext):
                    m = m with { ExtendTimeoutUsec = ext }; break;
                case "WATCHDOG_USEC" when long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var wd) && wd > 0:
                    m = m with { WatchdogUsec = wd }; break;
                case "FDSTORE" when value == "1": m = m with { FdStore = true }; break;
                case "FDSTOREREMOVE" when value == "1": m = m with { FdStoreRemove = true }; break;
                case "FDPOLL" when value == "0": m = m with { FdPoll = false }; break;
                case "FDNAME": m = m with { FdName = value }; break;
                case "READY" or "RELOADING" or "STOPPING" or "WATCHDOG" or "MAINPID" or "ERRNO" or "EXTEND_TIMEOUT_USEC" or "WATCHDOG_USEC":
                    malformed++; break;
                default: other.Add(new(key, value)); break;
            }
        }
        return m with { Other = other, MalformedLines = malformed };
    }
}
