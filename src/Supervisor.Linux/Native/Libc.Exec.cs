using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

/// <summary>execv(3): the calling process becomes another program (same pid, same open stdio).</summary>
public static unsafe partial class Libc
{
    [LibraryImport("libc", EntryPoint = "execv", SetLastError = true)]
    private static partial int execv(byte* path, byte** argv);

    /// <summary>
    /// Replaces this process with <paramref name="path"/> run with <paramref name="argv"/> (argv[0]
    /// first). Returns only when that failed: the errno (ENOENT, EACCES …).
    /// </summary>
    public static int Execv(string path, IReadOnlyList<string> argv)
    {
        var strings = new nint[argv.Count + 1];
        try
        {
            strings[0] = Marshal.StringToCoTaskMemUTF8(path);
            var pointers = stackalloc byte*[argv.Count + 1];
            for (int i = 0; i < argv.Count; i++)
            {
                strings[i + 1] = Marshal.StringToCoTaskMemUTF8(argv[i]);
                pointers[i] = (byte*)strings[i + 1];
            }
            pointers[argv.Count] = null;
            execv((byte*)strings[0], pointers);
            return Marshal.GetLastPInvokeError();
        }
        finally
        {
            foreach (var s in strings) Marshal.FreeCoTaskMem(s);
        }
    }
}
