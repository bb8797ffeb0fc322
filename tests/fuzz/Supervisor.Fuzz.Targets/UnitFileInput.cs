using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Fuzz;

/// <summary>
/// One fuzz input laid out as files: the unit file and its drop-ins (see <see cref="UnitFileTarget"/>
/// for the two marker lines), written into a scratch directory that is emptied first, so
/// files of the previous input cannot leak into this one.
/// </summary>
public sealed record UnitFileInput(string Name, UnitKind Kind, string UnitFile, IReadOnlyList<string> DropIns, IReadOnlyDictionary<string, byte[]> Contents)
{
    public IReadOnlyList<string> All => [UnitFile, .. DropIns];

    public static UnitFileInput Write(byte[] input, string directory)
    {
        var parts = Split(input);
        var kind = StartsWithLine(parts[0], UnitFileTarget.SliceMarker) ? UnitKind.Slice : UnitKind.Service;
        var name = kind == UnitKind.Slice ? "fuzz.slice" : "fuzz";
        Clear(directory);
        var unitFile = Path.Combine(directory, name + UnitLoader.UnitSuffix);
        var contents = new Dictionary<string, byte[]>(StringComparer.Ordinal) { [unitFile] = parts[0] };
        File.WriteAllBytes(unitFile, parts[0]);
        var dropIns = new List<string>();
        if (parts.Count > 1)
        {
            var dropInDir = unitFile + ".d";
            Directory.CreateDirectory(dropInDir);
            for (int i = 1; i < parts.Count; i++)
            {
                // Zero-padded, so lexical order (the merge order) is the order in the input.
                var path = Path.Combine(dropInDir, $"{i:D2}-fuzz{UnitLoader.UnitSuffix}");
                File.WriteAllBytes(path, parts[i]);
                dropIns.Add(path);
                contents[path] = parts[i];
            }
        }
        return new UnitFileInput(name, kind, unitFile, dropIns, contents);
    }

    /// <summary>Splits at each line that is exactly the drop-in marker (the marker line starts the drop-in).</summary>
    private static List<byte[]> Split(byte[] input)
    {
        var parts = new List<byte[]>();
        var marker = "\n"u8.ToArray().Concat(System.Text.Encoding.ASCII.GetBytes(UnitFileTarget.DropInMarker)).ToArray();
        int start = 0;
        int searchFrom = 0;
        while (parts.Count < UnitFileTarget.MaxDropIns)
        {
            int at = input.AsSpan(searchFrom).IndexOf(marker);
            if (at < 0) break;
            at += searchFrom;
            int lineEnd = at + marker.Length;
            bool wholeLine = lineEnd == input.Length || input[lineEnd] == '\n' || (input[lineEnd] == '\r' && lineEnd + 1 < input.Length && input[lineEnd + 1] == '\n');
            searchFrom = at + 1;
            if (!wholeLine) continue;
            parts.Add(input[start..(at + 1)]);
            start = at + 1;
        }
        parts.Add(input[start..]);
        return parts;
    }

    private static bool StartsWithLine(byte[] bytes, string line)
    {
        var prefix = System.Text.Encoding.ASCII.GetBytes(line);
        if (!bytes.AsSpan().StartsWith(prefix)) return false;
        return bytes.Length == prefix.Length || bytes[prefix.Length] is (byte)'\n' or (byte)'\r';
    }

    private static void Clear(string directory)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(directory))
        {
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
            else File.Delete(entry);
        }
    }
}
