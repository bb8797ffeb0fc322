using Supervisor.Runtime.Credentials;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Compiler;
using Supervisor.Units;

namespace Supervisor.Runtime.Tests;

/// <summary>
/// DynamicUser's allocation table, the IPC objects RemoveIPC looks for, RemoveIPC's rules (never
/// root's, never an id another unit uses) and the load-time report of capabilities the supervisor
/// lacks; without root, on files in a temp directory standing in for /proc/sysvipc and /dev/shm.
/// </summary>
public sealed class CredentialTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly RecordingLog _log = new();
    private static readonly UserDatabase NoUsers = UserDatabase.Parse("", "");

    private string SysvIpc => Path.Combine(_dir.Dir, "sysvipc");
    private string Shm => Path.Combine(_dir.Dir, "shm");
    private string State => Path.Combine(_dir.Dir, "state");

    public CredentialTests()
    {
        Directory.CreateDirectory(SysvIpc);
        Directory.CreateDirectory(Shm);
        SysV();
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>/proc/sysvipc as the kernel writes it: a header naming the columns, one object per line.</summary>
    private void SysV(string shm = "", string sem = "", string msg = "")
    {
        File.WriteAllText(Path.Combine(SysvIpc, "shm"), "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n" + shm);
        File.WriteAllText(Path.Combine(SysvIpc, "sem"), "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n" + sem);
        File.WriteAllText(Path.Combine(SysvIpc, "msg"), "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n" + msg);
    }

    private IpcObjects Ipc() => new(SysvIpc, Shm, Path.Combine(_dir.Dir, "no-mqueue"));

    private DynamicUsers Users(Action<string>? damaged = null) => new(State, Ipc(), damaged);

    [Fact]
    public void A_user_gets_the_uid_its_name_hashes_to_and_keeps_it_across_a_new_supervisor()
    {
        var users = Users();
        var pair = users.Acquire("web", "web", NoUsers);
        Assert.Equal(DynamicUsers.Candidate("web", 0), pair.Uid);
        Assert.Equal(pair.Uid, pair.Gid);
        Assert.InRange(pair.Uid, ExecPlanCompiler.DynamicUidMin, ExecPlanCompiler.DynamicUidMax);
        Assert.Same(pair, users.Acquire("web", "web", NoUsers));

        // A supervisor started after a kill -9 reads the table: the adopted unit keeps its uid.
        var again = Users();
        Assert.Equal(pair, again.Of("web"));
        Assert.Equal(pair, again.Release("web"));
        Assert.Null(Users().Of("web"));
    }

    [Fact]
    public void A_uid_in_passwd_or_group_another_user_holds_or_an_IPC_object_owns_is_skipped()
    {
        uint first = DynamicUsers.Candidate("db", 0), second = DynamicUsers.Candidate("db", 1), third = DynamicUsers.Candidate("db", 2);
        var passwd = UserDatabase.Parse($"olduser:x:{first}:{first}::/:/bin/sh\n", "");
        Assert.Equal(second, Users().Acquire("a", "db", passwd).Uid);
        File.Delete(Path.Combine(State, DynamicUsers.FileName));

        var group = UserDatabase.Parse("", $"oldgroup:x:{first}:\n");
        SysV(msg: $"         0          7 600          0          0     0     0 {second} {second} {second} {second}          0          0 1700000000\n");
        Assert.Equal(third, Users().Acquire("a", "db", group).Uid);
    }

    [Fact]
    public void Units_that_name_the_same_user_share_its_pair_until_the_last_one_lets_go()
    {
        var users = Users();
        var a = users.Acquire("a", "shared", NoUsers);
        var other = users.Acquire("c", "other", NoUsers);
        Assert.Equal(a, users.Acquire("b", "shared", NoUsers));
        Assert.NotEqual(a.Uid, other.Uid);
        Assert.Null(users.Release("a"));
        Assert.Equal(a, users.Of("b"));
        Assert.Equal(a, users.Release("b"));
        Assert.Null(users.Of("b"));
    }

    [Fact]
    public void A_damaged_table_is_reported_and_remembers_nothing()
    {
        Directory.CreateDirectory(State);
        File.WriteAllText(Path.Combine(State, DynamicUsers.FileName), "{ not json");
        string? cause = null;
        var users = Users(c => cause = c);
        Assert.NotNull(cause);
        Assert.Empty(users.All);
    }

    [Fact]
    public void IPC_objects_are_found_by_owner_or_group_and_not_by_their_creator()
    {
        SysV(shm: "         0         11 600          4096  100   100      0  1001  1001     0     0          0          0 1700000000                     0                     0\n" +
                  "         0         12 600          4096  100   100      2     0  1002  1001  1001          0          0 1700000000                     0                     0\n",
            sem: "         0         21 600          1  1003  1003  1001  1001          0 1700000000\n");
        var ipc = Ipc();
        Assert.Equal(["SharedMemory 11"], ipc.OwnedBy(1001, null).Select(o => $"{o.Kind} {o.Id}"));
        Assert.Equal(["SharedMemory 11", "SharedMemory 12"], ipc.OwnedBy(null, 1001).Concat(ipc.OwnedBy(null, 1002)).Select(o => $"{o.Kind} {o.Id}").Order());
        Assert.Equal(2, ipc.OwnedBy(null, 1002).Single().Attached);
        Assert.Empty(ipc.OwnedBy(null, null));
    }

    /// <summary>An owner a test can give a file: any uid as root, else only its own (never 0 then).</summary>
    private static uint Owner => Environment.UserName == "root" || Linux.Files.Statx.GetEuid() == 0 ? 4242u : Linux.Files.Statx.GetEuid();

    private string ShmFile(string name)
    {
        var path = Path.Combine(Shm, name);
        File.WriteAllText(path, "segment");
        if (Linux.Files.Statx.GetEuid() == 0) File.SetUnixFileMode(path, (UnixFileMode)0x180);
        if (Linux.Files.Statx.GetEuid() == 0) Chown(path, Owner);
        return path;
    }

    private static void Chown(string path, uint id)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("chown", [$"{id}:{id}", path]);
        using var p = System.Diagnostics.Process.Start(psi)!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    private UnitIdentities Identities() => new(Users(), Ipc(), _log.Write);

    private UnitDefinitionFor Unit(string name, string sandbox, string service = "") =>
        new(_dir.Write($"units/{name}.toml", $"[Service]\nExecStart = [\"/bin/true\"]\n{service}\n[Sandbox]\n{sandbox}\n"));

    private sealed record UnitDefinitionFor(string Path)
    {
        public Units.Model.UnitDefinition Load() => UnitLoader.LoadDirectory(System.IO.Path.GetDirectoryName(Path)!, new LoadOptions { RequireRootOwnership = false })
            .Units[System.IO.Path.GetFileNameWithoutExtension(Path)].Definition;
    }

    [Fact]
    public void RemoveIPC_removes_the_stopped_units_objects_and_says_how_many()
    {
        var owned = ShmFile("owned");
        var unit = Unit("svc", "RemoveIPC = true", $"User = \"{Owner}\"").Load();
        var identities = Identities();
        identities.Started("svc", new Identity(Owner, Owner, []));
        identities.Stopped(unit, empty: true);
        Assert.False(File.Exists(owned));
        Assert.Contains(_log.Lines, l => l.StartsWith($"svc: RemoveIPC: removed 0 System V shared memory segment(s), 0 semaphore set(s), 0 message queue(s), 1 POSIX shared memory object(s) and 0 POSIX message queue(s) of uid {Owner} and gid {Owner}", StringComparison.Ordinal));
    }

    [Fact]
    public void Without_RemoveIPC_or_while_another_unit_runs_as_the_same_user_nothing_is_removed()
    {
        var owned = ShmFile("owned");
        var identities = Identities();
        identities.Started("plain", new Identity(Owner, Owner, []));
        identities.Stopped(Unit("plain", "", $"User = \"{Owner}\"").Load(), empty: true);
        Assert.True(File.Exists(owned));

        identities.Started("svc", new Identity(Owner, Owner, []));
        identities.Started("other", new Identity(Owner, Owner, []));
        identities.Stopped(Unit("svc", "RemoveIPC = true", $"User = \"{Owner}\"").Load(), empty: true);
        Assert.True(File.Exists(owned));
        Assert.Contains($"svc: RemoveIPC: nothing removed: another running unit uses uid {Owner} and gid {Owner}", _log.Lines);

        // A unit whose processes are left in its cgroup (KillMode=process) keeps its objects for now.
        identities.Stopped(Unit("other", "RemoveIPC = true", $"User = \"{Owner}\"").Load(), empty: false);
        Assert.True(File.Exists(owned));
        identities.Stopped(Unit("other", "RemoveIPC = true", $"User = \"{Owner}\"").Load(), empty: true);
        Assert.False(File.Exists(owned));
    }

    [Fact]
    public void RemoveIPC_never_touches_roots_objects()
    {
        var identities = Identities();
        identities.Started("svc", null);
        identities.Stopped(Unit("svc", "RemoveIPC = true").Load(), empty: true);
        Assert.Contains("svc: RemoveIPC: nothing removed: the unit runs as root, whose IPC objects are never removed", _log.Lines);
    }

    [Fact]
    public void A_dynamic_users_pair_is_allocated_at_start_and_released_when_the_unit_stops_with_its_cgroup_empty()
    {
        var unit = Unit("dyn", "DynamicUser = true").Load();
        var identities = Identities();
        var context = CompileContext.ForHost();
        Assert.Null(identities.ContextFor(unit, context, allocate: false).DynamicUser);
        var pair = identities.ContextFor(unit, context, allocate: true).DynamicUser!;
        Assert.Equal(pair, identities.ContextFor(unit, context, allocate: false).DynamicUser);
        identities.Started("dyn", new Identity(pair.Uid, pair.Gid, []));
        identities.Stopped(unit, empty: false);
        Assert.Equal(pair, identities.Dynamic.Of("dyn"));
        identities.Stopped(unit, empty: true);
        Assert.Null(identities.Dynamic.Of("dyn"));
        Assert.Contains($"dyn: DynamicUser: uid {pair.Uid} of 'dyn' released", _log.Lines);
    }

    [Fact]
    public void A_capability_the_supervisor_lacks_is_a_warning_at_the_key()
    {
        _dir.Write("units/memcached.toml", "[Service]\nExecStart = [\"/bin/true\"]\n[Sandbox]\nCapabilityBoundingSet = [\"CAP_SETGID\", \"CAP_SETUID\", \"CAP_SYS_RESOURCE\"]\n");
        _dir.Write("units/drops.toml", "[Service]\nExecStart = [\"/bin/true\"]\n[Sandbox]\nCapabilityBoundingSet = [\"~CAP_SYS_RESOURCE\"]\n");
        var set = UnitLoader.LoadDirectory(Path.Combine(_dir.Dir, "units"), new LoadOptions { RequireRootOwnership = false });
        const ulong all = (1UL << 41) - 1;
        var lacking = new HostFacts(40, all & ~(1UL << 24), false, false);

        var d = Assert.Single(HostCapabilityCheck.Apply(set, lacking).Diagnostics);
        Assert.Equal((Severity.Warning, "memcached", "CapabilityBoundingSet"), (d.Severity, d.Unit, d.Key));
        Assert.EndsWith("memcached.toml:4:25: warning: memcached: [Sandbox] CapabilityBoundingSet: CAP_SYS_RESOURCE cannot be given on this host: the supervisor itself does not hold it, so the service runs without it; the rest of the set applies", d.ToString());
        Assert.Empty(HostCapabilityCheck.Apply(set, new HostFacts(40, all, false, false)).Diagnostics);
    }
}
