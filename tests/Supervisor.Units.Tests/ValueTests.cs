using Supervisor.Linux;
using CsCheck;
using Supervisor.Units.Values;
using Size = Supervisor.Units.Values.Size;

namespace Supervisor.Units.Tests;

public class SizeTests
{
    [Theory]
    [InlineData("0", 0UL)]
    [InlineData("4096", 4096UL)]
    [InlineData("1K", 1024UL)]
    [InlineData("256M", 256UL << 20)]
    [InlineData("1.5G", 3UL << 29)]
    [InlineData("2T", 2UL << 40)]
    [InlineData("64MB", 64UL << 20)]
    public void Parses_systemd_sizes(string text, ulong bytes) => Assert.Equal(Size.FromBytes(bytes), Size.Parse(text));

    [Fact]
    public void Infinity_is_distinct_from_any_byte_count() =>
        Assert.True(Size.Parse("infinity").IsInfinity);

    [Theory]
    [InlineData("")]
    [InlineData("M")]
    [InlineData("12Q")]
    [InlineData("-1M")]
    [InlineData("1.3")]            // a fraction of a byte
    [InlineData("256 M")]
    [InlineData("99999999999999999999T")]
    [InlineData("Infinity")]
    public void Rejects_with_a_message_that_says_what_was_expected(string text)
    {
        var e = Assert.Throws<UnitValueException>(() => Size.Parse(text));
        Assert.Equal($"expected {Size.Expected}, got \"{text}\"", e.Message);
    }

    [Theory]
    [InlineData(268435456UL, "256M")]
    [InlineData(1536UL, "3K" )]
    [InlineData(1000UL, "1000")]
    public void Formats_with_the_largest_exact_suffix(ulong bytes, string text)
    {
        // 1536 = 1.5K is not a whole number of K, so it is written in bytes.
        if (bytes == 1536UL) { Assert.Equal("1536", Size.FromBytes(bytes).ToString()); return; }
        Assert.Equal(text, Size.FromBytes(bytes).ToString());
    }

    [Fact]
    public void Parse_of_format_is_identity() =>
        Gen.ULong[0, ulong.MaxValue - 1].Select(Size.FromBytes)
            .Sample(s => Assert.Equal(s, Size.Parse(s.ToString())));

    [Fact]
    public void Arbitrary_strings_never_throw_anything_but_a_value_error() =>
        Gen.String.Sample(s =>
        {
            try { Size.Parse(s); } catch (UnitValueException) { }
        });

    [Fact]
    public void Size_like_strings_never_throw_anything_but_a_value_error() =>
        Generators.NumberLike("K", "M", "G", "T", "B", "KB", "", " M", "x").Sample(s =>
        {
            try { Size.Parse(s); } catch (UnitValueException) { }
        });
}

public class DurationTests
{
    [Theory]
    [InlineData("250ms", 250_000L)]
    [InlineData("30s", 30_000_000L)]
    [InlineData("90", 90_000_000L)]
    [InlineData("1min 30s", 90_000_000L)]
    [InlineData("1min30s", 90_000_000L)]
    [InlineData("2h", 7_200_000_000L)]
    [InlineData("1.5s", 1_500_000L)]
    [InlineData("5us", 5L)]
    [InlineData("1 d", 86_400_000_000L)]
    [InlineData("1w 2d", 777_600_000_000L)]
    [InlineData("10msec", 10_000L)]
    [InlineData("3 minutes", 180_000_000L)]
    public void Parses_systemd_time_spans(string text, long usec) => Assert.Equal(usec, Duration.Parse(text).Microseconds);

    [Fact]
    public void Infinity() => Assert.True(Duration.Parse("infinity").IsInfinity);

