namespace Supervisor.Fuzz.Tests;

/// <summary>The corpus as copied beside the test assembly (see the project file), one target a folder.</summary>
internal static class Corpus
{
    private static string Root => Path.Combine(AppContext.BaseDirectory, "corpus");

    /// <summary>"TARGET/FILE" for every file of the target's corpus, in name order.</summary>
    public static IReadOnlyList<string> Names(string target) =>
        Directory.EnumerateFiles(Path.Combine(Root, target)).Select(p => target + "/" + Path.GetFileName(p)).Order(StringComparer.Ordinal).ToList();

    public static TheoryData<string> Files(string target) => new(Names(target));

    public static string PathOf(string file) => Path.Combine(Root, file);

    /// <summary>Runs one corpus file; a broken contract fails the test with the finding's message.</summary>
    public static void Run(IFuzzTarget target, string file)
    {
        try
        {
            target.Run(File.ReadAllBytes(PathOf(file)));
        }
        catch (FuzzFindingException e)
        {
            Assert.Fail($"{file}: {e.Message}{(e.InnerException is { } inner ? "\n" + inner : "")}");
        }
    }
}

/// <summary>A directory for one test's unit files and sockets, removed afterwards.</summary>
internal sealed class ScratchDirectory : IDisposable
{
    public ScratchDirectory()
    {
        // Short, under /tmp: a unix socket path must fit in 108 bytes.
        Path = Directory.CreateTempSubdirectory("sfz").FullName;
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Already gone.
        }
    }
}
