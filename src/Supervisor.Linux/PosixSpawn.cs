using System.Runtime.InteropServices;
using Supervisor.Linux.Native;

namespace Supervisor.Linux;

/// <summary>
/// posix_spawn with file actions: glibc implements it with clone(CLONE_VM|CLONE_VFORK), which
/// runs no managed code in the child and is safe from a multi-threaded process.
/// </summary>
public static unsafe class PosixSpawn
{
    // glibc sizes: posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336, sigset_t 128.
    // Allocated generously so a future glibc growing them cannot overrun.
    private const int OpaqueBytes = 1024;

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
            Libc.PosixSpawnFileActionsInit(fa);
            Libc.PosixSpawnAttrInit(attr);
            foreach (var m in fds)
            {
                int r = m.From >= 0
                    ? Libc.PosixSpawnFileActionsAddDup2(fa, m.From, m.To)
                    : Libc.PosixSpawnFileActionsAddOpen(fa, m.To, "/dev/null", m.Writable ? Libc.O_WRONLY : Libc.O_RDONLY, 0);
                if (r != 0)
                {
                    errno = r;
                    return -1;
                }
            }
            // .NET ignores SIGPIPE and may block signals on its threads; the service must start
            // with default dispositions and an empty mask, as if started by init.
            Libc.SigFillSet(sigs);
            Libc.PosixSpawnAttrSetSigDefault(attr, sigs);
            Libc.SigEmptySet(sigs);
            Libc.PosixSpawnAttrSetSigMask(attr, sigs);
            Libc.PosixSpawnAttrSetFlags(attr, Libc.POSIX_SPAWN_SETSIGDEF | Libc.POSIX_SPAWN_SETSIGMASK);
            for (int i = 0; i < argv.Count; i++)
                argvPtrs[i] = Marshal.StringToCoTaskMemUTF8(argv[i]);
            byte* nullEnv = null;
            int pid;
            fixed (nint* a = argvPtrs)
            {
                int r = Libc.PosixSpawn(&pid, path, fa, attr, (byte**)a, &nullEnv);
                errno = r;
                return r == 0 ? pid : -1;
            }
        }
        finally
        {
            foreach (var p in argvPtrs)
                if (p != 0)
                    Marshal.FreeCoTaskMem(p);
            Libc.PosixSpawnFileActionsDestroy(fa);
            Libc.PosixSpawnAttrDestroy(attr);
            NativeMemory.Free(fa);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigs);
        }
    }
}