    [Theory]
    [InlineData("")]
    [InlineData("fast")]
    [InlineData("10 parsecs")]
    [InlineData("-5s")]
    [InlineData("1.5us")]
    [InlineData("5sx")]
    [InlineData("999999999999999w")]
    public void Rejects_with_a_message_that_says_what_was_expected(string text)
    {
        var e = Assert.Throws<UnitValueException>(() => Duration.Parse(text));
        Assert.Equal($"expected {Duration.Expected}, got \"{text}\"", e.Message);
    }

    [Theory]
    [InlineData(90_000_000L, "1min 30s")]
    [InlineData(250_000L, "250ms")]
    [InlineData(3_723_004_005L, "1h 2min 3s 4ms 5us")]
    [InlineData(0L, "0")]
    public void Formats_like_systemd(long usec, string text) => Assert.Equal(text, new Duration(usec).ToString());

    [Fact]
    public void Parse_of_format_is_identity() =>
        Gen.Long[0, long.MaxValue - 1].Select(us => new Duration(us))
            .Sample(d => Assert.Equal(d, Duration.Parse(d.ToString())));

    [Fact]
    public void Arbitrary_strings_never_throw_anything_but_a_value_error() =>
        Gen.String.Sample(s =>
        {
            try { Duration.Parse(s); } catch (UnitValueException) { }
        });

    [Fact]
    public void Duration_like_strings_never_throw_anything_but_a_value_error() =>
        Generators.NumberLike("s", "ms", "us", "min", "h", "d", "w", "", " s", "sec", "1min").Sample(s =>
        {
            try { Duration.Parse(s); } catch (UnitValueException) { }
        });
}

public class PercentTests
{
    [Theory]
    [InlineData("50%", 5000L)]
    [InlineData("150%", 15000L)]
    [InlineData("12.5%", 1250L)]
    [InlineData("0.01%", 1L)]
    public void Parses(string text, long hundredths) => Assert.Equal(hundredths, Percent.Parse(text).Hundredths);

    [Theory]
    [InlineData("50")]
    [InlineData("%")]
    [InlineData("0.001%")]
    [InlineData("-5%")]
    [InlineData("half%")]
    public void Rejects(string text)
    {
        var e = Assert.Throws<UnitValueException>(() => Percent.Parse(text));
        Assert.Equal($"expected {Percent.Expected}, got \"{text}\"", e.Message);
    }

    [Fact]
    public void Parse_of_format_is_identity() =>
        Gen.Long[0, long.MaxValue / 4].Select(h => new Percent(h))
            .Sample(p => Assert.Equal(p, Percent.Parse(p.ToString())));

    [Fact]
    public void Arbitrary_strings_never_throw_anything_but_a_value_error() =>
        Gen.String.Sample(s =>
        {
            try { Percent.Parse(s); } catch (UnitValueException) { }
        });

    [Fact]
    public void Percent_like_strings_never_throw_anything_but_a_value_error() =>
        Generators.NumberLike("%", "", "%%", " %").Sample(s =>
        {
            try { Percent.Parse(s); } catch (UnitValueException) { }
        });
}

public class NameTableTests
{
    [Theory]
    [InlineData("CAP_NET_BIND_SERVICE", 10)]
    [InlineData("net_bind_service", 10)]
    [InlineData("Cap_Sys_Admin", 21)]
    [InlineData("CAP_CHECKPOINT_RESTORE", 40)]
    public void Capabilities_with_or_without_prefix_in_any_case(string name, int number) =>
        Assert.Equal(number, Capabilities.Parse(name));

    [Fact]
    public void Unknown_capability_suggests_the_nearest()
    {
        var e = Assert.Throws<UnitValueException>(() => Capabilities.Parse("CAP_NET_BIND_SERVIC"));
        Assert.Equal("unknown capability \"CAP_NET_BIND_SERVIC\"", e.Message);
        Assert.Equal("did you mean 'CAP_NET_BIND_SERVICE'?", e.Hint);
    }

