using System.Xml.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Supervisor.Architecture.Tests;

/// <summary>The rules of ARCHITECTURE.md, over every source file under src/.</summary>
public sealed class ShapeTests
{
    private const int MaxMethodLines = 60;
    private const int MaxRuntimeFileLines = 400;

    /// <summary>The one project that declares native calls and may use unsafe code.</summary>
    private const string LinuxLayer = "Supervisor.Linux";

    private static string Src
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Supervisor.sln"))) dir = dir.Parent;
            return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("Supervisor.sln not found above the test"), "src");
        }
    }

    private static IEnumerable<string> Sources(string under) =>
        Directory.EnumerateFiles(under, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal));

    private static string Project(string file) => Path.GetRelativePath(Src, file).Split('/')[0];

    [Fact]
    public void No_method_is_longer_than_sixty_lines()
    {
        var tooLong = new List<string>();
        foreach (var file in Sources(Src))
        {
            var root = CSharpSyntaxTree.ParseText(File.ReadAllText(file), cancellationToken: TestContext.Current.CancellationToken).GetRoot(TestContext.Current.CancellationToken);
            foreach (var node in root.DescendantNodes().Where(n => n is BaseMethodDeclarationSyntax or AccessorDeclarationSyntax or LocalFunctionStatementSyntax))
            {
                var span = node.GetLocation().GetLineSpan();
                int lines = span.EndLinePosition.Line - span.StartLinePosition.Line + 1;
                if (lines > MaxMethodLines) tooLong.Add($"{Path.GetRelativePath(Src, file)}:{span.StartLinePosition.Line + 1} ({lines} lines)");
            }
        }
        Assert.Empty(tooLong);
    }

    [Fact]
    public void No_runtime_file_is_longer_than_four_hundred_lines()
    {
        var tooLong = Sources(Path.Combine(Src, "Supervisor.Runtime"))
            .Select(f => (File: Path.GetRelativePath(Src, f), Lines: File.ReadAllLines(f).Length))
            .Where(f => f.Lines > MaxRuntimeFileLines)
            .Select(f => $"{f.File} ({f.Lines} lines)");
        Assert.Empty(tooLong);
    }

    [Fact]
    public void Native_calls_are_declared_only_in_the_Linux_layer()
    {
        var outside = new List<string>();
        foreach (var file in Sources(Src).Where(f => Project(f) != LinuxLayer))
        {
            var root = CSharpSyntaxTree.ParseText(File.ReadAllText(file), cancellationToken: TestContext.Current.CancellationToken).GetRoot(TestContext.Current.CancellationToken);
            foreach (var attribute in root.DescendantNodes().OfType<AttributeSyntax>())
            {
                // The last part of the name: [System.Runtime.InteropServices.DllImport(...)] counts too.
                var name = attribute.Name.ToString().Split('.')[^1];
                if (name is "LibraryImport" or "DllImport" or "LibraryImportAttribute" or "DllImportAttribute")
                    outside.Add($"{Path.GetRelativePath(Src, file)}:{attribute.GetLocation().GetLineSpan().StartLinePosition.Line + 1}");
            }
        }
        Assert.Empty(outside);
    }

    [Fact]
    public void Unsafe_code_is_allowed_only_in_the_Linux_layer()
    {
        var allowing = Directory.EnumerateFiles(Src, "*.csproj", SearchOption.AllDirectories)
            .Where(p => XDocument.Load(p).Descendants("AllowUnsafeBlocks").Any(e => e.Value.Trim() == "true"))
            .Select(p => Path.GetFileNameWithoutExtension(p))
            .Where(p => p != LinuxLayer);
        Assert.Empty(allowing);
    }
}
