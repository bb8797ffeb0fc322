using System.Globalization;
using System.Text;

namespace Supervisor.Metrics.Exposition;

/// <summary>
/// A histogram with fixed upper bounds (inclusive, as Prometheus counts "le"): per-bucket counts,
/// sum and count, written as NAME_sum, NAME_count and the cumulative NAME_bucket lines with
/// le="+Inf" last. Not thread-safe: its owner holds a lock around Observe and Write.
/// </summary>
internal sealed class Histogram(Histogram.Bounds bounds)
{
    /// <summary>Upper bounds with their le labels encoded once.</summary>
    public sealed class Bounds
    {
        public Bounds(double start, double factor, int count)
        {
            Values = new double[count];
            Labels = new byte[count][];
            for (int i = 0; i < count; i++, start *= factor)
            {
                Values[i] = start;
                Labels[i] = Encoding.UTF8.GetBytes($"le=\"{start.ToString("R", CultureInfo.InvariantCulture)}\"");
            }
        }

        public double[] Values { get; }

        public byte[][] Labels { get; }
    }

    private readonly long[] _counts = new long[bounds.Values.Length];
    private double _sum;
    private long _count;

    public void Observe(double value)
    {
        int i = 0;
        while (i < _counts.Length && value > bounds.Values[i]) i++;
        if (i < _counts.Length) _counts[i]++;
        _sum += value;
        _count++;
    }

    /// <summary>The series; <paramref name="labels"/> is what goes inside the braces before le (empty for none), already escaped.</summary>
    public void Write(ExpositionBuffer into, byte[] name, ReadOnlySpan<byte> labels)
    {
        Line(into, name, "_sum"u8, labels, default);
        into.AppendValueLine(_sum);
        Line(into, name, "_count"u8, labels, default);
        into.AppendValueLine(_count);
        long cumulative = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            cumulative += _counts[i];
            Line(into, name, "_bucket"u8, labels, bounds.Labels[i]);
            into.AppendValueLine(cumulative);
        }
        Line(into, name, "_bucket"u8, labels, "le=\"+Inf\""u8);
        into.AppendValueLine(_count);
    }

    private static void Line(ExpositionBuffer into, byte[] name, ReadOnlySpan<byte> suffix, ReadOnlySpan<byte> labels, ReadOnlySpan<byte> le)
    {
        into.Append(name);
        into.Append(suffix);
        if (labels.IsEmpty && le.IsEmpty)
        {
            into.Append((byte)' ');
            return;
        }
        into.Append((byte)'{');
        into.Append(labels);
        if (!labels.IsEmpty && !le.IsEmpty) into.Append((byte)',');
        into.Append(le);
        into.Append("} "u8);
    }
}
