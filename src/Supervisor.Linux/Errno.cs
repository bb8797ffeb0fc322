namespace Supervisor.Linux;

/// <summary>
/// errno: the values the supervisor reacts to as constants, and the one table of names and
/// numbers (Linux's generic numbering, which x86_64 and arm64 share) for error messages and for
/// units that name an errno (SystemCallErrorNumber).
/// </summary>
public static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int ENODEV = 19;
    public const int ENOTDIR = 20;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int EROFS = 30;
    public const int EPIPE = 32;
    public const int ENOSYS = 38;
    public const int ENOTEMPTY = 39;
    public const int EOPNOTSUPP = 95;
    public const int ECONNABORTED = 103;
    public const int ECONNRESET = 104;

    private static readonly (string Name, int Number)[] Table =
    [
        ("EPERM", 1), ("ENOENT", 2), ("ESRCH", 3), ("EINTR", 4), ("EIO", 5), ("ENXIO", 6), ("E2BIG", 7), ("ENOEXEC", 8),
        ("EBADF", 9), ("ECHILD", 10), ("EAGAIN", 11), ("ENOMEM", 12), ("EACCES", 13), ("EFAULT", 14), ("ENOTBLK", 15),
        ("EBUSY", 16), ("EEXIST", 17), ("EXDEV", 18), ("ENODEV", 19), ("ENOTDIR", 20), ("EISDIR", 21), ("EINVAL", 22),
        ("ENFILE", 23), ("EMFILE", 24), ("ENOTTY", 25), ("ETXTBSY", 26), ("EFBIG", 27), ("ENOSPC", 28), ("ESPIPE", 29),
        ("EROFS", 30), ("EMLINK", 31), ("EPIPE", 32), ("EDOM", 33), ("ERANGE", 34), ("EDEADLK", 35), ("ENAMETOOLONG", 36),
        ("ENOLCK", 37), ("ENOSYS", 38), ("ENOTEMPTY", 39), ("ELOOP", 40), ("ENOMSG", 42), ("EIDRM", 43), ("ENODATA", 61),
        ("ETIME", 62), ("EPROTO", 71), ("EBADMSG", 74), ("EOVERFLOW", 75), ("EILSEQ", 84), ("ENOTSOCK", 88),
        ("EMSGSIZE", 90), ("EPROTONOSUPPORT", 93), ("EOPNOTSUPP", 95), ("EAFNOSUPPORT", 97), ("EADDRINUSE", 98),
        ("EADDRNOTAVAIL", 99), ("ENETDOWN", 100), ("ENETUNREACH", 101), ("ECONNABORTED", 103), ("ECONNRESET", 104),
        ("ENOBUFS", 105), ("EISCONN", 106), ("ENOTCONN", 107), ("ETIMEDOUT", 110), ("ECONNREFUSED", 111),
        ("EHOSTUNREACH", 113), ("EALREADY", 114), ("EINPROGRESS", 115), ("ESTALE", 116), ("EDQUOT", 122),
        ("ECANCELED", 125), ("ENOKEY", 126),
    ];

    /// <summary>Every name the table knows, in numeric order.</summary>
    public static IEnumerable<string> Names => Table.Select(t => t.Name);

    /// <summary>The number of an errno name ("EPERM"; case-insensitive); false for a name the table does not know.</summary>
    public static bool TryParse(string name, out int number)
    {
        var s = name.Trim().ToUpperInvariant();
        foreach (var (n, value) in Table)
        {
            if (n == s)
            {
                number = value;
                return true;
            }
        }
        number = 0;
        return false;
    }

    /// <summary>"EPERM" for 1; "errno N" for a number the table does not name.</summary>
    public static string Name(int errno)
    {
        foreach (var (name, n) in Table)
            if (n == errno) return name;
        return "errno " + errno.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The file or its cgroup is gone: the unit stopped while we looked.</summary>
    public static bool IsVanished(int errno) => errno is ENOENT or ENODEV;
}
