namespace Supervisor.DBus;

/// <summary>
/// Who is on the other end: SO_PEERCRED (pid, uid, gid at connect time) and SO_PEERGROUPS
/// (supplementary groups) of a peer-to-peer socket, or the bus's GetConnectionCredentials
/// for a caller on a bus.
/// </summary>
public sealed record PeerCredentials(int ProcessId, uint UserId, uint GroupId, IReadOnlyList<uint> SupplementaryGroups)
{
    /// <summary>True when the peer's primary or a supplementary group is <paramref name="gid"/>.</summary>
    public bool IsInGroup(uint gid) => GroupId == gid || SupplementaryGroups.Contains(gid);

    public override string ToString() => $"pid {ProcessId} uid {UserId} gid {GroupId}";
}
