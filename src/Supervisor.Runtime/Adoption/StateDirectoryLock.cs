using System.Globalization;
using System.Text;

namespace Supervisor.Runtime.Adoption;

/// <summary>
/// One supervisor per state directory: two would both think they own the units and the state file.
/// The lock (flock, through FileShare.None) is released by the kernel when the process dies, so a
/// kill -9 leaves nothing stale. The file holds the holder's pid, for the error message.
/// </summary>
public static class StateDirectoryLock
{
    public static FileStream Acquire(string stateDirectory)
    {
        var path = Path.Combine(stateDirectory, "supervisor.lock");
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            string holder = "";
            try { holder = File.ReadAllText(path).Trim(); } catch (IOException) { }
            throw new InvalidOperationException($"another supervisor{(holder.Length > 0 ? $" (pid {holder})" : "")} is using the state directory '{stateDirectory}'; stop it, or give this one its own --state-dir");
        }
        stream.SetLength(0);
        stream.Write(Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n"));
        stream.Flush();
        return stream;
    }
}
