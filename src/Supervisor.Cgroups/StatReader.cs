using System.Buffers;
using System.Buffers.Text;

namespace Supervisor.Cgroups;

/// <summary>
/// Reads cgroup accounting files into one pooled buffer and parses them as bytes, without building
/// strings. Required files that cannot be read count as read errors; optional ones (absent on this
/// kernel) are silently null.
/// </summary>
internal sealed class StatReader : IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(4096);
    private int _length;

    public int Errors { get; private set; }

    /// <summary>Only what measures use is wanted (a scrape): controllers skip their limit and configuration files.</summary>
    public bool UsageOnly { get; init; }

    /// <summary>Opens relative to held parent directories when set (see <see cref="ParentDirectories"/>).</summary>
    public ParentDirectories? Parents { get; init; }

    /// <summary>Reads <paramref name="dir"/>/<paramref name="file"/>; false when unreadable.</summary>
    public bool Read(string dir, string file, bool optional = false)
    {
        int errno;
        _length = Parents is { } parents
            ? parents.ReadInto(dir, file, ref _buffer, out errno, retryStale: !optional)
            : CgroupFs.ReadInto(Path.Join(dir, file), ref _buffer, out errno, singleRecord: true);
        if (_length >= 0)
        {
            return true;
        }
        _length = 0;
        if (!(optional && errno == Supervisor.Linux.Errno.ENOENT))
        {
            Errors++;
        }
        return false;
    }

    public ReadOnlySpan<byte> Data => _buffer.AsSpan(0, _length);

    /// <summary>The whole file as one number; "max" gives null with <paramref name="isMax"/>.</summary>
    public ulong? Single(out bool isMax)
    {
        var span = Trim(Data);
        isMax = span.SequenceEqual("max"u8) || span.SequenceEqual("-1"u8);
        return !isMax && Utf8Parser.TryParse(span, out ulong v, out int used) && used == span.Length ? v : null;
    }

    /// <summary>A limit file: null for unlimited ("max", "-1", or v1's PAGE_COUNTER_MAX pages).</summary>
    public ulong? LimitValue()
    {
        var v = Single(out var isMax);
        return isMax || v >= (ulong)CgroupConstants.V1Unlimited ? null : v;
    }

    /// <summary>Value of "key N" in a flat-keyed file (keys may appear in any order and new ones anywhere).</summary>
    public ulong? Keyed(ReadOnlySpan<byte> key) => Keyed(Data, key);

    public static ulong? Keyed(ReadOnlySpan<byte> data, ReadOnlySpan<byte> key)
    {
        while (data.Length > 0)
        {
            int nl = data.IndexOf((byte)'\n');
            var line = nl < 0 ? data : data[..nl];
            data = nl < 0 ? default : data[(nl + 1)..];
            if (line.Length > key.Length && line[key.Length] == (byte)' ' && line.StartsWith(key))
            {
                var value = Trim(line[(key.Length + 1)..]);
                return Utf8Parser.TryParse(value, out ulong v, out int used) && used == value.Length ? v : null;
            }
        }
        return null;
    }

    /// <summary>
    /// v2 io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N" per device, summed.
    /// </summary>
    public (ulong ReadBytes, ulong WriteBytes, ulong ReadOps, ulong WriteOps) IoStatV2()
    {
        ulong rb = 0, wb = 0, ro = 0, wo = 0;
        var data = Data;
        while (data.Length > 0)
        {
            int nl = data.IndexOf((byte)'\n');
            var line = nl < 0 ? data : data[..nl];
            data = nl < 0 ? default : data[(nl + 1)..];
            int sp = line.IndexOf((byte)' ');
            if (sp < 0)
            {
                continue;
            }
            line = line[(sp + 1)..];
            while (line.Length > 0)
            {
                int next = line.IndexOf((byte)' ');
                var field = next < 0 ? line : line[..next];
                line = next < 0 ? default : line[(next + 1)..];
                int eq = field.IndexOf((byte)'=');
                if (eq < 0 || !Utf8Parser.TryParse(field[(eq + 1)..], out ulong v, out _))
                {
                    continue;
                }
                var name = field[..eq];
                if (name.SequenceEqual("rbytes"u8)) rb += v;
                else if (name.SequenceEqual("wbytes"u8)) wb += v;
                else if (name.SequenceEqual("rios"u8)) ro += v;
                else if (name.SequenceEqual("wios"u8)) wo += v;
            }
        }
        return (rb, wb, ro, wo);
    }

    /// <summary>
    /// v1 blkio.throttle.io_service_bytes[_recursive] / io_serviced[_recursive]:
    /// "MAJ:MIN Read N" … "MAJ:MIN Total N" per device, then a final "Total N". Sums Read and Write;
    /// nulls when no device line is present (see <see cref="CgroupStats.IoReadBytes"/>).
    /// </summary>
    public (ulong? Read, ulong? Write) BlkioV1()
    {
        ulong r = 0, w = 0;
        bool any = false;
        var data = Data;
        while (data.Length > 0)
        {
            int nl = data.IndexOf((byte)'\n');
            var line = nl < 0 ? data : data[..nl];
            data = nl < 0 ? default : data[(nl + 1)..];
            int sp1 = line.IndexOf((byte)' ');
            if (sp1 < 0)
            {
                continue;
            }
            var rest = line[(sp1 + 1)..];
            int sp2 = rest.IndexOf((byte)' ');
            if (sp2 < 0)
            {
                continue; // the trailing "Total N"
            }
            var op = rest[..sp2];
            if (!Utf8Parser.TryParse(Trim(rest[(sp2 + 1)..]), out ulong v, out _))
            {
                continue;
            }
            any = true;
            if (op.SequenceEqual("Read"u8)) r += v;
            else if (op.SequenceEqual("Write"u8)) w += v;
        }
        return any ? (r, w) : (null, null);
    }

    /// <summary>PSI: "some avg10=… total=N\nfull avg10=… total=N" (the full line is absent on old kernels for cpu).</summary>
    public PressureTotals? Pressure()
    {
        ulong? some = null, full = null;
        var data = Data;
        while (data.Length > 0)
        {
            int nl = data.IndexOf((byte)'\n');
            var line = nl < 0 ? data : data[..nl];
            data = nl < 0 ? default : data[(nl + 1)..];
            int t = line.IndexOf("total="u8);
            if (t < 0 || !Utf8Parser.TryParse(line[(t + 6)..], out ulong v, out _))
            {
                continue;
            }
            if (line.StartsWith("some "u8)) some = v;
            else if (line.StartsWith("full "u8)) full = v;
        }
        return some is null ? null : new PressureTotals(some.Value, full);
    }

    private static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> s) => s.Trim(" \n\t"u8);

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}
