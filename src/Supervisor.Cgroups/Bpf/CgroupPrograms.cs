using Supervisor.Linux;

namespace Supervisor.Cgroups.Bpf;

/// <summary>
/// The program one attach type of a cgroup should have: <see cref="Program"/>, or nothing at all
/// (null: a declaration was removed, or declares no restriction). Only declared keys produce a
/// setting, so programs nobody declared are left alone.
/// </summary>
internal sealed record ProgramSetting(string Key, uint AttachType, BpfProgram? Program)
{
    public string Declared => Program?.Description ?? "nothing attached";
}

/// <summary>A v2 "controller" that is a set of BPF programs rather than files (devices, firewall, socket bind).</summary>
internal interface IProgramController
{
    void CannotHonour(ResourceLimits limits, List<Unhonoured> into);

    void AddPrograms(ResourceLimits limits, CgroupPath path, List<ProgramSetting> into);
}

/// <summary>What is attached for one setting, compared with what is declared (for drift and `inspect`).</summary>
internal sealed record ProgramState(ProgramSetting Setting, string File, string Found, bool Matches);

/// <summary>
/// Read-compare-attach for cgroup programs, the counterpart of the file settings' engine: the
/// programs attached to the cgroup (BPF_PROG_QUERY) are compared with the one we would attach, by
/// the kernel's tag of its instructions and the prefixes in its maps; where they differ the new
/// program is attached first and the old ones detached after, so the cgroup is never unfiltered.
/// </summary>
internal static class CgroupPrograms
{
    public static List<LimitChange> Apply(string dir, IReadOnlyList<ProgramSetting> settings)
    {
        var changes = new List<LimitChange>();
        if (settings.Count == 0)
        {
            return changes;
        }
        var maps = new Dictionary<LpmMap, SafeFd>(ReferenceEqualityComparer.Instance);
        try
        {
            using var cgroup = BpfObjects.OpenCgroup(dir);
            foreach (var state in States(cgroup, dir, settings))
            {
                if (state.Matches)
                {
                    continue;
                }
                var setting = state.Setting;
                var before = BpfObjects.Query(cgroup, dir, setting.AttachType, withMaps: false);
                if (setting.Program is { } program)
                {
                    using var fd = BpfObjects.Load(program, maps);
                    BpfObjects.Attach(cgroup, dir, fd, program);
                }
                foreach (var old in before)
                {
                    BpfObjects.Detach(cgroup, dir, setting.AttachType, old.Id);
                }
                changes.Add(new LimitChange(setting.Key, state.File, state.Found, setting.Declared));
            }
        }
        finally
        {
            foreach (var fd in maps.Values)
            {
                fd.Dispose();
            }
        }
        return changes;
    }

    public static List<LimitDrift> Check(string dir, IReadOnlyList<ProgramSetting> settings)
    {
        if (settings.Count == 0)
        {
            return [];
        }
        using var cgroup = BpfObjects.OpenCgroup(dir);
        return [.. States(cgroup, dir, settings).Where(s => !s.Matches).Select(s => new LimitDrift(s.Setting.Key, s.File, s.Setting.Declared, s.Found))];
    }

    public static List<ProgramState> Describe(string dir, IReadOnlyList<ProgramSetting> settings)
    {
        if (settings.Count == 0)
        {
            return [];
        }
        using var cgroup = BpfObjects.OpenCgroup(dir);
        return [.. States(cgroup, dir, settings)];
    }

    private static IEnumerable<ProgramState> States(SafeFd cgroup, string dir, IReadOnlyList<ProgramSetting> settings)
    {
        foreach (var setting in settings)
        {
            var attached = BpfObjects.Query(cgroup, dir, setting.AttachType, withMaps: setting.Program is { Maps.Count: > 0 });
            var file = $"{dir} ({BpfObjects.AttachTypeName(setting.AttachType)})";
            yield return new ProgramState(setting, file, Found(attached, setting.Program), Matches(attached, setting.Program));
        }
    }

    /// <summary>Exactly our program: one attached, the same instructions (the kernel's tag), the same prefixes in each map.</summary>
    internal static bool Matches(IReadOnlyList<AttachedProgram> attached, BpfProgram? want)
    {
        if (want is null)
        {
            return attached.Count == 0;
        }
        if (attached is not [var one] || one.Tag != BpfObjects.TagOf(want))
        {
            return false;
        }
        return want.Maps.Count == one.Maps.Count
            && want.Maps.All(m => one.Maps.Any(a => a.KeySize == m.KeySize && a.Verdict == m.Verdict && a.Entries.SetEquals(m.EntryTexts)));
    }

    private static string Found(IReadOnlyList<AttachedProgram> attached, BpfProgram? want)
    {
        if (attached.Count == 0)
        {
            return "nothing attached";
        }
        if (want is not null && Matches(attached, want))
        {
            return want.Description;
        }
        if (want is not null && attached is [var one] && one.Tag == BpfObjects.TagOf(want))
        {
            return $"{one} with other contents in its maps";
        }
        return string.Join(", ", attached.Select(a => a.ToString()));
    }
}
