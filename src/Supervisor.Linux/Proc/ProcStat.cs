using System.Globalization;

namespace Supervisor.Linux.Proc;

/// <summary>
/// /proc/PID/stat, the fields the supervisor uses (proc(5)): the command name, state, parent
/// and start time. The command name is in parentheses and may itself contain spaces and
/// parentheses ("(sd-pam)", "(my (odd) name)"), so the fields are counted from the last ')'.
/// </summary>
/// <param name="StartTime">Field 22: clock ticks after boot when the process started; with the
/// pid it names one process for good (a reused pid has a later start time).</param>
public sealed record ProcStat(int Pid, string Comm, char State, int ParentPid, ulong StartTime)
{
    // Fields after the command name, from field 3 (state): index = field number - 3.
    private const int StateIndex = 0;
    private const int ParentIndex = 1;
    private const int StartTimeIndex = 19;

    /// <summary>The process is a zombie or dead: it has exited and only waits to be reaped.</summary>
    public bool HasExited => State is 'Z' or 'X' or 'x';

    /// <summary>Stopped by a signal (SIGSTOP, SIGTSTP) or by a debugger.</summary>
    public bool IsStopped => State is 'T' or 't';

    /// <summary>The stat of <paramref name="pid"/>; throws IOException when it is gone.</summary>
    public static ProcStat Read(int pid) => Parse(File.ReadAllText(ProcFiles.PathOf(pid, "stat")));

    /// <summary>The stat of <paramref name="pid"/>, or null when it is gone (or not ours to read).</summary>
    public static ProcStat? TryRead(int pid) => ProcFiles.TryRead(pid, "stat", Parse);

    /// <summary>Parses the text of a stat file; FormatException names what is missing or malformed.</summary>
    public static ProcStat Parse(string text)
    {
        int open = text.IndexOf('(');
        int close = text.LastIndexOf(')');
        if (open < 1 || close < open)
            throw new FormatException($"/proc stat: no command name in parentheses in \"{Clip(text)}\"");
        int pid = ProcFiles.Int(text[..open].Trim(), "stat", "pid");
        var fields = text[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length <= StartTimeIndex)
            throw new FormatException($"/proc stat: only {fields.Length + 2} fields; starttime is field 22");
        if (fields[StateIndex].Length != 1)
            throw new FormatException($"/proc stat: state is \"{fields[StateIndex]}\", not one letter");
        return new ProcStat(
            pid,
            text[(open + 1)..close],
            fields[StateIndex][0],
            ProcFiles.Int(fields[ParentIndex], "stat", "ppid"),
            ulong.TryParse(fields[StartTimeIndex], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
                ? start
                : throw new FormatException($"/proc stat: starttime is \"{fields[StartTimeIndex]}\", not a number"));
    }

    private static string Clip(string text) => text.Length <= 60 ? text.TrimEnd('\n') : text[..60] + "…";
}

/// <summary>
/// The scheduling fields of /proc/PID/stat (proc(5)): nice (field 19), rt_priority (40) and
/// policy (41, the SCHED_* number; SCHED_RESET_ON_FORK is not shown there).
/// </summary>
public sealed record ProcScheduling(int Nice, uint RtPriority, uint Policy)
{
    // Index = field number - 3, counted after the command name as in ProcStat.
    private const int NiceIndex = 16;
    private const int RtPriorityIndex = 37;
    private const int PolicyIndex = 38;

    /// <summary>The scheduling of <paramref name="pid"/>, or null when it is gone (or not ours to read).</summary>
    public static ProcScheduling? TryRead(int pid) => ProcFiles.TryRead(pid, "stat", Parse);

    public static ProcScheduling Parse(string text)
    {
        int close = text.LastIndexOf(')');
        if (close < 0)
            throw new FormatException("/proc stat: no command name in parentheses");
        var fields = text[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length <= PolicyIndex)
            throw new FormatException($"/proc stat: only {fields.Length + 2} fields; policy is field 41");
        return new ProcScheduling(
            ProcFiles.Int(fields[NiceIndex], "stat", "nice"),
            (uint)ProcFiles.Int(fields[RtPriorityIndex], "stat", "rt_priority"),
            (uint)ProcFiles.Int(fields[PolicyIndex], "stat", "policy"));
    }

    /// <summary>/proc/PID/oom_score_adj, or null when the process is gone.</summary>
    public static int? TryReadOomScoreAdjust(int pid) =>
        ProcFiles.TryRead(pid, "oom_score_adj", t => (object)ProcFiles.Int(t.Trim(), "oom_score_adj", "value")) is int v ? v : null;
}
