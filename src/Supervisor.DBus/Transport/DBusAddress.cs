using System.Net.Sockets;
using System.Text;

namespace Supervisor.DBus;

/// <summary>
/// D-Bus server addresses (spec #addresses): "unix:path=/p" or "unix:abstract=name", key=value
/// pairs joined by ',', values %-escaped, alternatives joined by ';' (the first usable one wins).
/// </summary>
public static class DBusAddress
{
    public const string SystemBus = "unix:path=/run/dbus/system_bus_socket";

    /// <summary>The socket endpoint of the first unix:path or unix:abstract entry.</summary>
    public static UnixDomainSocketEndPoint ParseUnixEndPoint(string address)
    {
        foreach (string entry in address.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = entry.IndexOf(':');
            if (colon < 0 || entry.Substring(0, colon) != "unix") continue;
            foreach (string pair in entry.Substring(colon + 1).Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = pair.IndexOf('=');
                if (eq < 0) throw new FormatException($"D-Bus address '{address}': '{pair}' is not key=value");
                string key = pair.Substring(0, eq);
                string value = Unescape(pair.Substring(eq + 1), address);
                if (key == "path") return new UnixDomainSocketEndPoint(value);
                // Abstract names start with a NUL byte in sockaddr_un.
                if (key == "abstract") return new UnixDomainSocketEndPoint("\0" + value);
            }
        }
        throw new FormatException($"D-Bus address '{address}' has no unix:path= or unix:abstract= entry");
    }

    /// <summary>"unix:path=" + the %-escaped path.</summary>
    public static string ForUnixPath(string path) => "unix:path=" + Escape(path);

    public static string Escape(string value)
    {
        var sb = new StringBuilder();
        foreach (byte b in Encoding.UTF8.GetBytes(value))
        {
            char c = (char)b;
            if (c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '-' or '_' or '/' or '.' or '\\' or '*') sb.Append(c);
            else sb.Append('%').Append(b.ToString("x2"));
        }
        return sb.ToString();
    }

    private static string Unescape(string value, string address)
    {
        var bytes = new List<byte>();
        for (int i = 0; i < value.Length; i++)
        {
            if (value[i] == '%')
            {
                if (i + 2 >= value.Length || !Uri.IsHexDigit(value[i + 1]) || !Uri.IsHexDigit(value[i + 2]))
                    throw new FormatException($"D-Bus address '{address}': bad %-escape in '{value}'");
                bytes.Add(Convert.ToByte(value.Substring(i + 1, 2), 16));
                i += 2;
            }
            else bytes.AddRange(Encoding.UTF8.GetBytes(value[i].ToString()));
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
