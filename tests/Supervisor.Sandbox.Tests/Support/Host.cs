using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Supervisor.Sandbox.Tests.Support;

internal static partial class Host
{
    [LibraryImport("libc")]
    private static partial uint geteuid();

    /// <summary>Kernel tests need root here; without it they are reported as skipped, never passed.</summary>
    public static void RequireRoot()
    {
        if (geteuid() != 0)
            Assert.Skip("needs root: starts real processes in namespaces through the exec helper");
    }

    public static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed with {p.ExitCode}: {error.Result}");
        return output.Result;
    }

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "src", "helper")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root above " + AppContext.BaseDirectory);
    }

    public static string HelperPath => Path.Combine(AppContext.BaseDirectory, "supervisor-helper");
}

/// <summary>A temp directory removed at dispose (after unmounting nothing: tests mount only in private namespaces).</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir(string? parent = null)
    {
        Path = parent is null
            ? Directory.CreateTempSubdirectory("sbx-test-").FullName
            : Directory.CreateDirectory(System.IO.Path.Combine(parent, "sbx-test-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        File.SetUnixFileMode(Path, (UnixFileMode)0x1ED); // 0755: reachable by a service under another uid
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
