using System.Runtime.InteropServices;

namespace Supervisor.DBus.Interop;

/// <summary>
/// sendmsg(2)/recvmsg(2) with SCM_RIGHTS control messages: .NET's Socket has no API for
/// passing file descriptors. Layouts are the LP64 Linux ones (x86_64, aarch64).
/// </summary>
internal static unsafe partial class Libc
{
    public const int SOL_SOCKET = 1;
    public const int SCM_RIGHTS = 1;
    public const int MSG_CTRUNC = 0x8;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CMsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    /// <summary>CMSG_ALIGN: control data is aligned to sizeof(size_t).</summary>
    public static int CmsgAlign(int length) => (length + sizeof(nuint) - 1) & ~(sizeof(nuint) - 1);

    /// <summary>CMSG_SPACE for <paramref name="dataLength"/> bytes of payload.</summary>
    public static int CmsgSpace(int dataLength) => CmsgAlign(sizeof(CMsgHdr)) + CmsgAlign(dataLength);

    /// <summary>CMSG_LEN for <paramref name="dataLength"/> bytes of payload.</summary>
    public static int CmsgLen(int dataLength) => CmsgAlign(sizeof(CMsgHdr)) + dataLength;

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint SendMsg(SafeHandle socket, MsgHdr* message, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint RecvMsg(SafeHandle socket, MsgHdr* message, int flags);
}
