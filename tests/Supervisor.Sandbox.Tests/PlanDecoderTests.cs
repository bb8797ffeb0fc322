using System.Diagnostics;
using Supervisor.Sandbox.Tests.Support;

namespace Supervisor.Sandbox.Tests;

/// <summary>
/// The helper's plan decoder against truncated, corrupt and oversized plans: src/helper/plan_test.c,
/// built and run by `make -C src/helper test` (with AddressSanitizer and UBSan), fed the plans this
/// serializer writes as well as its own.
/// </summary>
public class PlanDecoderTests
{
    [Fact]
    public void Every_truncated_corrupt_or_oversized_plan_fails_cleanly_at_the_read_plan_step()
    {
        if (!OnPath("cc") || !OnPath("make"))
            Assert.Skip("needs a C compiler (cc) and make to build src/helper/plan_test.c");
        using var dir = new TempDir();
        var full = dir.Combine("full.plan");
        var minimal = dir.Combine("minimal.plan");
        File.WriteAllBytes(full, HelperProtocol.Serialize(HelperProtocolTests.FullPlan()));
        File.WriteAllBytes(minimal, HelperProtocol.Serialize(new ExecPlan { Path = "/bin/true", Argv = ["true"] }));

        var (code, output) = Make(Path.Combine(Host.RepoRoot(), "src", "helper"), "test",
            $"TEST_OUT={dir.Combine("plan-test")}", $"HELPER={Host.HelperPath}", $"PLANS={full} {minimal}");

        Assert.True(code == 0, $"plan-test failed (exit {code}):\n{output}");
        Assert.Matches(@"plan-test: \d+ checks passed", output);
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, program)));

    private static (int Code, string Output) Make(string directory, params string[] args)
    {
        var psi = new ProcessStartInfo("make") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["-s", "-C", directory, .. args])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, output.Result + error.Result);
    }
}
