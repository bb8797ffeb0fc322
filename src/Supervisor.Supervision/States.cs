namespace Supervisor.Supervision;

/// <summary>systemd's ActiveState: the coarse state every client shows.</summary>
public enum ActiveState { Inactive, Activating, Active, Reloading, Deactivating, Failed }

/// <summary>systemd's service sub-states, a target's "active", plus bad-setting for a unit whose file is not valid.</summary>
public enum SubState
{
    Dead, StartPre, Start, StartPost, Running, Exited, Reload, Stop, StopSigterm, StopSigkill, StopPost,
    FinalSigterm, FinalSigkill, Failed, AutoRestart, BadSetting, Active,
    /// <summary>Checking Condition*/Assert* and running ExecCondition (systemd's "condition").</summary>
    Condition,
    /// <summary>A socket unit whose sockets are bound (systemd's "active (listening)").</summary>
    Listening,
}

/// <summary>Why a unit last stopped or failed: systemd's Result= values.</summary>
public enum UnitResult { Success, ExitCode, Signal, CoreDump, Timeout, OomKill, Watchdog, StartLimitHit, Resources, ExecCondition,
    /// <summary>A liveness or startup probe failed FailureThreshold times in a row ([Health]).</summary>
    Health }

public static class StateNames
{
    public static ActiveState ActiveOf(SubState s) => s switch
    {
        SubState.Dead or SubState.BadSetting => ActiveState.Inactive,
        SubState.Condition or SubState.StartPre or SubState.Start or SubState.StartPost or SubState.AutoRestart => ActiveState.Activating,
        SubState.Running or SubState.Exited or SubState.Active or SubState.Listening => ActiveState.Active,
        SubState.Reload => ActiveState.Reloading,
        SubState.Stop or SubState.StopSigterm or SubState.StopSigkill or SubState.StopPost
            or SubState.FinalSigterm or SubState.FinalSigkill => ActiveState.Deactivating,
        SubState.Failed => ActiveState.Failed,
        _ => throw new ArgumentOutOfRangeException(nameof(s), s, null),
    };

    /// <summary>The kebab-case names systemd prints ("auto-restart", "stop-sigterm", "exit-code").</summary>
    public static string Name(ActiveState s) => Kebab(s.ToString());
    public static string Name(SubState s) => Kebab(s.ToString());
    public static string Name(UnitResult r) => Kebab(r.ToString());

    internal static string Kebab(string pascal)
    {
        var sb = new System.Text.StringBuilder(pascal.Length + 4);
        for (int i = 0; i < pascal.Length; i++)
        {
            if (char.IsUpper(pascal[i]) && i > 0) sb.Append('-');
            sb.Append(char.ToLowerInvariant(pascal[i]));
        }
        return sb.ToString();
    }
}
