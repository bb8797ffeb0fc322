namespace Supervisor.Units.Values;

/// <summary>errno names and numbers for SystemCallErrorNumber (Linux generic numbering, as x86_64).</summary>
public static class Errno
{
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

    public static IEnumerable<string> Names => Table.Select(t => t.Name);

    public static int Parse(string text)
    {
        var s = text.Trim().ToUpperInvariant();
        foreach (var (name, number) in Table)
            if (name == s) return number;
        throw new UnitValueException($"expected an errno name like \"EPERM\", got \"{text}\"", Suggest.Hint(s, Names));
    }

    public static string Name(int number)
    {
        foreach (var (name, n) in Table)
            if (n == number) return name;
        return number.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
