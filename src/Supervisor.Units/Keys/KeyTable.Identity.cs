using Supervisor.Units.Model;
using Supervisor.Units.Syntax;
using V = Supervisor.Units.Keys.ValueTypes;
using static Supervisor.Units.Keys.ChangeEffect;

namespace Supervisor.Units.Keys;

public static partial class KeyTable
{
    /// <summary>[Sandbox] keys that decide who the service runs as and what it leaves behind (DynamicUser, UMask, KeyringMode, RemoveIPC).</summary>
    private static IEnumerable<KeySpec> IdentityKeys() =>
    [
        X("DynamicUser", Restart, V.Bool, x => x.DynamicUser, (x, v) => x with { DynamicUser = v }, "false",
            "run as a uid/gid pair from 61184–65519 allocated when the unit starts and released when it stops (the user is named after User=, else the unit; " +
            "an existing user of that name is used as it is); implies ProtectSystem=\"strict\", ProtectHome=\"read-only\", PrivateTmp, RemoveIPC and NoNewPrivileges"),
        X("UMask", Restart, UMaskValue.Instance, x => x.UMask, (x, v) => x with { UMask = v }, "\"0022\"",
            "the file mode creation mask the service starts with, in octal"),
        X("KeyringMode", Restart, V.Enum(("inherit", KeyringSetting.Inherit), ("private", KeyringSetting.Private), ("shared", KeyringSetting.Shared)),
            x => x.KeyringMode, (x, v) => x with { KeyringMode = v }, "\"private\"",
            "the session keyring: the supervisor's own (inherit), a new empty one (private), or a new one with the service user's user keyring linked in (shared)"),
        X("RemoveIPC", Restart, V.Bool, x => x.RemoveIPC, (x, v) => x with { RemoveIPC = v }, "false",
            "when the unit has stopped, remove the System V shared memory, semaphores and message queues and the POSIX shared memory and message queues " +
            "owned by its user and group; never root's (uid 0, gid 0), as in systemd"),
    ];

    /// <summary>
    /// Rules between the identity keys and the rest of the unit, called from the parser's
    /// consistency check: (section, key, message, is it an error, hint).
    /// </summary>
    internal static IEnumerable<(string Section, string Key, string Message, bool Error, string? Hint)> IdentityConsistency(UnitDefinition unit)
    {
        var x = unit.Sandbox;
        var s = unit.Service;
        if (x.RemoveIPC && !x.DynamicUser && s.User is null && s.Group is null)
            yield return (SandboxSection, "RemoveIPC", "[Sandbox] RemoveIPC has no effect for a service that runs as root: the IPC objects of root are never removed", false, null);
        if (x.DynamicUser && s.User is { } user && !IsUserName(user))
            yield return (ServiceSection, "User", $"[Service] User: with DynamicUser, \"{user}\" must be a user name (letters, digits, '_' and '-', starting with a letter or '_', at most 31 characters)", true, null);
    }

    /// <summary>A name useradd would accept, as systemd's valid_user_group_name() (strict mode).</summary>
    public static bool IsUserName(string name) =>
        name.Length is > 0 and <= 31 && (char.IsAsciiLetterLower(name[0]) || name[0] == '_')
        && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-');

    /// <summary>UMask: an octal string ("0027", "027", "27"), as systemd's parse_mode reads it; only 0–0777 mean anything to umask(2), so more is refused.</summary>
    private sealed class UMaskValue : IValueType<uint>
    {
        public static readonly UMaskValue Instance = new();

        public string Describe => "octal string (e.g. \"0027\")";

        public uint Parse(TomlValue value)
        {
            var s = V.AsString(value, "an octal mask in a string, like \"0027\"");
            if (s.Length is 0 or > 6 || !s.All(c => c is >= '0' and <= '7'))
                throw V.Expected("an octal mask in a string, like \"0027\" (digits 0–7)", value);
            var mask = Convert.ToUInt32(s, 8);
            if (mask > 0x1FF)
                throw new UnitValueException($"\"{s}\" sets bits above 0777; a umask holds only the permission bits 0000–0777");
            return mask;
        }

        public object ToPlain(uint value) => "0" + Convert.ToString(value, 8).PadLeft(3, '0');
    }
}
