using System.Runtime.InteropServices;
using Supervisor.Linux.Native;

namespace Supervisor.Linux;

/// <summary>Another process's hostname, read by joining its UTS namespace from a throwaway thread.</summary>
public static unsafe class UtsNamespace
{
    private static readonly int CloneNewUts = (int)NamespaceKind.All.Single(k => k.Name == "uts").CloneFlag;

    /// <summary>The hostname <paramref name="pid"/> sees; null when its namespace cannot be joined.</summary>
    public static string? HostnameOf(int pid)
    {
        string? result = null;
        // Joining a UTS namespace is per-thread and allowed in a multi-threaded process; a fresh
        // thread that ends right after keeps the rest of the supervisor in its own namespace.
        var t = new Thread(() =>
        {
            int fd = Libc.Open($"/proc/{pid}/ns/uts", Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            if (fd < 0)
                return;
            using var handle = new SafeFd(fd);
            if (Libc.Setns(fd, CloneNewUts) < 0)
                return;
            byte* buf = stackalloc byte[256];
            if (Libc.GetHostname(buf, 256) == 0)
                result = Marshal.PtrToStringUTF8((nint)buf);
        });
        t.Start();
        t.Join();
        return result;
    }
}
