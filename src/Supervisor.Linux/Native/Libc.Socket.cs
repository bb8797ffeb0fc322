using System.Runtime.InteropServices;

namespace Supervisor.Linux.Native;

/// <summary>
/// The socket calls .NET does not expose: socketpair(2), setsockopt(2)/getsockopt(2) for options
/// it has no name for, sendmsg(2)/recvmsg(2) with control messages (SCM_RIGHTS, SCM_CREDENTIALS),
/// and accept4(2), getsockname(2), getpeername(2) on raw descriptors (Accept=yes socket units).
/// Layouts are the LP64 Linux ones (x86_64, aarch64). The managed side is <see cref="UnixSockets"/>.
/// </summary>
public static unsafe partial class Libc
{
    public const int AF_UNIX = 1;
    public const int SOCK_STREAM = 1;
    public const int SOCK_SEQPACKET = 5;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SO_PASSCRED = 16;
    public const int SO_PEERCRED = 17;
    public const int SCM_RIGHTS = 1;
    public const int SCM_CREDENTIALS = 2;
    public const int MSG_CTRUNC = 0x8;
    public const int MSG_TRUNC = 0x20;
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
    public struct CmsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    /// <summary>struct ucred: who sent a message (SCM_CREDENTIALS) or is connected (SO_PEERCRED).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct UCred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }

    /// <summary>CMSG_ALIGN: control data is aligned to sizeof(size_t).</summary>
    public static int CmsgAlign(int length) => (length + sizeof(nuint) - 1) & ~(sizeof(nuint) - 1);

    /// <summary>CMSG_SPACE for <paramref name="dataLength"/> bytes of payload.</summary>
    public static int CmsgSpace(int dataLength) => CmsgAlign(sizeof(CmsgHdr)) + CmsgAlign(dataLength);

    /// <summary>CMSG_LEN for <paramref name="dataLength"/> bytes of payload.</summary>
    public static int CmsgLen(int dataLength) => CmsgAlign(sizeof(CmsgHdr)) + dataLength;

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    public static partial int Bind(int fd, byte* address, uint length);

    [LibraryImport("libc", EntryPoint = "listen", SetLastError = true)]
    public static partial int Listen(int fd, int backlog);

    [LibraryImport("libc", EntryPoint = "unlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Unlink(string path);

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    public static partial int SocketPair(int domain, int type, int protocol, int* sv);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint SendMsg(int fd, MsgHdr* message, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint RecvMsg(int fd, MsgHdr* message, int flags);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int GetSockOpt(int fd, int level, int name, void* value, uint* length);

    [LibraryImport("libc", EntryPoint = "accept4", SetLastError = true)]
    public static partial int Accept4(int fd, byte* address, uint* length, int flags);

    [LibraryImport("libc", EntryPoint = "getsockname", SetLastError = true)]
    public static partial int GetSockName(int fd, byte* address, uint* length);

    [LibraryImport("libc", EntryPoint = "getpeername", SetLastError = true)]
    public static partial int GetPeerName(int fd, byte* address, uint* length);
}
