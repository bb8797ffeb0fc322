using System.Globalization;
using System.Text;

namespace Supervisor.Metrics.Exposition;

/// <summary>
/// The Prometheus text format (version 0.0.4), written as UTF-8 bytes into one buffer that is kept
/// from scrape to scrape (it grows to the size of the largest scrape and stays there): a scrape
/// allocates nothing per series. Label values are escaped as the format requires (backslash,
/// double quote, line feed); values are written as Go's ParseFloat reads them (shortest
/// round-trip form, integers without a fraction, +Inf, -Inf, NaN).
/// </summary>
internal sealed class ExpositionBuffer
{
    private byte[] _buffer = new byte[64 * 1024];
    private int _length;

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _length);

    public int Length => _length;

    public void Clear() => _length = 0;

    public void Append(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    public void Append(byte b)
    {
        Ensure(1);
        _buffer[_length++] = b;
    }

    /// <summary>A label value, escaped, without its quotes.</summary>
    public void AppendLabelValue(ReadOnlySpan<char> value)
    {
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        Ensure(max * 3);
        // Encode past the end of what the escaped text can take, then copy it down escaping.
        var scratch = _buffer.AsSpan(_length + max * 2, max);
        int n = Encoding.UTF8.GetBytes(value, scratch);
        var into = _buffer.AsSpan(_length);
        int w = 0;
        foreach (var b in scratch[..n])
        {
            switch (b)
            {
                case (byte)'\\': into[w++] = (byte)'\\'; into[w++] = (byte)'\\'; break;
                case (byte)'"': into[w++] = (byte)'\\'; into[w++] = (byte)'"'; break;
                case (byte)'\n': into[w++] = (byte)'\\'; into[w++] = (byte)'n'; break;
                default: into[w++] = b; break;
            }
        }
        _length += w;
    }

    /// <summary>A sample value, then the line's end.</summary>
    public void AppendValueLine(double value)
    {
        Ensure(40);
        var into = _buffer.AsSpan(_length);
        int n;
        if (double.IsNaN(value)) n = Copy("NaN"u8, into);
        else if (double.IsPositiveInfinity(value)) n = Copy("+Inf"u8, into);
        else if (double.IsNegativeInfinity(value)) n = Copy("-Inf"u8, into);
        else if (value == Math.Floor(value) && Math.Abs(value) < 1e15) ((long)value).TryFormat(into, out n, default, CultureInfo.InvariantCulture);
        else value.TryFormat(into, out n, "R", CultureInfo.InvariantCulture);
        into[n++] = (byte)'\n';
        _length += n;
    }

    /// <summary>An integer sample value, then the line's end.</summary>
    public void AppendValueLine(long value)
    {
        Ensure(24);
        value.TryFormat(_buffer.AsSpan(_length), out int n, default, CultureInfo.InvariantCulture);
        _buffer[_length + n] = (byte)'\n';
        _length += n + 1;
    }

    private static int Copy(ReadOnlySpan<byte> text, Span<byte> into)
    {
        text.CopyTo(into);
        return text.Length;
    }

    private void Ensure(int more)
    {
        if (_length + more <= _buffer.Length)
        {
            return;
        }
        Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + more));
    }

    /// <summary>A label value escaped once, for the prefixes kept per unit.</summary>
    public static byte[] Escaped(string value)
    {
        var b = new ExpositionBuffer();
        b.AppendLabelValue(value);
        return b.Written.ToArray();
    }
}
