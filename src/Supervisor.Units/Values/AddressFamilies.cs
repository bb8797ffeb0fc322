namespace Supervisor.Units.Values;

/// <summary>
/// Socket address family names and numbers of Linux (include/linux/socket.h, kernel 6.x:
/// AF_UNIX = 1 … AF_MCTP = 45), as systemd's RestrictAddressFamilies= spells them. AF_UNSPEC
/// (0) is not a name a unit may list, as in systemd.
/// </summary>
public static class AddressFamilies
{
    private static readonly string[] Names =
    [
        "AF_UNSPEC", "AF_UNIX", "AF_INET", "AF_AX25", "AF_IPX", "AF_APPLETALK", "AF_NETROM", "AF_BRIDGE", "AF_ATMPVC",
        "AF_X25", "AF_INET6", "AF_ROSE", "AF_DECnet", "AF_NETBEUI", "AF_SECURITY", "AF_KEY", "AF_NETLINK", "AF_PACKET",
        "AF_ASH", "AF_ECONET", "AF_ATMSVC", "AF_RDS", "AF_SNA", "AF_IRDA", "AF_PPPOX", "AF_WANPIPE", "AF_LLC", "AF_IB",
        "AF_MPLS", "AF_CAN", "AF_TIPC", "AF_BLUETOOTH", "AF_IUCV", "AF_RXRPC", "AF_ISDN", "AF_PHONET", "AF_IEEE802154",
        "AF_CAIF", "AF_ALG", "AF_NFC", "AF_VSOCK", "AF_KCM", "AF_QIPCRTR", "AF_SMC", "AF_XDP", "AF_MCTP",
    ];

    /// <summary>Other names glibc's sys/socket.h gives the same numbers.</summary>
    private static readonly (string Name, int Number)[] Aliases = [("AF_LOCAL", 1), ("AF_FILE", 1), ("AF_ROUTE", 16)];

    /// <summary>One past the highest family number this table knows (the kernel's AF_MAX).</summary>
    public static int Count => Names.Length;

    public static IEnumerable<string> AllNames => Names.Skip(1).Concat(Aliases.Select(a => a.Name));

    /// <summary>"AF_INET" → 2. Names are case-sensitive, as in systemd ("AF_DECnet").</summary>
    public static int Parse(string text)
    {
        int n = Array.IndexOf(Names, text, 1);
        if (n > 0) return n;
        foreach (var (name, number) in Aliases)
            if (name == text) return number;
        throw new UnitValueException($"unknown address family \"{text}\"; expected a name like \"AF_INET\" or \"AF_UNIX\"",
            Suggest.Hint(text, AllNames));
    }

    public static string Name(int number) => number > 0 && number < Names.Length ? Names[number] : $"AF_{number}";
}
