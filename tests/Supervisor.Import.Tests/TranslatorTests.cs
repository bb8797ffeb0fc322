using Supervisor.Import.Translate;

namespace Supervisor.Import.Tests;

/// <summary>Each value type converted as systemd reads the directive, and everything not carried reported with file:line and why.</summary>
public sealed class TranslatorTests : IDisposable
{
    private readonly Scratch _s = new();

    public void Dispose() => _s.Dispose();

    private Candidate Service(string service, string unit = "") =>
        _s.Translate("t.service", $"[Unit]\n{unit}\n[Service]\nExecStart=/bin/true\n{service}\n");

    private static List<object> List(object? value) => Assert.IsType<List<object>>(value);

    [Fact]
    public void Booleans_take_every_systemd_spelling_and_a_value_systemd_cannot_parse_is_ignored_as_systemd_does()
    {
        var c = Service("NoNewPrivileges=yes\nPrivateTmp=on\nPrivateDevices=1\nPrivateDevices=0\nProtectControlGroups=true\nProtectControlGroups=maybe");
        Assert.Equal((true, true, false, true), (c.Value("NoNewPrivileges"), c.Value("PrivateTmp"), c.Value("PrivateDevices"), c.Value("ProtectControlGroups")));
        var ignored = c.Why("ProtectControlGroups");
        Assert.Equal((Why.IgnoredBySystemd, 10), (ignored.Why, ignored.Location.Line));
    }

    [Fact]
    public void Booleans_or_modes_are_written_as_a_boolean_or_the_mode()
    {
        var c = Service("ProtectSystem=strict\nProtectHome=yes");
        Assert.Equal(("strict", true), (c.Value("ProtectSystem"), c.Value("ProtectHome")));
        Assert.Equal("read-only", Service("ProtectHome=read-only").Value("ProtectHome"));
    }

    [Fact]
    public void List_directives_append_split_by_quoting_and_an_empty_assignment_resets_them()
    {
        var c = Service("ReadWritePaths=/a \"/b c\"\nReadWritePaths=\nReadWritePaths=-/d\nReadWritePaths=+/e /f\nSupplementaryGroups=adm\nSupplementaryGroups=users");
        Assert.Equal(["-/d", "/e", "/f"], List(c.Value("ReadWritePaths")));
        Assert.Equal(["adm", "users"], List(c.Value("SupplementaryGroups")));
    }

    [Fact]
    public void Directories_modes_and_credentials_are_carried_with_systemds_text_as_it_is()
    {
        var c = Service("RuntimeDirectory=redis a/b\nRuntimeDirectoryMode=2755\nRuntimeDirectoryPreserve=restart\nStateDirectory=x\nStateDirectory=\nStateDirectory=y\n" +
            "LoadCredential=tls:/etc/ssl/k.pem\nSetCredential=motd:hello world\\n");
        Assert.Equal(["redis", "a/b"], List(c.Value("RuntimeDirectory")));
        Assert.Equal(("2755", "restart"), (c.Value("RuntimeDirectoryMode"), c.Value("RuntimeDirectoryPreserve")));
        Assert.Equal(["y"], List(c.Value("StateDirectory")));
        Assert.Equal(["tls:/etc/ssl/k.pem"], List(c.Value("LoadCredential")));
        // One item per line, spaces and the C escape kept: Supervisor reads the escape as systemd does.
        Assert.Equal(["motd:hello world\\n"], List(c.Value("SetCredential")));
    }

    [Fact]
    public void Time_spans_are_read_as_systemd_reads_them_and_a_zero_timeout_means_no_timeout()
    {
        var c = Service("RestartSec=1min 30s\nTimeoutStartSec=1.5h\nTimeoutStopSec=0\nWatchdogSec=500ms", unit: "StartLimitIntervalSec=2 m");
        Assert.Equal(("1min 30s", "1h 30min", "infinity", "500ms", "2min"),
            (c.Value("RestartSec"), c.Value("TimeoutStartSec"), c.Value("TimeoutStopSec"), c.Value("WatchdogSec"), c.Value("StartLimitIntervalSec")));
        var both = Service("TimeoutSec=5min");
        Assert.Equal(("5min", "5min"), (both.Value("TimeoutStartSec"), both.Value("TimeoutStopSec")));
        var bad = Service("RestartSec=2s\nRestartSec=5 parsecs");
        Assert.Equal("2s", bad.Value("RestartSec"));
        Assert.Equal(Why.IgnoredBySystemd, bad.Why("RestartSec").Why);
    }

