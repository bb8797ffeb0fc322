using System.Globalization;

namespace Supervisor.Sandbox.Compiler;

public sealed record UserEntry(string Name, uint Uid, uint Gid, string Home, string Shell);

/// <summary>
/// Users and groups from /etc/passwd and /etc/group, read directly: the supervisor must not load
/// NSS modules, and a unit's user has to resolve the same way every time.
/// </summary>
public sealed class UserDatabase
{
    private readonly Dictionary<string, UserEntry> _users = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (uint Gid, string[] Members)> _groups = new(StringComparer.Ordinal);

    public static UserDatabase Load(string passwd = "/etc/passwd", string group = "/etc/group") =>
        Parse(File.Exists(passwd) ? File.ReadAllText(passwd) : "", File.Exists(group) ? File.ReadAllText(group) : "");

    public static UserDatabase Parse(string passwd, string group)
    {
        var db = new UserDatabase();
        foreach (var f in Lines(passwd))
        {
            if (f.Length >= 7 && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid) &&
                uint.TryParse(f[3], NumberStyles.None, CultureInfo.InvariantCulture, out var gid))
                db._users.TryAdd(f[0], new UserEntry(f[0], uid, gid, f[5], f[6]));
        }
        foreach (var f in Lines(group))
        {
            if (f.Length >= 4 && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var gid))
                db._groups.TryAdd(f[0], (gid, f[3].Split(',', StringSplitOptions.RemoveEmptyEntries)));
        }
        return db;
    }

    private static IEnumerable<string[]> Lines(string text) =>
        text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split(':'));

    /// <summary>A user by name, or by number ("1000") as systemd also accepts.</summary>
    public UserEntry? FindUser(string nameOrId)
    {
        if (_users.TryGetValue(nameOrId, out var u))
            return u;
        if (uint.TryParse(nameOrId, NumberStyles.None, CultureInfo.InvariantCulture, out var uid))
            return _users.Values.FirstOrDefault(x => x.Uid == uid) ?? new UserEntry(nameOrId, uid, uid, "/", "/bin/sh");
        return null;
    }

    /// <summary>A user of /etc/passwd by name only (what DynamicUser reuses instead of allocating).</summary>
    public UserEntry? FindStaticUser(string name) => _users.GetValueOrDefault(name);

    /// <summary>Whether /etc/passwd has an entry with this uid, or /etc/group one with this gid (a dynamic id must be neither).</summary>
    public bool UsesId(uint id) => _users.Values.Any(u => u.Uid == id) || _groups.Values.Any(g => g.Gid == id);

    public uint? FindGroup(string nameOrId)
    {
        if (_groups.TryGetValue(nameOrId, out var g))
            return g.Gid;
        return uint.TryParse(nameOrId, NumberStyles.None, CultureInfo.InvariantCulture, out var gid) ? gid : null;
    }

    /// <summary>The groups that list the user as a member (what initgroups(3) adds).</summary>
    public IEnumerable<uint> MemberGroupsOf(string user) =>
        _groups.Values.Where(g => g.Members.Contains(user, StringComparer.Ordinal)).Select(g => g.Gid);
}
