using System.Globalization;
using System.Text;

namespace Supervisor.Runtime.Adoption;

/// <summary>
/// One supervisor per state directory: two would both think they own the units and the state file.
/// The lock (flock, through FileShare.None) is released by the kernel when the process dies, so a
/// kill -9 leaves nothing stale. supervisor.pid beside it names the holder, for the error message.
/// </summary>
public static class StateDirectoryLock
{
    /// <summary>
    /// Creates the state directory if needed and makes it 0700: it holds every unit's log (services
    /// print secrets at start-up) and what a next supervisor adopts; only root reads it, as systemd's
    /// journal files are not world-readable.
    /// </summary>
    public static FileStream Acquire(string stateDirectory)
    {
        const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(stateDirectory, OwnerOnly);
        File.SetUnixFileMode(stateDirectory, OwnerOnly);
        var path = Path.Combine(stateDirectory, "supervisor.lock");
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            string holder = "";
            // Not from the lock file itself: .NET takes a shared flock to read it, which the holder's excludes.
            try { holder = File.ReadAllText(Path.Combine(stateDirectory, "supervisor.pid")).Trim(); } catch (IOException) { }
            throw new InvalidOperationException($"another supervisor{(holder.Length > 0 ? $" (pid {holder})" : "")} is using the state directory '{stateDirectory}'; stop it, or give this one its own --state-dir");
        }
        stream.SetLength(0);
        stream.Write(Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n"));
        stream.Flush();
        File.WriteAllText(Path.Combine(stateDirectory, "supervisor.pid"), Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        return stream;
    }
}
