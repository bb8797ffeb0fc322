using System.Runtime.InteropServices;
using Supervisor.Linux.Files;
using Supervisor.Units;

namespace Supervisor.Import.Ini;

/// <summary>A unit file that cannot be read (missing, not a regular file, too large): the unit is not imported.</summary>
public sealed class UnitFileException(string path, string message) : Exception(message)
{
    public string Path { get; } = path;

    public override string ToString() => $"{Path}: {Message}";
}

/// <summary>
/// Reads unit files the way the supervisor reads its own: only a regular file is opened (a FIFO
/// named x.service would block the import), non-blocking, at most <see cref="Limits.MaxFileBytes"/>.
/// systemd treats a unit that is a link to /dev/null, or an empty file, as masked.
/// </summary>
public static class UnitFiles
{
    /// <summary>Whether the file is masked: a link to /dev/null (a character device once followed) or empty.</summary>
    public static bool IsMasked(string path)
    {
        if (!Statx.TryGet(path, follow: true, out var status, out _)) return false;
        if (status.TypeName == "character device") return true;
        return status.IsRegular && new FileInfo(path).Length == 0;
    }

    public static byte[] Read(string path)
    {
        if (!Statx.TryGet(path, follow: true, out var before, out var errno))
            throw new UnitFileException(path, $"cannot read file: {ErrnoText(errno)}");
        if (!before.IsRegular)
            throw new UnitFileException(path, before.IsDirectory ? "is a directory, expected a unit file" : $"is a {before.TypeName}, not a regular file; refusing to open it");
        using var handle = Open.ReadOnlyNonBlocking(path, out errno) ?? throw new UnitFileException(path, $"cannot read file: {ErrnoText(errno)}");
        if (!Statx.TryGet(handle, out var opened, out errno) || !opened.IsRegular)
            throw new UnitFileException(path, errno != 0 ? $"cannot read file: {ErrnoText(errno)}" : "changed into something that is not a regular file while it was opened");
        try
        {
            // At most one byte past the limit, so a huge file costs nothing.
            var bytes = new byte[Limits.MaxFileBytes + 1];
            int total = 0, n;
            while (total < bytes.Length && (n = RandomAccess.Read(handle, bytes.AsSpan(total), total)) > 0)
                total += n;
            if (total > Limits.MaxFileBytes)
                throw new UnitFileException(path, $"file is larger than {Limits.MaxFileBytes / 1024} KiB, refusing to read it");
            return bytes[..total];
        }
        catch (IOException e)
        {
            throw new UnitFileException(path, $"cannot read file: {e.Message}");
        }
    }

    internal static string ErrnoText(int errno) => errno switch
    {
        2 => "no such file or directory",
        13 => "permission denied",
        20 => "a part of the path is not a directory",
        40 => "too many levels of symbolic links",
        _ => Marshal.GetPInvokeErrorMessage(errno),
    };
}
