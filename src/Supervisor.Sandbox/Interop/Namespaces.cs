using System.Runtime.InteropServices;

namespace Supervisor.Sandbox.Interop;

/// <summary>setns(2) and uname(2), for reading another namespace's hostname from a throwaway thread.</summary>
internal static unsafe partial class Namespaces
{
    public const int CLONE_NEWUTS = 0x04000000;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setns(int fd, int nstype);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int gethostname(byte* name, nuint len);

    public static string? HostnameOf(int pid)
    {
        string? result = null;
        // Joining a UTS namespace is per-thread and allowed in a multi-threaded process; a fresh
        // thread that ends right after keeps the rest of the supervisor in its own namespace.
        var t = new Thread(() =>
        {
            int fd = open($"/proc/{pid}/ns/uts", Libc.O_RDONLY | Libc.O_CLOEXEC);
            if (fd < 0)
                return;
            using var handle = new SafeFdHandle(fd);
            if (setns(fd, CLONE_NEWUTS) < 0)
                return;
            byte* buf = stackalloc byte[256];
            if (gethostname(buf, 256) == 0)
                result = Marshal.PtrToStringUTF8((nint)buf);
        });
        t.Start();
        t.Join();
        return result;
    }
}
