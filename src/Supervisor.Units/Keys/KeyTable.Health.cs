using System.Globalization;
using System.Net;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;
using Supervisor.Units.Values;
using V = Supervisor.Units.Keys.ValueTypes;
using static Supervisor.Units.Keys.ChangeEffect;

namespace Supervisor.Units.Keys;

public static partial class KeyTable
{
    public const string HealthSection = "Health";

    private static KeySpec<ProbeSpec?> H(ProbeRole role, Func<HealthSection, ProbeSpec?> get, Func<HealthSection, ProbeSpec?, HealthSection> set, string doc) =>
        new(new Nullable<ProbeSpec>(new ProbeValue(role)), u => get(u.Health), (u, v) => u with { Health = set(u.Health, v) })
        { Section = HealthSection, Name = role + "Probe", OnChange = NextUse, Default = "none", Description = doc };

    /// <summary>
    /// [Health]: Kubernetes' probes for a service. They are read when they next run, so a changed
    /// period, threshold or check applies from the next run; a probe added to (or removed from) a
    /// running unit is armed (or dropped) at its next start.
    /// </summary>
    private static IEnumerable<KeySpec> HealthKeys() =>
    [
        H(ProbeRole.Startup, h => h.StartupProbe, (h, v) => h with { StartupProbe = v },
            "held before the others: until it succeeds the unit stays activating and liveness and readiness do not run; FailureThreshold failures in a row fail the unit with result \"health\" (restarted by Restart=)"),
        H(ProbeRole.Liveness, h => h.LivenessProbe, (h, v) => h with { LivenessProbe = v },
            "FailureThreshold failures in a row kill the service (KillSignal, as a stop) and fail it with result \"health\", which Restart= on-failure, on-abnormal, on-watchdog and always restart, with RestartSec and its backoff"),
        H(ProbeRole.Readiness, h => h.ReadinessProbe, (h, v) => h with { ReadinessProbe = v },
            "the unit stays activating until it succeeds SuccessThreshold times, so units ordered After= it start only then; losing readiness later is shown (status, D-Bus, metrics), nothing is restarted"),
    ];

    /// <summary>Rules between the probes and the service: a probe watches a running process.</summary>
    internal static IEnumerable<(string Section, string Key, string Message, bool Error, string? Hint)> HealthConsistency(UnitDefinition unit)
    {
        if (unit.Service.Type != ServiceType.Oneshot) yield break;
        foreach (var role in Enum.GetValues<ProbeRole>())
            if (unit.Health.Of(role) is not null)
                yield return (HealthSection, role + "Probe", $"[Health] {role}Probe: a Type = \"oneshot\" service has no running process to probe", true, "remove the probe, or use another Type");
    }

    /// <summary>
    /// A probe as an inline table: exactly one of Exec, Http or Tcp, and Kubernetes' timing fields.
    /// Timing is checked here, where the message can name the field: a timeout longer than the
    /// period would let runs overlap; liveness and startup take SuccessThreshold 1 only (as Kubernetes).
    /// </summary>
    private sealed class ProbeValue(ProbeRole role) : IValueType<ProbeSpec>
    {
        private static readonly string[] Fields = ["Exec", "Http", "Tcp", "PeriodSec", "TimeoutSec", "InitialDelaySec", "FailureThreshold", "SuccessThreshold"];

        public string Describe => "inline table: one of Exec = [argv], Http = \"http://127.0.0.1:PORT/PATH\", Tcp = \"127.0.0.1:PORT\"; " +
            "PeriodSec (10), TimeoutSec (1), InitialDelaySec (0) as durations or seconds (fractions allowed, period at least 100ms), FailureThreshold (3), SuccessThreshold (1)";

        public ProbeSpec Parse(TomlValue value)
        {
            if (value is not TomlTable table)
                throw V.Expected("an inline table such as { Http = \"http://127.0.0.1:8080/healthz\", PeriodSec = 5 }", value);
            var fields = new Dictionary<string, TomlValue>(StringComparer.Ordinal);
            foreach (var e in table.Entries)
            {
                if (!Fields.Contains(e.Key))
                    throw new UnitValueException($"unknown field '{e.Key}' in the probe", Suggest.Hint(e.Key, Fields));
                fields[e.Key] = e.Value;
            }
            var checks = Fields[..3].Where(fields.ContainsKey).ToList();
            if (checks.Count != 1)
                throw new UnitValueException(checks.Count == 0 ? "the probe needs one of Exec, Http or Tcp" : $"the probe has {string.Join(" and ", checks)}; give only one");
            var spec = checks[0] switch
            {
                "Exec" => ExecProbe(fields["Exec"]),
                "Http" => HttpProbe(V.AsString(fields["Http"], "a URL string")),
                _ => TcpProbe(V.AsString(fields["Tcp"], "an address string \"127.0.0.1:PORT\"")),
            };
            return Timing(spec, fields);
        }

