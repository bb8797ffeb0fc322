using Supervisor.Metrics.Exposition;

namespace Supervisor.Metrics;

/// <summary>The families in their order, each with its HELP and TYPE lines, then its series.</summary>
public sealed partial class SupervisorMetrics
{
    private void Render()
    {
        _text.Clear();
        WriteStates();
        WriteSubStates();
        foreach (var (family, value) in Families.UnitValuesBeforeSandbox) WriteUnitValues(family, value);
        WriteSandboxInfo();
        WriteUnitValues(Families.SandboxDrift, u => u.Sample.SandboxDrift is { } drift ? (drift ? 1 : 0) : null);
        WriteProbeSuccess();
        lock (_gate)
        {
            WriteProbeDurations();
            WriteDenials();
            WriteUnits();
            _text.Append(Families.ReconcileDuration.Header);
            _reconcileDuration.Write(_text, Families.ReconcileDuration.Name, default);
            _text.Append(Families.ReconcileActions.Header);
            foreach (var (action, count) in _reconcileActions) Families.ReconcileActions.WriteLabelled(_text, "action"u8, action, count);
            WriteDriftRepairs();
        }
        WriteUnitValues(Families.LogDropped, u => u.LogLinesDropped);
        _text.Append(Families.ScrapeErrors.Header);
        _text.Append(Families.ScrapeErrors.Name);
        _text.Append((byte)' ');
        _text.AppendValueLine(_scrapeErrors);
        _text.Append(Families.BuildInfo.Header);
        _text.Append(_buildInfoLine);
    }

    private void WriteUnitValues(MetricFamily family, Func<UnitSeries, double?> value)
    {
        _text.Append(family.Header);
        foreach (var u in _current)
        {
            if (value(u) is { } v) family.WriteUnitValue(_text, u.Label, v);
        }
    }

    private void WriteStates()
    {
        var family = Families.State;
        _text.Append(family.Header);
        foreach (var u in _current)
        {
            for (int i = 0; i < States.Length; i++)
            {
                family.StartUnitSeries(_text, u.Label);
                _text.Append(StateLabels[i]);
                _text.Append(States[i] == u.Sample.ActiveState ? "1\n"u8 : "0\n"u8);
            }
        }
    }

    private void WriteSubStates()
    {
        var family = Families.SubState;
        _text.Append(family.Header);
        foreach (var u in _current)
        {
            family.StartUnitSeries(_text, u.Label);
            _text.Append(",sub_state=\""u8);
            _text.AppendLabelValue(u.Sample.SubState);
            _text.Append("\"} 1\n"u8);
        }
    }

    private void WriteSandboxInfo()
    {
        var family = Families.SandboxInfo;
        _text.Append(family.Header);
        foreach (var u in _current)
        {
            var s = u.Sample;
            family.StartUnitSeries(_text, u.Label);
            _text.Append(",namespaces=\""u8);
            _text.AppendLabelValue(s.Namespaces);
            _text.Append(s.Seccomp ? "\",seccomp=\"1\",apparmor=\""u8 : "\",seccomp=\"0\",apparmor=\""u8);
            _text.AppendLabelValue(s.AppArmor);
            _text.Append("\",selinux=\""u8);
            _text.AppendLabelValue(s.SELinux);
            _text.Append(s.NoNewPrivileges ? "\",no_new_privs=\"1\"} 1\n"u8 : "\",no_new_privs=\"0\"} 1\n"u8);
        }
    }

    private void WriteProbeSuccess()
    {
        var family = Families.ProbeSuccess;
        _text.Append(family.Header);
        foreach (var u in _current)
        {
            foreach (var role in ProbeRoles)
            {
                foreach (var (probe, ok) in u.Sample.Probes)
                {
                    if (probe != role) continue;
                    family.StartUnitSeries(_text, u.Label);
                    _text.Append(",probe=\""u8);
                    _text.AppendLabelValue(probe);
                    _text.Append(ok ? "\"} 1\n"u8 : "\"} 0\n"u8);
                    break;
                }
            }
        }
    }

    private void WriteProbeDurations()
    {
        _text.Append(Families.ProbeDuration.Header);
        foreach (var ((unit, probe), histogram) in _probeDurations)
        {
            if (!_units.TryGetValue(unit, out var u)) continue;
            _labels.Clear();
            _labels.Append("unit=\""u8);
            _labels.Append(u.Label);
            _labels.Append("\",probe=\""u8);
            _labels.AppendLabelValue(probe);
            _labels.Append((byte)'"');
            histogram.Write(_text, Families.ProbeDuration.Name, _labels.Written);
        }
    }

    private void WriteDenials()
    {
        var family = Families.SeccompDenials;
        _text.Append(family.Header);
        foreach (var u in _current)
        {
            if (u.Denials is null) continue;
            foreach (var (syscall, count) in u.Denials)
            {
                family.StartUnitSeries(_text, u.Label);
                _text.Append(",syscall=\""u8);
                _text.AppendLabelValue(syscall);
                _text.Append("\"} "u8);
                _text.AppendValueLine(count);
            }
        }
    }

    private void WriteUnits()
    {
        _text.Append(Families.Units.Header);
        for (int i = 0; i < States.Length; i++) Families.Units.WriteLabelled(_text, "state"u8, States[i], _byState[i]);
    }

    private void WriteDriftRepairs()
    {
        var family = Families.DriftRepairs;
        _text.Append(family.Header);
        foreach (var ((unit, kind), count) in _driftRepairs)
        {
            if (!_units.TryGetValue(unit, out var u)) continue;
            family.StartUnitSeries(_text, u.Label);
            _text.Append(",kind=\""u8);
            _text.AppendLabelValue(kind);
            _text.Append("\"} "u8);
            _text.AppendValueLine(count);
        }
    }
}
