using System.Security.Cryptography;
using System.Text;
using Supervisor.Sandbox.Capabilities;
using Supervisor.Units.Keys;
using Supervisor.Units.Model;

namespace Supervisor.Sandbox.Compiler;

/// <summary>
/// Who the service runs as and what it starts with: DynamicUser, UMask, KeyringMode, and the
/// capabilities the unit asks for that this supervisor cannot give.
/// </summary>
public static partial class ExecPlanCompiler
{
    /// <summary>systemd's range for dynamic users (DYNAMIC_UID_MIN, DYNAMIC_UID_MAX).</summary>
    public const uint DynamicUidMin = 61184;
    public const uint DynamicUidMax = 65519;

    /// <summary>
    /// The user a DynamicUser unit runs as: User= when set, else the unit's name without an
    /// instance ("web@1" → "web") and without ".service"; a name that is no valid user name
    /// becomes "_du" and 16 hex digits of a hash of the unit's name (systemd's user_from_unit_name).
    /// </summary>
    public static string DynamicUserName(UnitDefinition unit)
    {
        ArgumentNullException.ThrowIfNull(unit);
        if (unit.Service.User is { Length: > 0 } user) return user;
        var prefix = unit.Name.Split('@')[0];
        if (prefix.EndsWith(".service", StringComparison.Ordinal)) prefix = prefix[..^".service".Length];
        if (KeyTable.IsUserName(prefix)) return prefix;
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(unit.Name));
        return "_du" + Convert.ToHexStringLower(hash, 0, 8);
    }

    /// <summary>
    /// The dynamic user name the runtime has to allocate a uid/gid pair for before this unit can be
    /// compiled; null when the unit needs none (no DynamicUser, or a user of that name exists, which
    /// is then used as it is, as systemd does).
    /// </summary>
    public static string? DynamicUserToAllocate(UnitDefinition unit, UserDatabase users)
    {
        ArgumentNullException.ThrowIfNull(unit);
        ArgumentNullException.ThrowIfNull(users);
        if (unit.Kind != UnitKind.Service || !unit.Sandbox.DynamicUser) return null;
        var name = DynamicUserName(unit);
        return users.FindStaticUser(name) is null ? name : null;
    }

    private sealed partial class Compilation
    {
        /// <summary>
        /// DynamicUser's user: the static user of that name, else the allocated pair from the
        /// context, which has the home "/" and no login shell (systemd's dynamic users).
        /// Null without DynamicUser.
        /// </summary>
        private UserEntry? DynamicUserEntry()
        {
            if (!_sbx.DynamicUser) return null;
            var name = DynamicUserName(unit);
            if (ctx.Users.FindStaticUser(name) is { } existing) return existing;
            if (ctx.DynamicUser is not { } allocated || allocated.Name != name)
                throw Error("DynamicUser", $"no uid is allocated for the dynamic user '{name}' (the supervisor allocates one from " +
                    $"{DynamicUidMin}–{DynamicUidMax} when the unit starts)");
            return new UserEntry(name, allocated.Uid, allocated.Gid, "/", "/usr/sbin/nologin");
        }

        /// <summary>Group= of a dynamic user may name the user's own group, which has the user's gid.</summary>
        private uint? DynamicGroup(string groupName, UserEntry? user) =>
            _sbx.DynamicUser && user is not null && groupName == user.Name ? user.Gid : null;

        private KeyringMode KeyringOf() => _sbx.KeyringMode switch
        {
            KeyringSetting.Inherit => KeyringMode.Inherit,
            KeyringSetting.Shared => KeyringMode.Shared,
            _ => KeyringMode.Private,
        };

        /// <summary>
        /// What CapabilityBoundingSet names (as a list of capabilities to keep, not a "~" list to
        /// drop) that the supervisor itself does not hold: the service cannot get it, and inspect
        /// says so. HostCapabilityCheck reports the same at load time.
        /// </summary>
        private ulong UnavailableCapabilities() =>
            _sbx.CapabilityBoundingSet is { Invert: false } set
                ? set.Mask(ctx.Host.CapLastCap) & CapabilityTable.HostMask(ctx.Host.CapLastCap) & ~ctx.Host.SupervisorCapabilities
                : 0;
    }

    /// <summary>"0027" for 0x17: how a umask is written in unit files and shown by inspect.</summary>
    public static string FormatUMask(uint mask) => "0" + Convert.ToString(mask, 8).PadLeft(3, '0');
}
