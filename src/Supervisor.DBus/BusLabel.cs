using System.Text;

namespace Supervisor.DBus;

/// <summary>
/// systemd's object-path label escaping (src/basic/bus-label.c): every byte outside
/// [A-Za-z], and a digit in the first position, becomes '_' plus two lowercase hex digits;
/// the empty string becomes "_". Used for unit object paths: "avahi-daemon.service" →
/// "avahi_2ddaemon_2eservice".
/// </summary>
public static class BusLabel
{
    public static string Escape(string label)
    {
        if (label.Length == 0) return "_";
        var bytes = Encoding.UTF8.GetBytes(label);
        var sb = new StringBuilder(bytes.Length * 3);
        for (int i = 0; i < bytes.Length; i++)
        {
            byte b = bytes[i];
            bool letter = b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z';
            bool digit = b is >= (byte)'0' and <= (byte)'9';
            if (letter || (digit && i > 0)) sb.Append((char)b);
            else sb.Append('_').Append(b.ToString("x2"));
        }
        return sb.ToString();
    }

    /// <summary>The inverse: "_XX" becomes the byte; an invalid '_' sequence is kept literally (as systemd does).</summary>
    public static string Unescape(string escaped)
    {
        if (escaped == "_") return string.Empty;
        var bytes = new List<byte>(escaped.Length);
        for (int i = 0; i < escaped.Length; i++)
        {
            if (escaped[i] == '_' && i + 2 < escaped.Length
                && Uri.IsHexDigit(escaped[i + 1]) && Uri.IsHexDigit(escaped[i + 2]))
            {
                bytes.Add(Convert.ToByte(escaped.Substring(i + 1, 2), 16));
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(escaped[i].ToString()));
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>The object path of <paramref name="label"/> under <paramref name="prefix"/>: prefix + "/" + Escape(label).</summary>
    public static ObjectPath ToObjectPath(ObjectPath prefix, string label) =>
        new((prefix.Value == "/" ? "" : prefix.Value) + "/" + Escape(label));
}
