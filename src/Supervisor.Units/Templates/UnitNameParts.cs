using System.Text;
using Supervisor.Units.Model;

namespace Supervisor.Units.Templates;

/// <summary>
/// A unit name taken apart as systemd does (systemd.unit(5), "SPECIFIERS"): the prefix before the
/// first '@', the instance between it and the type suffix, and the type. Supervisor's service
/// "pg@15-main" is systemd's "pg@15-main.service"; a slice or target keeps its suffix in its name.
/// </summary>
public sealed record UnitNameParts(string Name, UnitKind Kind)
{
    public const char TemplateMarker = '@';

    /// <summary>The type suffix systemd writes (".service", ".slice", ".target").</summary>
    public string Suffix => Kind switch
    {
        UnitKind.Slice => ".slice",
        UnitKind.Target => ".target",
        _ => ".service",
    };

    /// <summary>%n: the full name with its type suffix.</summary>
    public string Full => Kind == UnitKind.Service ? Name + Suffix : Name;

    /// <summary>%N: the full name without the type suffix.</summary>
    public string WithoutSuffix => Full[..^Suffix.Length];

    private int At => WithoutSuffix.IndexOf(TemplateMarker, StringComparison.Ordinal);

    /// <summary>%p: before the first '@', or %N for a unit that is not an instance.</summary>
    public string Prefix => At < 0 ? WithoutSuffix : WithoutSuffix[..At];

    /// <summary>%i: between the first '@' and the suffix; empty for a unit that is not an instance.</summary>
    public string Instance => At < 0 ? "" : WithoutSuffix[(At + 1)..];

    /// <summary>%j: the prefix's last '-'-separated component.</summary>
    public string FinalComponent => Prefix.LastIndexOf('-') is var dash and >= 0 ? Prefix[(dash + 1)..] : Prefix;

    /// <summary>"name@x" (a service instance) or "name@x.target": has an '@' and something after it.</summary>
    public static bool IsInstance(string name) => TemplateOf(name) is not null && !IsTemplate(name);

    /// <summary>"name@" or "name@.target": a template, which is never a unit of its own.</summary>
    public static bool IsTemplate(string name)
    {
        var at = name.IndexOf(TemplateMarker, StringComparison.Ordinal);
        return at > 0 && (at == name.Length - 1 || name[(at + 1)..] is ".target" or ".slice");
    }

    /// <summary>The template an instance comes from ("pg@15-main" → "pg@", "x@a.target" → "x@.target"), or null.</summary>
    public static string? TemplateOf(string name)
    {
        var at = name.IndexOf(TemplateMarker, StringComparison.Ordinal);
        if (at <= 0) return null;
        foreach (var suffix in new[] { ".target", ".slice" })
            if (name.EndsWith(suffix, StringComparison.Ordinal))
                return name[..(at + 1)] + suffix;
        return name[..(at + 1)];
    }

    /// <summary>
    /// systemd's unit_name_unescape: "-" is "/", "\xNN" is the byte NN (bytes form UTF-8 text);
    /// anything else stands for itself. A backslash not followed by "xNN" is an error, as in systemd.
    /// </summary>
    public static string Unescape(string text)
    {
        var bytes = new List<byte>(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '-') bytes.Add((byte)'/');
            else if (c == '\\')
            {
                if (i + 3 >= text.Length || text[i + 1] != 'x'
                    || !IsHex(text[i + 2]) || !IsHex(text[i + 3]))
                    throw new UnitValueException($"\"{text}\" has a '\\' that is not an escape \\xNN");
                bytes.Add(Convert.ToByte(text.Substring(i + 2, 2), 16));
                i += 3;
            }
            else bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }

    /// <summary>
    /// systemd's unit_name_path_unescape (%f): the unescaped text as an absolute path, "/" for an empty one,
    /// with repeated slashes folded.
    /// </summary>
    public static string UnescapePath(string text)
    {
        var path = Unescape(text);
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return "/" + string.Join('/', parts);
    }

    /// <summary>systemd-escape: "/" becomes "-", and every byte outside [A-Za-z0-9:_.] (and a leading ".") becomes "\xNN".</summary>
    public static string Escape(string text)
    {
        var sb = new StringBuilder();
        var bytes = Encoding.UTF8.GetBytes(text);
        for (int i = 0; i < bytes.Length; i++)
        {
            byte b = bytes[i];
            if (b == '/') sb.Append('-');
            else if ((b is >= (byte)'a' and <= (byte)'z') || (b is >= (byte)'A' and <= (byte)'Z') || (b is >= (byte)'0' and <= (byte)'9')
                || b is (byte)':' or (byte)'_' || (b == '.' && i > 0))
                sb.Append((char)b);
            else sb.Append("\\x").Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);
}