    [Fact]
    public void Sizes_are_powers_of_1024_and_a_share_of_memory_cannot_be_carried()
    {
        var c = Service("MemoryMax=512M\nMemoryHigh=1.5G\nMemorySwapMax=infinity\nMemoryLow=1000");
        Assert.Equal(("512M", "1536M", "infinity", "1000"), (c.Value("MemoryMax"), c.Value("MemoryHigh"), c.Value("MemorySwapMax"), c.Value("MemoryLow")));
        var share = Service("MemoryMax=20%");
        Assert.Null(share.Value("MemoryMax"));
        Assert.Equal((Why.NotExpressible, 5), (share.Why("MemoryMax").Why, share.Why("MemoryMax").Location.Line));
        Assert.Equal("1G", Service("MemoryLimit=1G").Value("MemoryMax"));
    }

    [Fact]
    public void Resource_values_keep_their_meaning()
    {
        var c = Service("CPUQuota=150%\nCPUShares=512\nAllowedCPUs=0-1 3\nTasksMax=64\nIOWeight=200\nBlockIOWeight=1000");
        Assert.Equal(("150%", 50L, "0-1,3", 64L), (c.Value("CPUQuota"), c.Value("CPUWeight"), c.Value("AllowedCPUs"), c.Value("TasksMax")));
        Assert.Equal(200L, c.Value("IOWeight") is 200L ? 200L : -1L);
        Assert.Equal(Why.NotExpressible, Service("TasksMax=10%").Why("TasksMax").Why);
    }

    [Fact]
    public void IO_limits_are_per_device_in_powers_of_1000_and_infinity_removes_a_device()
    {
        var c = Service("IOReadBandwidthMax=/dev/sda 1M\nIOReadBandwidthMax=/dev/sdb 5K\nIOReadBandwidthMax=/dev/sdb infinity\nIOWriteIOPSMax=/dev/sda 100");
        var read = Assert.IsType<List<KeyValuePair<string, object>>>(c.Value("IOReadBandwidthMax"));
        Assert.Equal(["/dev/sda=1000000"], read.Select(kv => $"{kv.Key}={kv.Value}"));
        Assert.Equal(["/dev/sda=100"], Assert.IsType<List<KeyValuePair<string, object>>>(c.Value("IOWriteIOPSMax")).Select(kv => $"{kv.Key}={kv.Value}"));
        Assert.Equal(Why.NotExpressible, Service("IOReadBandwidthMax=/var/lib 1M").Why("IOReadBandwidthMax").Why);
    }

    [Fact]
    public void Resource_limits_use_the_unit_systemd_reads_each_in()
    {
        var c = Service("LimitNOFILE=1024:4096\nLimitCPU=1500ms\nLimitNICE=-5\nLimitCORE=infinity\nLimitAS=1G\nLimitRTTIME=1s\nLimitNPROC=512");
        Assert.Equal(("1024:4096", 2L, 25L, "infinity", "1G", 1000000L, 512L),
            (c.Value("LimitNOFILE"), c.Value("LimitCPU"), c.Value("LimitNICE"), c.Value("LimitCORE"), c.Value("LimitAS"), c.Value("LimitRTTIME"), c.Value("LimitNPROC")));
    }

    [Fact]
    public void Signals_and_exit_statuses_take_systemd_names_and_numbers()
    {
        var c = Service("KillSignal=9\nSuccessExitStatus=143 SIGUSR1 DATAERR\nRestartPreventExitStatus=255 bogus");
        Assert.Equal("SIGKILL", c.Value("KillSignal"));
        Assert.Equal([143L, "SIGUSR1", 65L], List(c.Value("SuccessExitStatus")));
        Assert.Equal([255L], List(c.Value("RestartPreventExitStatus")));
        Assert.Equal(Why.IgnoredBySystemd, c.Why("RestartPreventExitStatus").Why);
    }