        private ProbeSpec Timing(ProbeSpec spec, Dictionary<string, TomlValue> f)
        {
            spec = spec with
            {
                Period = f.TryGetValue("PeriodSec", out var p) ? Seconds("PeriodSec", p) : spec.Period,
                Timeout = f.TryGetValue("TimeoutSec", out var t) ? Seconds("TimeoutSec", t) : spec.Timeout,
                InitialDelay = f.TryGetValue("InitialDelaySec", out var d) ? Seconds("InitialDelaySec", d) : spec.InitialDelay,
                FailureThreshold = f.TryGetValue("FailureThreshold", out var ft) ? Count("FailureThreshold", ft) : spec.FailureThreshold,
                SuccessThreshold = f.TryGetValue("SuccessThreshold", out var st) ? Count("SuccessThreshold", st) : spec.SuccessThreshold,
            };
            if (spec.Period.Microseconds < ProbeSpec.Defaults.MinPeriod.Microseconds)
                throw new UnitValueException($"PeriodSec {spec.Period} is shorter than the minimum, {ProbeSpec.Defaults.MinPeriod}");
            if (spec.Timeout == Duration.Zero)
                throw new UnitValueException("TimeoutSec must be more than 0");
            if (spec.Timeout.Microseconds > spec.Period.Microseconds)
                throw new UnitValueException($"TimeoutSec ({spec.Timeout}) is longer than PeriodSec ({spec.Period}); a run would still be going when the next one is due",
                    "make TimeoutSec at most PeriodSec");
            if (role != ProbeRole.Readiness && spec.SuccessThreshold != 1)
                throw new UnitValueException($"SuccessThreshold must be 1 for a {role.ToString().ToLowerInvariant()} probe (as in Kubernetes), got {spec.SuccessThreshold}");
            return spec;
        }

        private static Duration Seconds(string field, TomlValue v)
        {
            Duration d;
            try
            {
                d = v is TomlFloat f && f.Value >= 0 && f.Value < 1e9 ? new Duration((long)Math.Round(f.Value * 1_000_000)) : V.Duration.Parse(v);
            }
            catch (UnitValueException e)
            {
                throw new UnitValueException($"{field}: {e.Message}", e.Hint);
            }
            if (d.IsInfinity) throw new UnitValueException($"{field} cannot be \"infinity\"");
            return d;
        }

        private static int Count(string field, TomlValue v) =>
            v is TomlInteger { Value: >= 1 and <= 1000 } i ? (int)i.Value
                : throw new UnitValueException($"{field}: expected an integer from 1 to 1000, got {V.Show(v)}");

        private static ProbeSpec ExecProbe(TomlValue v)
        {
            var command = V.Command.Parse(v);
            // The probe runs as the unit runs, never with more: "+" leaves the sandbox, "!" stays root.
            if (command.Flags.HasFlag(ExecFlags.FullPrivileges) || command.Flags.HasFlag(ExecFlags.NoUserChange))
                throw new UnitValueException($"Exec: the prefixes \"+\" and \"!\" are refused: a probe never runs with more privilege than the unit");
            if (!command.WrittenProgram.StartsWith('/'))
                throw new UnitValueException($"Exec: program \"{command.WrittenProgram}\" must be an absolute path in a probe");
            return new ProbeSpec { Check = ProbeCheck.Exec, Command = command };
        }

        private static ProbeSpec HttpProbe(string url)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
                throw new UnitValueException($"Http: \"{url}\" is not a URL; expected \"http://127.0.0.1:PORT/PATH\"");
            if (uri.Scheme != "http")
                throw new UnitValueException($"Http: \"{url}\" is {uri.Scheme}; only http is probed (a loopback check needs no TLS)", "write http://");
            if (uri.UserInfo.Length > 0 || uri.Fragment.Length > 0)
                throw new UnitValueException($"Http: \"{url}\" has a user or a fragment; write only host, port and path");
            var host = uri.IdnHost;
            if (!IsLoopback(host))
                throw new UnitValueException($"Http: \"{url}\" is not a loopback address; a probe reaches only 127.0.0.0/8, ::1 or localhost, inside the unit's network namespace");
            return new ProbeSpec { Check = ProbeCheck.Http, Url = url, Host = host, Port = uri.Port, Path = uri.PathAndQuery };
        }

        private static ProbeSpec TcpProbe(string address)
        {
            int colon = address.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(address[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
                throw new UnitValueException($"Tcp: expected \"HOST:PORT\" with a port 1–65535, got \"{address}\"");
            var host = address[..colon];
            if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
            if (!IsLoopback(host))
                throw new UnitValueException($"Tcp: \"{address}\" is not a loopback address; a probe reaches only 127.0.0.0/8, ::1 or localhost, inside the unit's network namespace");
            return new ProbeSpec { Check = ProbeCheck.Tcp, Address = address, Host = host, Port = port };
        }

        private static bool IsLoopback(string host) =>
            host == "localhost" || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

        public object ToPlain(ProbeSpec p)
        {
            var entries = new List<KeyValuePair<string, object>>();
            entries.Add(p.Check switch
            {
                ProbeCheck.Exec => new("Exec", V.Command.ToPlain(p.Command!)),
                ProbeCheck.Http => new("Http", p.Url!),
                _ => new("Tcp", p.Address!),
            });
            entries.Add(new("PeriodSec", p.Period.ToString()));
            entries.Add(new("TimeoutSec", p.Timeout.ToString()));
            entries.Add(new("InitialDelaySec", p.InitialDelay.ToString()));
            entries.Add(new("FailureThreshold", (long)p.FailureThreshold));
            entries.Add(new("SuccessThreshold", (long)p.SuccessThreshold));
            return Plain.Table(entries);
        }
    }
}
