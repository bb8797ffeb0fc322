using System.Security.Cryptography;

namespace Supervisor.Cgroups.Bpf;

/// <summary>
/// An LPM-trie map a program looks addresses up in: one per address family and verdict (systemd's
/// bpf-firewall keeps allow and deny apart, so a longer deny prefix cannot hide a shorter allow).
/// Key: u32 prefix length, then the address in network order; value: the verdict bit, as u64.
/// </summary>
internal sealed record LpmMap(string Name, bool V6, uint Verdict, IReadOnlyList<IpPrefix> Prefixes)
{
    public int AddressBytes => V6 ? 16 : 4;

    public int KeySize => 4 + AddressBytes;

    public const int ValueSize = 8;

    /// <summary>The entries, each as "prefix" text, for comparing with a map read back from the kernel.</summary>
    public IReadOnlySet<string> EntryTexts => Prefixes.Select(p => p.ToString()).ToHashSet(StringComparer.Ordinal);
}

/// <summary>
/// A program ready to load: its type, where it attaches, its instructions (map loads still carrying
/// their slot numbers), the maps it needs, and a one-line description of what it enforces.
/// </summary>
internal sealed class BpfProgram
{
    public required string Name { get; init; }

    public required uint ProgramType { get; init; }

    /// <summary>BPF_CGROUP_*: where it attaches (and, for sock_addr programs, the expected attach type at load).</summary>
    public required uint AttachType { get; init; }

    public required IReadOnlyList<BpfInstruction> Code { get; init; }

    public IReadOnlyList<(int At, int Slot)> MapRefs { get; init; } = [];

    /// <summary>The map of each slot.</summary>
    public IReadOnlyList<LpmMap> Maps { get; init; } = [];

    /// <summary>What it enforces, for logs, drift reports and `inspect`, e.g. "deny by default, 9 allow rules".</summary>
    public required string Description { get; init; }

    /// <summary>The instructions as the kernel takes them, each map slot replaced by the fd of that map.</summary>
    public byte[] Encode(IReadOnlyList<int> mapFds)
    {
        var code = Code.ToArray();
        foreach (var (at, slot) in MapRefs)
        {
            code[at] = code[at] with { Imm = mapFds[slot] };
        }
        var bytes = new byte[code.Length * BpfInstruction.Size];
        for (int i = 0; i < code.Length; i++)
        {
            code[i].Write(bytes.AsSpan(i * BpfInstruction.Size));
        }
        return bytes;
    }

    /// <summary>
    /// What identifies these instructions whatever fds its maps get: a digest of the program with
    /// every map fd zeroed, with its type and attach type. The kernel's own tag of a program is
    /// computed the same way but its hash changed between kernels (SHA-1, then SHA-256), so the tag
    /// is learnt from the kernel (<see cref="BpfObjects.TagOf"/>) and remembered under this key.
    /// </summary>
    public string Fingerprint
    {
        get
        {
            var bytes = Encode(Maps.Select(_ => 0).ToArray());
            return $"{ProgramType}/{AttachType}/{Convert.ToHexString(SHA256.HashData(bytes))}";
        }
    }

    public override string ToString() => string.Join('\n', Code.Select((c, i) => $"{i,4}: {c}"));
}