    [Theory]
    [InlineData("SIGTERM", 15)]
    [InlineData("term", 15)]
    [InlineData("SIGKILL", 9)]
    [InlineData("USR1", 10)]
    public void Signals(string name, int number) => Assert.Equal(number, Values.SignalValue.Parse(name));

    [Fact]
    public void Unknown_signal()
    {
        var e = Assert.Throws<UnitValueException>(() => Values.SignalValue.Parse("SIGTREM"));
        Assert.Equal("expected a signal name like \"SIGTERM\", got \"SIGTREM\"", e.Message);
        Assert.Equal("did you mean 'SIGTERM'?", e.Hint);
    }

    [Fact]
    public void Syscall_groups_expand_nested_groups()
    {
        var service = SyscallTable.Expand("@system-service");
        Assert.Contains("read", service);           // from @basic-io
        Assert.Contains("chown", service);          // from @chown
        Assert.DoesNotContain("@chown", service);
        Assert.DoesNotContain("mount", service);    // @mount is not part of @system-service
        Assert.Contains("mount", SyscallTable.Expand("@mount"));
    }

    /// <summary>The embedded table must say exactly what this machine's systemd says.</summary>
    [Fact]
    public void Group_table_matches_systemd_analyze_on_this_machine()
    {
        var output = Run("systemd-analyze", "syscall-filter --no-pager");
        if (output is null) Assert.Skip("systemd-analyze is not installed here");
        var live = new Dictionary<string, List<string>>();
        List<string>? current = null;
        foreach (var line in output.Split('\n'))
        {
            if (line.StartsWith('@')) live[line.Trim()] = current = [];
            else if (current is not null && line.Trim() is { Length: > 0 } t && !t.StartsWith('#')) current.Add(t);
        }
        Assert.Equal(live.Keys.Order(), SyscallTable.RawGroups.Keys.Except(SyscallTable.OwnGroups).Order());
        foreach (var (group, members) in live)
            Assert.Equal(members.Order(), SyscallTable.RawGroups[group].Order());
    }

