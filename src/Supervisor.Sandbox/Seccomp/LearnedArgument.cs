namespace Supervisor.Sandbox.Seccomp;

/// <summary>
/// The one argument of a learned call that decides which capability or namespace it can need,
/// packed into a number (what learn mode records beside the call's name, and what
/// <c>security --suggest</c> reads back): socket's family, type and protocol; ioctl's request;
/// setsockopt's level and option; prctl's option; fcntl's command; the namespace flags of clone,
/// clone3, unshare and setns; the clock of timerfd_create and timer_create. Other calls have none.
/// </summary>
public static class LearnedArgument
{
    /// <summary>CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (linux/sched.h).</summary>
    public const ulong NamespaceFlags = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

    /// <summary>Set on clone3's value when it asked for set_tid (a chosen pid: CAP_CHECKPOINT_RESTORE).</summary>
    public const ulong Clone3SetTid = 1UL << 63;

    /// <summary>struct clone_args: flags at 0, set_tid_size at 72 (linux/sched.h); 80 bytes read.</summary>
    public const int Clone3ArgsRead = 80;

    /// <summary>The calls that have a decisive argument.</summary>
    public static bool Has(string call) => call is "socket" or "ioctl" or "setsockopt" or "prctl" or "fcntl" or "clone" or "clone3"
        or "unshare" or "setns" or "timerfd_create" or "timer_create";

    /// <summary>
    /// The packed argument of <paramref name="call"/> made with <paramref name="args"/>; null for a
    /// call without one. clone3's arguments are in the caller's memory: <paramref name="clone3Args"/>
    /// is what was read there before the call went on (null: unreadable, taken as every flag).
    /// </summary>
    public static ulong? Of(string call, ReadOnlySpan<ulong> args, ReadOnlySpan<byte> clone3Args = default) => call switch
    {
        "socket" => Socket((int)(args[0] & 0xffff), (int)(args[1] & 0xf), (int)(args[2] & 0xffff)),
        "ioctl" => args[1] & 0xffff_ffff,
        "setsockopt" => SocketOption((int)(args[1] & 0xffff_ffff), (int)(args[2] & 0xffff_ffff)),
        "prctl" or "timerfd_create" or "timer_create" => args[0] & 0xffff_ffff,
        "fcntl" => args[1] & 0xffff_ffff,
        "clone" or "unshare" => args[0] & NamespaceFlags,
        "setns" => (args[1] & 0xffff_ffff) == 0 ? NamespaceFlags : args[1] & NamespaceFlags,
        "clone3" => Clone3(clone3Args),
        _ => null,
    };

    /// <summary>socket(family, type, protocol) packed: family in bits 32–47, type (without its flags) in 16–23, protocol in 0–15.</summary>
    public static ulong Socket(int family, int type, int protocol) => (ulong)(uint)family << 32 | (ulong)(uint)(type & 0xff) << 16 | (uint)(protocol & 0xffff);

    public static (int Family, int Type, int Protocol) UnpackSocket(ulong value) => ((int)(value >> 32), (int)((value >> 16) & 0xff), (int)(value & 0xffff));

    /// <summary>setsockopt(level, option) packed as <see cref="Of"/> packs it.</summary>
    public static ulong SocketOption(int level, int option) => (ulong)(uint)level << 32 | (uint)option;

    private static ulong Clone3(ReadOnlySpan<byte> args)
    {
        if (args.Length < Clone3ArgsRead) return NamespaceFlags | Clone3SetTid;
        ulong flags = BitConverter.ToUInt64(args[..8]);
        ulong setTidSize = BitConverter.ToUInt64(args[72..80]);
        return (flags & NamespaceFlags) | (setTidSize > 0 ? Clone3SetTid : 0);
    }
}
