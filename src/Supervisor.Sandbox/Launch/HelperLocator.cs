namespace Supervisor.Sandbox.Launch;

/// <summary>
/// Where the native binaries are: the exec helper (<c>supervisor-helper</c>) and the output fd
/// holder (<c>supervisor-holder</c>). Each is looked for in its environment variable if set, else
/// next to this assembly (the build puts both there), else in /usr/local/lib/supervisor/ (where
/// `make -C src/helper install` puts them).
/// </summary>
public static class HelperLocator
{
    public const string EnvironmentVariable = "SUPERVISOR_HELPER";
    public const string FileName = "supervisor-helper";
    public const string InstalledPath = InstallDirectory + FileName;

    public const string HolderEnvironmentVariable = "SUPERVISOR_HOLDER";
    public const string HolderFileName = "supervisor-holder";
    public const string HolderInstalledPath = InstallDirectory + HolderFileName;

    private const string InstallDirectory = "/usr/local/lib/supervisor/";

    /// <summary>The exec helper.</summary>
    public static string Find() => Find(FileName, EnvironmentVariable, InstalledPath, "the exec helper");

    /// <summary>The output fd holder.</summary>
    public static string FindHolder() => Find(HolderFileName, HolderEnvironmentVariable, HolderInstalledPath, "the fd holder");

    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("SingleFile", "IL3000",
        Justification = "Location is empty in a native (AOT) binary; AppContext.BaseDirectory, the first candidate, is its folder")]
    private static string Find(string fileName, string variable, string installedPath, string what)
    {
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } fromEnv)
        {
            // An explicit override must not silently fall back to another binary.
            if (File.Exists(fromEnv))
                return fromEnv;
            throw new HelperNotFoundException($"cannot find {what}: {variable}='{fromEnv}' does not exist");
        }
        var candidates = new List<string> { Path.Combine(AppContext.BaseDirectory, fileName) };
        var asmDir = Path.GetDirectoryName(typeof(HelperLocator).Assembly.Location);
        if (!string.IsNullOrEmpty(asmDir))
            candidates.Add(Path.Combine(asmDir, fileName));
        candidates.Add(installedPath);
        foreach (var c in candidates)
            if (File.Exists(c))
                return c;
        throw new HelperNotFoundException(
            $"cannot find {what}: looked in {string.Join(", ", candidates.Distinct().Select(c => $"'{c}'"))}; " +
            $"build it with 'make -C src/helper install' or set {variable}");
    }
}