    [Fact]
    public void The_capability_bounding_set_follows_systemds_merge_rule()
    {
        Assert.Equal(["CAP_CHOWN"], List(Service("CapabilityBoundingSet=CAP_CHOWN CAP_KILL\nCapabilityBoundingSet=~CAP_KILL").Value("CapabilityBoundingSet")));
        Assert.Equal([], List(Service("CapabilityBoundingSet=CAP_CHOWN\nCapabilityBoundingSet=").Value("CapabilityBoundingSet")));
        Assert.Equal(["~CAP_SYS_MODULE", "CAP_SYS_ADMIN"], List(Service("CapabilityBoundingSet=~CAP_SYS_ADMIN cap_sys_module").Value("CapabilityBoundingSet")));
        Assert.Null(Service("CapabilityBoundingSet=~").Value("CapabilityBoundingSet"));
        Assert.Equal(["CAP_NET_BIND_SERVICE"], List(Service("AmbientCapabilities=CAP_NET_BIND_SERVICE").Value("AmbientCapabilities")));
    }

    [Fact]
    public void The_system_call_filter_keeps_one_entry_per_assignment_and_an_allow_list_admits_default_as_systemd_does()
    {
        Assert.Equal(["@default", "@system-service", "~@privileged @resources"],
            List(Service("SystemCallFilter=@system-service\nSystemCallFilter=~ @privileged @resources").Value("SystemCallFilter")));
        Assert.Equal(["~@mount"], List(Service("SystemCallFilter=~@mount").Value("SystemCallFilter")));
    }

    [Fact]
    public void Environment_is_quoted_assignments_a_later_value_wins_and_a_word_without_equals_is_ignored()
    {
        var c = Service("Environment=A=1 \"B=two words\" NOEQ\nEnvironment=A=3 C=\\x41");
        var env = Assert.IsType<List<KeyValuePair<string, object>>>(c.Value("Environment"));
        Assert.Equal(["A=3", "B=two words", "C=A"], env.Select(kv => $"{kv.Key}={kv.Value}"));
        Assert.Equal(Why.IgnoredBySystemd, c.Why("Environment").Why);
    }

    [Fact]
    public void Exec_lines_keep_every_prefix_as_written()
    {
        var c = _s.Translate("t.service", "[Service]\nUser=nobody\nExecStart=-/usr/bin/env FOO=1\nExecStartPre=+/bin/mkdir -p /run/x\nExecStartPre=!!/bin/true\n" +
            "ExecStartPost=@/bin/sh other-name -c true\nExecReload=!-/bin/true\nExecStop=:/bin/echo $HOME\n");
        Assert.Equal(["-/usr/bin/env", "FOO=1"], List(c.Value("ExecStart")));
        Assert.Equal([["+/bin/mkdir", "-p", "/run/x"], ["!!/bin/true"]], List(c.Value("ExecStartPre")).Select(x => List(x).Cast<string>().ToList()));
        Assert.Equal(["@/bin/sh", "other-name", "-c", "true"], List(List(c.Value("ExecStartPost"))[0]));
        Assert.Equal(["-!/bin/true"], List(List(c.Value("ExecReload"))[0]));
        Assert.Equal([":/bin/echo", "$HOME"], List(List(c.Value("ExecStop"))[0]));
        Assert.False(c.LostMeaning);
    }

    [Fact]
    public void PermissionsStartOnly_is_plus_on_every_command_but_ExecStart()
    {
        var c = Service("User=nobody\nPermissionsStartOnly=yes\nExecStartPre=/bin/mkdir -p /run/x\nExecStopPost=!/bin/true");
        Assert.Equal(["+/bin/mkdir", "-p", "/run/x"], List(List(c.Value("ExecStartPre"))[0]));
        Assert.Equal(["!/bin/true"], List(List(c.Value("ExecStopPost"))[0]));
        Assert.Equal(["/bin/true"], List(c.Value("ExecStart")));
    }

    [Fact]
    public void Variables_are_kept_as_written_for_Supervisor_to_expand_when_the_command_starts()
    {
        var c = _s.Translate("t.service", "[Service]\nEnvironment=A=x \"B=y z\"\nEnvironmentFile=-/etc/default/t\nExecStart=/bin/echo $A ${B} pre${A}post $$HOME $EXTRA_OPTS \"-x ${B}\"\n" +
            "ExecReload=/bin/kill -HUP $MAINPID\n");
        Assert.Equal(["/bin/echo", "$A", "${B}", "pre${A}post", "$$HOME", "$EXTRA_OPTS", "-x ${B}"], List(c.Value("ExecStart")));
        Assert.Equal(["/bin/kill", "-HUP", "$MAINPID"], List(List(c.Value("ExecReload"))[0]));
        Assert.False(c.LostMeaning);
    }

