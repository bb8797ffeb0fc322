using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Supervisor.Sandbox.Tests.Support;

/// <summary>sendmsg/recvmsg with one SCM_RIGHTS descriptor: the fd holder's wire, from the test's side.</summary>
internal static unsafe partial class FdPassing
{
    private const int SOL_SOCKET = 1;
    private const int SCM_RIGHTS = 1;
    private const int MSG_CMSG_CLOEXEC = 0x40000000;

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint sendmsg(nint fd, MsgHdr* msg, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recvmsg(nint fd, MsgHdr* msg, int flags);

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec { public void* Base; public nuint Length; }

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public void* Name; public uint NameLength;
        public IoVec* Iov; public nuint IovLength;
        public void* Control; public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CmsgHdr { public nuint Length; public int Level; public int Type; }

    /// <summary>Sends TEXT with FD attached, or no fd when FD is -1.</summary>
    public static void Send(Socket socket, string text, int fd)
    {
        var data = System.Text.Encoding.ASCII.GetBytes(text);
        byte* control = stackalloc byte[24];
        new Span<byte>(control, 24).Clear();
        fixed (byte* p = data)
        {
            var iov = new IoVec { Base = p, Length = (nuint)data.Length };
            var msg = new MsgHdr { Iov = &iov, IovLength = 1 };
            if (fd >= 0)
            {
                var h = (CmsgHdr*)control;
                h->Length = (nuint)(sizeof(CmsgHdr) + sizeof(int));
                h->Level = SOL_SOCKET;
                h->Type = SCM_RIGHTS;
                *(int*)(control + sizeof(CmsgHdr)) = fd;
                msg.Control = control;
                msg.ControlLength = 24;
            }
            if (sendmsg(socket.Handle, &msg, 0) < 0)
                throw new IOException($"sendmsg: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
    }

    /// <summary>One message as text, and the fd that came with it (-1 for none).</summary>
    public static (string Text, int Fd) Receive(Socket socket)
    {
        byte* buffer = stackalloc byte[512];
        byte* control = stackalloc byte[64];
        var iov = new IoVec { Base = buffer, Length = 512 };
        var msg = new MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = 64 };
        nint n = recvmsg(socket.Handle, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0)
            throw new IOException($"recvmsg: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        int fd = -1;
        if (msg.ControlLength >= (nuint)(sizeof(CmsgHdr) + sizeof(int)) && ((CmsgHdr*)control)->Type == SCM_RIGHTS)
            fd = *(int*)(control + sizeof(CmsgHdr));
        return (System.Text.Encoding.ASCII.GetString(buffer, (int)n), fd);
    }
}
