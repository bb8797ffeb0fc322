using System.Text;

namespace Supervisor.Metrics.Exposition;

/// <summary>
/// One metric family: its name and its HELP and TYPE lines, encoded once. Every family is written
/// at every scrape, with its HELP and TYPE lines even when it has no series (as prometheus-net did),
/// so a dashboard sees the same metadata whatever runs.
/// </summary>
internal sealed class MetricFamily
{
    public MetricFamily(string name, string type, string help)
    {
        Name = Encoding.UTF8.GetBytes(name);
        var escapedHelp = help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
        Header = Encoding.UTF8.GetBytes($"# HELP {name} {escapedHelp}\n# TYPE {name} {type}\n");
    }

    /// <summary>The metric name in UTF-8.</summary>
    public byte[] Name { get; }

    /// <summary>"# HELP …\n# TYPE …\n".</summary>
    public byte[] Header { get; }

    /// <summary>NAME{ + the unit's label (unit="…"): the start of every per-unit series.</summary>
    public void StartUnitSeries(ExpositionBuffer into, byte[] unitLabel)
    {
        into.Append(Name);
        into.Append("{unit=\""u8);
        into.Append(unitLabel);
        into.Append((byte)'"');
    }

    /// <summary>NAME{unit="…"} VALUE\n.</summary>
    public void WriteUnitValue(ExpositionBuffer into, byte[] unitLabel, double value)
    {
        StartUnitSeries(into, unitLabel);
        into.Append("} "u8);
        into.AppendValueLine(value);
    }

    /// <summary>NAME{LABEL="VALUE"} N\n, one label (escaped here).</summary>
    public void WriteLabelled(ExpositionBuffer into, ReadOnlySpan<byte> label, string labelValue, double value)
    {
        into.Append(Name);
        into.Append((byte)'{');
        into.Append(label);
        into.Append("=\""u8);
        into.AppendLabelValue(labelValue);
        into.Append("\"} "u8);
        into.AppendValueLine(value);
    }
}