    private static string? Run(string program, string args)
    {
        try
        {
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(program, args)
            { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var text = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? text : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    [Theory]
    [InlineData("MemoryMaxx", "MemoryMax")]
    [InlineData("memorymax", "MemoryMax")]
    [InlineData("Resart", "Restart")]
    [InlineData("ExecStrat", "ExecStart")]
    public void Suggests_near_misses(string typo, string expected) =>
        Assert.Equal(expected, Suggest.Nearest(typo, Keys.KeyTable.All.Select(k => k.Name)));

    [Fact]
    public void Does_not_suggest_unrelated_words() =>
        Assert.Null(Suggest.Nearest("Frobnicate", Keys.KeyTable.All.Select(k => k.Name)));
}

internal static class Generators
{
    /// <summary>
    /// Strings shaped like the values a parser expects: runs of digits (up to 45, past every
    /// integer type), an optional fraction, a suffix, repeated once in a while.
    /// </summary>
    public static Gen<string> NumberLike(params string[] suffixes)
    {
        var digits = Gen.Char['0', '9'].Array[1, 45].Select(c => new string(c));
        var part = Gen.Select(digits, Gen.Bool, digits, Gen.OneOfConst(suffixes),
            (whole, hasFraction, fraction, suffix) => whole + (hasFraction ? "." + fraction : "") + suffix);
        return Gen.Select(part, part, Gen.Int[0, 3], (a, b, n) => n == 0 ? a + " " + b : a);
    }
}

/// <summary>systemd.service(5): "TimeoutStopSec=0 … disables the timeout logic". Debian's redis unit relies on it.</summary>
public class TimeoutTests
{
    [Theory]
    [InlineData("TimeoutStopSec = 0")]
    [InlineData("TimeoutStopSec = \"0\"")]
    [InlineData("TimeoutStopSec = \"infinity\"")]
    public void A_zero_stop_timeout_means_no_timeout(string line) =>
        Assert.True(Parse.Valid($"[Service]\nExecStart = [\"/bin/true\"]\n{line}\n").Service.TimeoutStopSec.IsInfinity);

    [Fact]
    public void A_zero_start_timeout_means_no_timeout() =>
        Assert.True(Parse.Valid("[Service]\nExecStart = [\"/bin/true\"]\nTimeoutStartSec = \"0s\"\n").Service.TimeoutStartSec.IsInfinity);

    [Fact]
    public void Other_timeouts_keep_their_value() =>
        Assert.Equal(Duration.FromSeconds(5), Parse.Valid("[Service]\nExecStart = [\"/bin/true\"]\nTimeoutStopSec = 5\n").Service.TimeoutStopSec);
}

/// <summary>systemd names a service unit "redis.service"; Supervisor's unit is "redis".</summary>
public class UnitNameTests
{
    [Fact]
    public void A_dependency_written_the_systemd_way_names_the_service()
    {
        var unit = Parse.Valid("[Unit]\nRequires = [\"db.service\"]\nAfter = [\"db.service\", \"cache\"]\n[Service]\nExecStart = [\"/bin/true\"]\n");
        Assert.Equal(["db"], unit.Unit.Requires);
        Assert.Equal(["db", "cache"], unit.Unit.After);
    }
}

/// <summary>Issue #14: "A systemd-only value spelled the systemd way is accepted" — for every boolean key, not only the new ones.</summary>
public class SystemdBooleanTests
{
    [Fact]
    public void Every_boolean_key_takes_systemds_spellings()
    {
        var unit = Parse.Valid("[Service]\nExecStart = [\"/bin/true\"]\nRemainAfterExit = \"yes\"\n[Sandbox]\nPrivateTmp = \"yes\"\nNoNewPrivileges = \"on\"\nPrivateDevices = \"0\"\nProtectSystem = \"yes\"\nProtectHome = \"no\"\n");
        Assert.True(unit.Service.RemainAfterExit);
        Assert.True(unit.Sandbox.PrivateTmp);
        Assert.True(unit.Sandbox.NoNewPrivileges);
        Assert.False(unit.Sandbox.PrivateDevices);
        Assert.Equal(Supervisor.Units.Model.ProtectSystem.Yes, unit.Sandbox.ProtectSystem);
        Assert.Equal(Supervisor.Units.Model.ProtectHome.No, unit.Sandbox.ProtectHome);
    }

    [Fact]
    public void A_named_value_keeps_its_meaning() =>
        Assert.Equal(Supervisor.Units.Model.ProtectSystem.Strict, Parse.Valid("[Service]\nExecStart = [\"/bin/true\"]\n[Sandbox]\nProtectSystem = \"strict\"\n").Sandbox.ProtectSystem);
}

/// <summary>Issue #15: init-only keys from systemd are accepted with one warning per file that says they do nothing here.</summary>
public class InitOnlyKeyTests
{
    [Fact]
    public void Install_and_default_dependencies_are_accepted_with_one_warning_that_names_them()
    {
        var (unit, diagnostics) = Parse.Service("[Unit]\nDefaultDependencies = false\n[Service]\nExecStart = [\"/bin/true\"]\n[Install]\nWantedBy = [\"multi-user.target\"]\nAlias = \"x.service\"\n");
        Assert.NotNull(unit);
        var warning = Assert.Single(diagnostics);
        Assert.Equal(Severity.Warning, warning.Severity);
        Assert.Equal(2, warning.Location.Line);
        Assert.Contains("init-only keys have no effect here and are ignored: [Unit] DefaultDependencies, [Install] WantedBy, [Install] Alias", warning.Message);
    }

    [Fact]
    public void Other_unknown_keys_are_still_errors() =>
        Assert.Contains("unknown key 'DefaultDependency' in [Unit]", Parse.SingleError("[Unit]\nDefaultDependency = false\n[Service]\nExecStart = [\"/bin/true\"]\n").Message);
}
