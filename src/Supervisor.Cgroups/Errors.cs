using Supervisor.Linux;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups;

/// <summary>Base of every failure this library reports.</summary>
public class CgroupException : Exception
{
    public CgroupException(string message) : base(message) { }
    public CgroupException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A syscall on a cgroup file or directory failed: operation, path and errno.</summary>
public sealed class CgroupIoException : CgroupException
{
    public CgroupIoException(string operation, string path, int errno, string? detail = null)
        : base($"{operation} '{path}' failed: {Errno.Name(errno)}{(detail is null ? "" : " (" + detail + ")")}")
    {
        Operation = operation;
        Path = path;
        ErrorNumber = errno;
    }

    public string Operation { get; }
    public string Path { get; }
    public int ErrorNumber { get; }

    /// <summary>True when the file or cgroup disappeared (ENOENT/ENODEV): the unit stopped meanwhile.</summary>
    public bool Vanished => Errno.IsVanished(ErrorNumber);
}

/// <summary>A write was about to land outside the supervisor's own cgroup subtree.</summary>
public sealed class CgroupConfinementException : CgroupException
{
    public CgroupConfinementException(string path, string subtree)
        : base($"refusing to write '{path}': outside the supervisor's cgroup subtree '{subtree}'")
    {
        Path = path;
        Subtree = subtree;
    }

    public string Path { get; }
    public string Subtree { get; }
}

/// <summary>
/// A [Resources] value the kernel would reject or that names something the host lacks. Raised at
/// validation time, before any cgroup is created, so a unit never starts half-limited.
/// </summary>
public sealed class CgroupLimitException : CgroupException
{
    public CgroupLimitException(string key, string message) : base($"{key}: {message}") => Key = key;

    public string Key { get; }
}

/// <summary>The cgroup layout could not be understood (no cgroupfs, unreadable /proc/self/cgroup).</summary>
public sealed class CgroupLayoutException : CgroupException
{
    public CgroupLayoutException(string message) : base(message) { }
}