    [Fact]
    public void A_variable_only_systemd_sets_makes_the_command_not_carried()
    {
        var c = Service("ExecStartPre=/bin/echo - ${TERM}");
        Assert.Null(c.Value("ExecStartPre"));
        var why = c.Why("ExecStartPre");
        Assert.Equal((Why.NotExpressible, 5), (why.Why, why.Location.Line));
        Assert.Contains("$TERM", why.Detail);
    }

    [Fact]
    public void A_variable_systemd_sets_for_some_units_is_carried_for_the_units_where_Supervisor_sets_it_too()
    {
        // A getty: on a terminal, so $TERM is set (by both); its RuntimeDirectory gives $RUNTIME_DIRECTORY.
        var c = _s.Translate("tty.service", "[Service]\nStandardInput=tty\nTTYPath=/dev/tty1\nRuntimeDirectory=t\nExecStart=-/sbin/agetty - $TERM $RUNTIME_DIRECTORY\n");
        Assert.Equal(["-/sbin/agetty", "-", "$TERM", "$RUNTIME_DIRECTORY"], List(c.Value("ExecStart")));
        // Without them, neither is set, and the line says so.
        var off = _s.Translate("off.service", "[Service]\nExecStart=/bin/echo $RUNTIME_DIRECTORY\n");
        Assert.Contains("$RUNTIME_DIRECTORY", off.Why("ExecStart").Detail);
    }

    [Fact]
    public void Several_ExecStart_lines_of_a_oneshot_become_an_array_of_commands_in_order()
    {
        var c = _s.Translate("t.service", "[Service]\nType=oneshot\nExecStart=/bin/a\nExecStart=-/bin/b x\nExecStartPost=/bin/c\n");
        Assert.Equal([["/bin/a"], ["-/bin/b", "x"]], List(c.Value("ExecStart")).Select(x => List(x).Cast<string>().ToList()));
        Assert.Equal([["/bin/c"]], List(c.Value("ExecStartPost")).Select(x => List(x).Cast<string>().ToList()));
        Assert.Null(c.Unwritable);
    }

    [Fact]
    public void Several_ExecStart_lines_of_another_type_are_refused_as_systemd_refuses_them_and_nothing_is_written()
    {
        var c = _s.Translate("t.service", "[Service]\nExecStart=/bin/a\nExecStart=/bin/b\n");
        Assert.Equal(Why.NotExpressible, c.Why("ExecStart").Why);
        Assert.NotNull(c.Unwritable);
    }

    [Fact]
    public void Dependencies_name_units_as_Supervisor_does_and_other_unit_types_are_reported()
    {
        // db exists in the output directory already; ghost nowhere; network-online.target is a well-known target.
        _s.Write("out/db.toml", "[Service]\nExecStart = [\"/bin/true\"]\n");
        var c = Service("", unit: "After=network.target db.service web.slice var-lib.mount\nRequires=db.service ghost.service network-online.target");
        Assert.Equal(["network.target", "db", "web.slice"], List(c.Value("After")));
        Assert.Equal(["db", "network-online.target"], List(c.Value("Requires")));
        Assert.Equal(Why.OtherUnitType, c.Why("After").Why);
        Assert.Contains("var-lib.mount", c.Why("After").Detail);
        Assert.Equal(Why.MissingUnit, c.Why("Requires").Why);
        Assert.StartsWith("ghost:", c.Why("Requires").Detail);
    }

    [Fact]
    public void Conditions_are_carried_one_entry_per_assignment_with_their_prefixes_and_an_empty_one_resets()
    {
        var c = _s.Translate("t.service",
            "[Unit]\nConditionPathExists=/gone\nConditionPathExists=\nConditionPathExists=!/etc/ssh/sshd_not_to_be_run\nConditionPathExists=|/a b\n" +
            "AssertKernelVersion=>=4.0 <99\nConditionVirtualization=!container\n[Service]\nExecStart=/bin/true\nExecCondition=/bin/test -e /x\n");
        Assert.Equal(["!/etc/ssh/sshd_not_to_be_run", "|/a b"], List(c.Value("ConditionPathExists")));
        Assert.Equal([">=4.0 <99"], List(c.Value("AssertKernelVersion")));
        Assert.Equal(["!container"], List(c.Value("ConditionVirtualization")));
        Assert.NotNull(c.Value("ExecCondition"));
        Assert.False(c.LostMeaning);
    }

