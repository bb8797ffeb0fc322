using System.Text;

namespace Supervisor.Units.Templates;

/// <summary>An unknown or unresolvable specifier: where in the string it stands, and why.</summary>
public sealed class SpecifierException(int offset, string message, string? hint = null) : Exception(message)
{
    public string? Hint { get; } = hint;

    /// <summary>The offset of the '%' in the string.</summary>
    public int Offset { get; } = offset;
}

/// <summary>
/// systemd's unit specifiers (systemd.unit(5), "SPECIFIERS"; specifier_printf in
/// src/shared/specifier.c), resolved when a unit is loaded, once its name is known: "%%" is "%",
/// a '%' at the very end of a string or before a character that is not a letter stays as it is
/// (so "50%" and "size=10%,noexec" keep their meaning), and a letter systemd does not know is an
/// error, as systemd refuses such a setting. Directories are
/// the system manager's (%t = /run, %S = /var/lib, …); %u %U %h %s %g %G are the manager's own
/// user, root, whatever User= says, exactly as systemd 252 documents them.
/// </summary>
public static class Specifiers
{
    /// <summary>Every specifier understood, for messages and the README.</summary>
    public const string Known = "%a %A %b %B %C %E %f %g %G %h %H %i %I %j %J %l %L %m %M %n %N %o %p %P %s %S %t %T %u %U %v %V %w %W %%";

    public static string Expand(string text, UnitNameParts unit, SpecifierHost? host = null)
    {
        if (!text.Contains('%', StringComparison.Ordinal)) return text;
        host ??= SpecifierHost.Current;
        var sb = new StringBuilder(text.Length + 16);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            // Only "%%" and "%" before a letter are specifiers: every string of a unit is expanded here,
            // also options systemd leaves alone ("size=10%,noexec"), where a '%' before anything else is text.
            if (c != '%' || i == text.Length - 1 || !(char.IsAsciiLetter(text[i + 1]) || text[i + 1] == '%'))
            {
                sb.Append(c);
                continue;
            }
            char s = text[++i];
            sb.Append(Resolve(s, unit, host, i - 1, text));
        }
        return sb.ToString();
    }

    private static string Resolve(char s, UnitNameParts unit, SpecifierHost host, int offset, string text)
    {
        string Os(string key) => host.OsRelease.GetValueOrDefault(key, "");
        string Unescaped(string value)
        {
            try { return UnitNameParts.Unescape(value); }
            catch (UnitValueException e) { throw new SpecifierException(offset, $"%{s} cannot unescape the unit name: {e.Message}"); }
        }
        return s switch
        {
            '%' => "%",
            'n' => unit.Full,
            'N' => unit.WithoutSuffix,
            'p' => unit.Prefix,
            'P' => Unescaped(unit.Prefix),
            'i' => unit.Instance,
            'I' => Unescaped(unit.Instance),
            'j' => unit.FinalComponent,
            'J' => Unescaped(unit.FinalComponent),
            'f' => unit.Instance.Length > 0 ? PathOf(unit.Instance, s, offset) : PathOf(unit.Prefix, s, offset),
            't' => "/run",
            'S' => "/var/lib",
            'C' => "/var/cache",
            'L' => "/var/log",
            'E' => "/etc",
            'T' => host.TempDirectory,
            'V' => host.VarTempDirectory,
            'u' => host.UserName,
            'U' => host.Uid,
            'g' => host.GroupName,
            'G' => host.Gid,
            'h' => host.Home,
            's' => host.Shell,
            'H' => host.Hostname,
            'l' => host.Hostname.Split('.')[0],
            'm' => host.MachineId,
            'b' => host.BootId,
            'a' => host.Architecture,
            'v' => host.KernelRelease,
            'o' => Os("ID"),
            'w' => Os("VERSION_ID"),
            'W' => Os("VARIANT_ID"),
            'B' => Os("BUILD_ID"),
            'A' => Os("IMAGE_VERSION"),
            'M' => Os("IMAGE_ID"),
            _ => throw new SpecifierException(offset,
                $"unknown specifier '%{s}' in \"{text}\"", "write %% for a literal %; known specifiers: " + Known),
        };
    }

    private static string PathOf(string escaped, char s, int offset)
    {
        try { return UnitNameParts.UnescapePath(escaped); }
        catch (UnitValueException e) { throw new SpecifierException(offset, $"%{s} cannot unescape the unit name: {e.Message}"); }
    }
}
