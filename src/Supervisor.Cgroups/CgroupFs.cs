using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using Supervisor.Linux;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups;

/// <summary>
/// File access for cgroupfs: one write() per value, reads into pooled buffers, exact errnos, and a
/// confinement check that refuses any write or mkdir/rmdir outside the configured subtrees.
/// </summary>
internal sealed class CgroupFs
{
    private readonly string[] _subtrees;

    /// <param name="subtrees">Absolute directories (one per hierarchy) under which writes are allowed.</param>
    public CgroupFs(IEnumerable<string> subtrees)
    {
        _subtrees = subtrees.Select(s => Path.TrimEndingDirectorySeparator(Path.GetFullPath(s))).Distinct().ToArray();
    }

    public IReadOnlyList<string> Subtrees => _subtrees;

    /// <summary>Throws unless <paramref name="path"/> is one of the subtrees or below one of them.</summary>
    public void CheckConfined(string path)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        foreach (var s in _subtrees)
        {
            if (full == s || full.StartsWith(s + "/", StringComparison.Ordinal))
            {
                return;
            }
        }
        throw new CgroupConfinementException(path, string.Join(", ", _subtrees));
    }

    /// <summary>Writes <paramref name="value"/> with a single write(2), as cgroupfs expects.</summary>
    public void Write(string path, string value)
    {
        CheckConfined(path);
        WriteUnchecked(path, value);
    }

    /// <summary>A write the caller has deliberately placed outside the subtree (enabling controllers above it).</summary>
    internal static void WriteUnchecked(string path, string value)
    {
        // O_TRUNC: harmless on cgroupfs (kernfs ignores the size change), needed on the fake
        // cgroupfs of the tests, where a shorter value would otherwise leave the old tail behind.
        int fd = Libc.Open(path, Libc.O_WRONLY | Libc.O_TRUNC | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new CgroupIoException("open", path, Marshal.GetLastPInvokeError());
        }
        using var handle = new SafeFd(fd);
        var bytes = Encoding.ASCII.GetBytes(value);
        if (Libc.Write(fd, bytes) < 0)
        {
            throw new CgroupIoException("write", path, Marshal.GetLastPInvokeError(), $"value \"{value}\"");
        }
    }

    /// <summary>Reads a whole small file as text; null with <paramref name="errno"/> set when it cannot.</summary>
    public static string? TryReadText(string path, out int errno)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            int n = ReadInto(path, ref buffer, out errno);
            return n < 0 ? null : Encoding.ASCII.GetString(buffer, 0, n);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public static string ReadText(string path)
    {
        return TryReadText(path, out var errno) ?? throw new CgroupIoException("read", path, errno);
    }

    /// <summary>
    /// Reads a file into a pooled buffer (grown from the pool when needed, up to
    /// <see cref="CgroupConstants.MaxStatFileBytes"/>). Returns the length, or -1 with errno.
    /// <paramref name="singleRecord"/> says the file is one kernfs seq_file record (every stat and
    /// value file a scrape reads; not cgroup.procs, which is a record per process): the kernel
    /// then produces the whole text in the first read, so a read that leaves room in the buffer
    /// has read it all and the read that would return 0 is saved (a third of a scrape's syscalls).
    /// </summary>
    public static int ReadInto(string path, ref byte[] buffer, out int errno, bool singleRecord = false)
    {
        errno = 0;
        int fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return -1;
        }
        try
        {
            return ReadAll(fd, ref buffer, out errno, singleRecord);
        }
        finally
        {
            // A plain close: the fd never leaves this method, so no SafeHandle (and its finalizer
            // registration) per file read.
            Libc.Close(fd);
        }
    }

    internal static int ReadAll(int fd, ref byte[] buffer, out int errno, bool singleRecord)
    {
        errno = 0;
        int total = 0;
        while (true)
        {
            if (total == buffer.Length)
            {
                if (buffer.Length >= CgroupConstants.MaxStatFileBytes)
                {
                    errno = Errno.ENOMEM;
                    return -1;
                }
                var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                Buffer.BlockCopy(buffer, 0, bigger, 0, total);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = bigger;
            }
            // Plain sequential read(): a seq_file produces the text on the first read and
            // continues where the previous one stopped.
            nint n = Libc.Read(fd, buffer.AsSpan(total));
            if (n < 0)
            {
                errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR)
                {
                    continue;
                }
                return -1;
            }
            if (n == 0)
            {
                return total;
            }
            total += (int)n;
            if (singleRecord && total < buffer.Length)
            {
                return total;
            }
        }
    }

    /// <summary>mkdir that accepts an existing directory.</summary>
    public void Mkdir(string path)
    {
        CheckConfined(path);
        MkdirUnchecked(path);
    }

    internal static void MkdirUnchecked(string path)
    {
        if (Libc.Mkdir(path, 0x1ED /* 0755 */) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EEXIST)
            {
                throw new CgroupIoException("mkdir", path, errno);
            }
        }
    }

    /// <summary>rmdir; returns the errno (0 on success, ENOENT when already gone).</summary>
    public int TryRmdir(string path)
    {
        CheckConfined(path);
        return Libc.Rmdir(path) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }
}
