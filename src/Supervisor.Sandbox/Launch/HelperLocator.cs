namespace Supervisor.Sandbox.Launch;

/// <summary>
/// Where the native helper is: $SUPERVISOR_HELPER if set, else next to this assembly (the build
/// puts it there), else /usr/local/lib/supervisor/supervisor-helper (where `make -C src/helper
/// install` puts it).
/// </summary>
public static class HelperLocator
{
    public const string EnvironmentVariable = "SUPERVISOR_HELPER";
    public const string FileName = "supervisor-helper";
    public const string InstalledPath = "/usr/local/lib/supervisor/supervisor-helper";

    public static string Find()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } fromEnv)
        {
            // An explicit override must not silently fall back to another binary.
            if (File.Exists(fromEnv))
                return fromEnv;
            throw new HelperNotFoundException($"cannot find the exec helper: {EnvironmentVariable}='{fromEnv}' does not exist");
        }
        candidates.Add(Path.Combine(AppContext.BaseDirectory, FileName));
        var asmDir = Path.GetDirectoryName(typeof(HelperLocator).Assembly.Location);
        if (!string.IsNullOrEmpty(asmDir))
            candidates.Add(Path.Combine(asmDir, FileName));
        candidates.Add(InstalledPath);
        foreach (var c in candidates)
            if (File.Exists(c))
                return c;
        throw new HelperNotFoundException(
            $"cannot find the exec helper: looked in {string.Join(", ", candidates.Distinct().Select(c => $"'{c}'"))}; " +
            $"build it with 'make -C src/helper install' or set {EnvironmentVariable}");
    }
}
