using System.Globalization;

namespace Supervisor.Linux.Proc;

/// <summary>What the /proc readers share: the file of a process, and reading it while the process may exit.</summary>
public static class ProcFiles
{
    /// <summary>/proc/PID/NAME.</summary>
    public static string PathOf(int pid, string name) => $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/{name}";

    /// <summary>
    /// Parses /proc/PID/NAME, or null when it cannot be read: the process exited meanwhile (ENOENT,
    /// or ESRCH in the middle of the read) or its files are not ours to read.
    /// </summary>
    internal static T? TryRead<T>(int pid, string name, Func<string, T> parse) where T : class
    {
        string text;
        try
        {
            text = File.ReadAllText(PathOf(pid, name));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        return parse(text);
    }

    internal static int Int(string text, string file, string field) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new FormatException($"/proc {file}: {field} is \"{text}\", not a number");
}