    [Fact]
    public void RequiresMountsFor_reload_propagation_refusals_and_the_new_conditions_are_carried()
    {
        // postgresql@.service's own lines.
        var c = _s.Translate("t.service",
            "[Unit]\nRequiresMountsFor=/etc/postgresql/%I /var/lib/postgresql/%I\nPropagatesReloadTo=worker.service\nReloadPropagatedFrom=db.service\n" +
            "RefuseManualStart=yes\nRefuseManualStop=no\nConditionFirstBoot=yes\nConditionNeedsUpdate=/etc\nAssertCredential=tls.key\n[Service]\nExecStart=/bin/true\n");
        Assert.Equal(["/etc/postgresql/%I", "/var/lib/postgresql/%I"], List(c.Value("RequiresMountsFor")));
        Assert.Equal(["worker"], List(c.Value("PropagatesReloadTo")));
        Assert.Equal(["db"], List(c.Value("ReloadPropagatedFrom")));
        Assert.Equal((true, false), (c.Value("RefuseManualStart"), c.Value("RefuseManualStop")));
        Assert.Equal(["yes"], List(c.Value("ConditionFirstBoot")));
        Assert.Equal(["/etc"], List(c.Value("ConditionNeedsUpdate")));
        Assert.Equal(["tls.key"], List(c.Value("AssertCredential")));
    }

    [Fact]
    public void Type_idle_and_dbus_with_BusName_are_carried()
    {
        Assert.Equal("idle", Service("Type=idle").Value("Type"));
        var dbus = Service("Type=dbus\nBusName=org.example.Test");
        Assert.Equal(("dbus", "org.example.Test"), (dbus.Value("Type"), dbus.Value("BusName")));
    }

    [Fact]
    public void Directives_not_carried_are_reported_with_file_line_and_why()
    {
        var c = _s.Translate("t.service",
            "[Unit]\nDefaultDependencies=no\nOnFailureJobMode=fail\nFrobnicate=1\n[Service]\nExecStart=/bin/true\nX-Tool=1\nType=dbus\n[Install]\nWantedBy=multi-user.target\n[Socket]\nListenStream=80\n");
        Assert.Equal((Why.InitOnly, 2), (c.Why("DefaultDependencies").Why, c.Why("DefaultDependencies").Location.Line));
        Assert.Equal((Why.NotBuiltYet, 3), (c.Why("OnFailureJobMode").Why, c.Why("OnFailureJobMode").Location.Line));
        Assert.Equal(Why.UnknownToSystemd, c.Why("Frobnicate").Why);
        Assert.Equal(Why.Extension, c.Why("X-Tool").Why);
        Assert.Equal((Why.Rejected, 8), (c.Why("Type").Why, c.Why("Type").Location.Line));
        Assert.Contains("\"dbus\"", c.Why("Type").Detail);
        Assert.Equal(Why.InitOnly, c.Why("WantedBy").Why);
        Assert.Equal(Why.IgnoredBySystemd, c.Why("ListenStream").Why);
        Assert.Equal($"{Path.Combine(_s.Dir, "t.service")}:3: OnFailureJobMode: no such key in Supervisor (not built yet)", c.Why("OnFailureJobMode").ToString());
        Assert.Null(c.Value("Type"));
        Assert.True(c.LostMeaning);
    }

    [Fact]
    public void A_name_Supervisor_has_but_systemd_does_not_know_is_not_carried()
    {
        // Hostname and Namespaces are Supervisor's own keys; systemd ignores them in a .service file.
        var c = Service("Hostname=box\nNamespaces=pid");
        Assert.Null(c.Value("Hostname"));
        Assert.Null(c.Value("Namespaces"));
        Assert.Equal(Why.UnknownToSystemd, c.Why("Hostname").Why);
    }

    [Fact]
    public void Init_only_directives_alone_do_not_count_as_something_left_out()
    {
        var c = _s.Translate("t.service", "[Unit]\nDescription=x\nDefaultDependencies=no\n[Service]\nExecStart=/bin/true\nMemoryAccounting=yes\n[Install]\nWantedBy=multi-user.target\n");
        Assert.Equal(3, c.NotCarried.Count());
        Assert.False(c.LostMeaning);
    }

