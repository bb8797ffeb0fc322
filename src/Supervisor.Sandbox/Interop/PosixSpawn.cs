using System.Runtime.InteropServices;

namespace Supervisor.Sandbox.Interop;

/// <summary>
/// posix_spawn with file actions: glibc implements it with clone(CLONE_VM|CLONE_VFORK), which
/// runs no managed code in the child and is safe from a multi-threaded process.
/// </summary>
internal static unsafe partial class PosixSpawn
{
    // glibc sizes: posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336, sigset_t 128.
    // Allocated generously so a future glibc growing them cannot overrun.
    private const int OpaqueBytes = 1024;
    private const short POSIX_SPAWN_SETSIGDEF = 0x04;
    private const short POSIX_SPAWN_SETSIGMASK = 0x08;

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int posix_spawn(int* pid, string path, void* fileActions, void* attr, byte** argv, byte** envp);

    [LibraryImport("libc")]
    private static partial int posix_spawn_file_actions_init(void* fa);

    [LibraryImport("libc")]
    private static partial int posix_spawn_file_actions_destroy(void* fa);

    [LibraryImport("libc")]
    private static partial int posix_spawn_file_actions_adddup2(void* fa, int fd, int newfd);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int posix_spawn_file_actions_addopen(void* fa, int fd, string path, int oflag, uint mode);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_init(void* attr);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_destroy(void* attr);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_setflags(void* attr, short flags);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_setsigdefault(void* attr, void* sigset);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_setsigmask(void* attr, void* sigset);

    [LibraryImport("libc")]
    private static partial int sigfillset(void* set);

    [LibraryImport("libc")]
    private static partial int sigemptyset(void* set);

    /// <summary>A file action: dup2(From, To) in the child, or open /dev/null on To when From is -1.</summary>
    public readonly record struct FdMapping(int From, int To, bool Writable);

    /// <summary>Spawns path with argv and an empty environment; returns the pid or an errno.</summary>
    public static int Spawn(string path, IReadOnlyList<string> argv, IReadOnlyList<FdMapping> fds, out int errno)
    {
        void* fa = NativeMemory.AllocZeroed(OpaqueBytes);
        void* attr = NativeMemory.AllocZeroed(OpaqueBytes);
        void* sigs = NativeMemory.AllocZeroed(OpaqueBytes);
        var argvPtrs = new nint[argv.Count + 1];
        try
        {
            posix_spawn_file_actions_init(fa);
            posix_spawnattr_init(attr);
            foreach (var m in fds)
            {
                int r = m.From >= 0
                    ? posix_spawn_file_actions_adddup2(fa, m.From, m.To)
                    : posix_spawn_file_actions_addopen(fa, m.To, "/dev/null", m.Writable ? Libc.O_WRONLY : Libc.O_RDONLY, 0);
                if (r != 0)
                {
                    errno = r;
                    return -1;
                }
            }
            // .NET ignores SIGPIPE and may block signals on its threads; the service must start
            // with default dispositions and an empty mask, as if started by init.
            sigfillset(sigs);
            posix_spawnattr_setsigdefault(attr, sigs);
            sigemptyset(sigs);
            posix_spawnattr_setsigmask(attr, sigs);
            posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
            for (int i = 0; i < argv.Count; i++)
                argvPtrs[i] = Marshal.StringToCoTaskMemUTF8(argv[i]);
            byte* nullEnv = null;
            int pid;
            fixed (nint* a = argvPtrs)
            {
                int r = posix_spawn(&pid, path, fa, attr, (byte**)a, &nullEnv);
                errno = r;
                return r == 0 ? pid : -1;
            }
        }
        finally
        {
            foreach (var p in argvPtrs)
                if (p != 0)
                    Marshal.FreeCoTaskMem(p);
            posix_spawn_file_actions_destroy(fa);
            posix_spawnattr_destroy(attr);
            NativeMemory.Free(fa);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigs);
        }
    }
}
