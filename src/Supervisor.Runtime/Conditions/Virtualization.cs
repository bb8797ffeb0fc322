namespace Supervisor.Runtime.Conditions;

/// <summary>
/// What systemd-detect-virt would say, from what can be read without CPUID: a container from
/// /proc/1/environ's container=, /run/systemd/container, /run/.containerenv (podman), /.dockerenv
/// (docker), WSL from the kernel release, OpenVZ from /proc/vz; a VM from the DMI vendor and product
/// strings (/sys/class/dmi/id), /sys/hypervisor/type (xen), else the "hypervisor" CPU flag in
/// /proc/cpuinfo ("vm-other": without CPUID the hypervisor's vendor is not known); user namespaces
/// ("private-users") from /proc/self/uid_map.
/// </summary>
public static class Virtualization
{
    public static bool Matches(string p)
    {
        var container = Container();
        var vm = Vm();
        var word = p.ToLowerInvariant();
        if (word is "1" or "yes" or "y" or "true" or "t" or "on") return container is not null || vm is not null;
        if (word is "0" or "no" or "n" or "false" or "f" or "off") return container is null && vm is null;
        return p switch
        {
            "vm" => vm is not null,
            "container" => container is not null,
            "private-users" => PrivateUsers(),
            _ => p == container || p == vm,
        };
    }

    /// <summary>The container technology, or null.</summary>
    public static string? Container(string root = "/")
    {
        string R(string path) => Path.Combine(root, path.TrimStart('/'));
        try
        {
            var release = File.Exists(R("/proc/sys/kernel/osrelease")) ? File.ReadAllText(R("/proc/sys/kernel/osrelease")) : "";
            if (release.Contains("Microsoft", StringComparison.Ordinal) || release.Contains("WSL", StringComparison.Ordinal)) return "wsl";
            if (File.Exists(R("/proc/1/environ")))
                foreach (var v in File.ReadAllText(R("/proc/1/environ")).Split('\0'))
                    if (v.StartsWith("container=", StringComparison.Ordinal) && v.Length > "container=".Length) return Name(v["container=".Length..]);
            if (File.Exists(R("/run/systemd/container")) && File.ReadAllText(R("/run/systemd/container")).Trim() is { Length: > 0 } named) return Name(named);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // /proc/1/environ needs root; the files below still tell.
        }
        if (File.Exists(R("/run/.containerenv"))) return "podman";
        if (File.Exists(R("/.dockerenv"))) return "docker";
        if (Directory.Exists(R("/proc/vz")) && !Directory.Exists(R("/proc/bc"))) return "openvz";
        return null;
    }

    private static string Name(string value) => value switch
    {
        "oci" => "container-other",
        "lxc" or "lxc-libvirt" or "systemd-nspawn" or "docker" or "podman" or "rkt" or "wsl" or "proot" or "pouch" or "openvz" => value,
        _ => "container-other",
    };

    private static readonly (string Prefix, string Id)[] DmiVendors =
    [
        ("KVM", "kvm"), ("OpenStack", "kvm"), ("KubeVirt", "kvm"), ("Amazon EC2", "amazon"), ("QEMU", "qemu"), ("VMware", "vmware"),
        ("VMW", "vmware"), ("innotek GmbH", "oracle"), ("VirtualBox", "oracle"), ("Oracle Corporation", "oracle"), ("Xen", "xen"),
        ("Bochs", "bochs"), ("Parallels", "parallels"), ("BHYVE", "bhyve"), ("Hyper-V", "microsoft"), ("Apple Virtualization", "apple"),
        ("Google Compute Engine", "google"),
    ];

    /// <summary>The VM technology, or null.</summary>
    public static string? Vm(string root = "/")
    {
        string R(string path) => Path.Combine(root, path.TrimStart('/'));
        foreach (var file in new[] { "product_name", "sys_vendor", "board_vendor", "bios_vendor", "product_version" })
        {
            var path = R("/sys/class/dmi/id/" + file);
            if (!File.Exists(path)) continue;
            string text;
            try { text = File.ReadAllText(path).Trim(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            foreach (var (prefix, id) in DmiVendors)
                if (text.StartsWith(prefix, StringComparison.Ordinal)) return id == "google" ? "vm-other" : id;
            if (text == "Virtual Machine" && File.Exists(R("/sys/class/dmi/id/sys_vendor"))
                && File.ReadAllText(R("/sys/class/dmi/id/sys_vendor")).Trim() == "Microsoft Corporation") return "microsoft";
        }
        if (File.Exists(R("/sys/hypervisor/type")) && File.ReadAllText(R("/sys/hypervisor/type")).Trim() == "xen") return "xen";
        if (File.Exists(R("/proc/cpuinfo")) && File.ReadLines(R("/proc/cpuinfo"))
                .Any(l => l.StartsWith("flags", StringComparison.Ordinal) && l.Split(' ').Contains("hypervisor")))
            return "vm-other";
        return null;
    }

    /// <summary>Running in a user namespace: the uid map is not the identity map of the initial namespace.</summary>
    public static bool PrivateUsers()
    {
        var map = File.ReadAllText("/proc/self/uid_map").Split([' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries);
        return !(map.Length == 3 && map[0] == "0" && map[1] == "0" && map[2] == "4294967295");
    }
}