    [Fact]
    public void A_template_is_written_as_a_template_with_its_specifiers_which_mean_the_same_here()
    {
        var c = _s.Translate("t@.service", "[Unit]\nDescription=Cluster %i\n[Service]\nExecStart=/bin/echo %i\nWorkingDirectory=/srv/%d\nPIDFile=t.pid\n");
        Assert.Equal("Cluster %i", c.Value("Description"));
        Assert.Equal(["/bin/echo", "%i"], List(c.Value("ExecStart")));
        Assert.Equal("/run/t.pid", c.Value("PIDFile"));
        Assert.DoesNotContain(c.Report.NotCarried, i => i.Key is "Description" or "(template)");
        // %d (the credentials directory) is the one specifier here the loader does not know.
        Assert.Contains(c.Report.NotCarried, i => i.Key == "WorkingDirectory" && i.Detail.Contains("%d", StringComparison.Ordinal));
        Assert.Equal("t@.toml", c.FileName);
    }

    [Fact]
    public void A_list_of_a_type_the_translator_does_not_name_follows_systemds_inverted_list_rule()
    {
        var spec = Supervisor.Units.Keys.KeyTable.Find("Unit", "Documentation")!;
        var unit = new Ini.SystemdUnit(Ini.SystemdUnitName.Parse("t.service")!, "/t.service", []);
        Candidate Words(params string[] values)
        {
            var input = new KeyInput(spec);
            foreach (var v in values) input.Contributions.Add(new Contribution(new Ini.IniAssignment("Service", "RestrictAddressFamilies", v, Supervisor.Units.SourceLocation.File("/t.service")), v));
            var c = new Candidate(unit, "t", Supervisor.Units.Model.UnitKind.Service, new Report());
            c.Entries.Add(new Entry(spec, ValueConverters.Words(input, new Context(unit, c.Report)).Value!, []));
            return c;
        }
        Assert.Equal(["~AF_PACKET"], List(Words("~AF_PACKET AF_NETLINK", "AF_NETLINK").Value("Documentation")));
        Assert.Equal(["AF_INET"], List(Words("AF_INET AF_UNIX", "~AF_UNIX").Value("Documentation")));
        Assert.Equal(["AF_UNIX"], List(Words("AF_INET", "", "AF_UNIX").Value("Documentation")));
    }

    [Fact]
    public void An_unterminated_brace_in_a_long_argument_stays_literal()
    {
        var word = string.Concat(Enumerable.Repeat("${", 40_000));
        var c = Service($"ExecStartPre=/bin/echo {word}");
        Assert.Equal(["/bin/echo", word], List(List(c.Value("ExecStartPre"))[0]));
    }

    [Fact]
    public void A_oneshot_gets_systemds_default_of_no_start_timeout_unless_it_sets_one()
    {
        Assert.Equal("infinity", _s.Translate("t.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n").Value("TimeoutStartSec"));
        Assert.Equal("10s", _s.Translate("t.service", "[Service]\nType=oneshot\nTimeoutSec=10\nExecStart=/bin/true\n").Value("TimeoutStartSec"));
        Assert.Null(_s.Translate("t.service", "[Service]\nExecStart=/bin/true\n").Value("TimeoutStartSec"));
    }

    [Fact]
    public void A_boolean_or_list_directive_takes_a_boolean_alone_and_combines_lists_after_it()
    {
        var spec = Supervisor.Units.Keys.KeyTable.All.FirstOrDefault(k => k.Type.StartsWith("true | false | array", StringComparison.Ordinal));
        if (spec is null) Assert.Skip("no key of a boolean-or-list type in the key table");
        var unit = new Ini.SystemdUnit(Ini.SystemdUnitName.Parse("t.service")!, "/t.service", []);
        object? Convert(params string[] values)
        {
            var input = new KeyInput(spec);
            foreach (var v in values) input.Contributions.Add(new Contribution(new Ini.IniAssignment("Service", spec.Name, v, Supervisor.Units.SourceLocation.File("/t.service")), v));
            return ValueConverters.BoolOrWords(input, new Context(unit, new Report())).Value;
        }
        Assert.Equal(true, Convert("net", "yes"));
        Assert.Equal(["~user", "net"], List(Convert("yes", "~user", "~net")));
        Assert.Equal(["ipc"], List(Convert("~user", "", "ipc")));
        Assert.Null(Convert("yes", ""));
    }
}
