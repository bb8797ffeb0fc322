using Supervisor.Runtime.Launch;

namespace Supervisor.Runtime.Tests;

/// <summary>
/// These tests count this test process's open descriptors: other test classes opening or closing
/// files at the same moment change the count between the budget and the reservation (a full run
/// once saw a reservation fit that should not have). They run alone.
/// </summary>
[CollectionDefinition(nameof(FdBudgetTests), DisableParallelization = true)]
public sealed class FdBudgetCollection;

/// <summary>Starts near the daemon's own descriptor limit fail cleanly, naming the limit, instead of exhausting it.</summary>
[Collection(nameof(FdBudgetTests))]
public sealed class FdBudgetTests
{
    private static List<FileStream> OpenFiles(int n) => [.. Enumerable.Range(0, n).Select(_ => File.OpenRead("/proc/self/stat"))];

    [Fact]
    public void Starts_beyond_the_budget_are_refused_with_a_message_that_names_the_limit()
    {
        // Room for about ten starts of eight descriptors each above what this process has open now.
        var limit = (ulong)(FdBudget.CountOpen() + 100 + 10 * 8 + 4);
        var budget = new FdBudget(limit, reserve: 100, perStart: 8);
        var held = new List<FileStream>();
        try
        {
            int started = 0;
            var error = Assert.Throws<FdBudgetException>(() =>
            {
                while (started < 1000)
                {
                    budget.Reserve("svc");
                    held.AddRange(OpenFiles(8)); // what a started unit holds
                    started++;
                }
            });
            Assert.InRange(started, 8, 11);
            Assert.StartsWith("svc: not started: the supervisor has ", error.Message, StringComparison.Ordinal);
            Assert.Contains($"of its {limit} file descriptors", error.Message, StringComparison.Ordinal);
            Assert.Contains("LimitNOFILE", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            held.ForEach(f => f.Dispose());
        }
    }

    [Fact]
    public void Descriptors_closed_since_the_last_count_make_room_again()
    {
        var files = OpenFiles(40);
        var budget = new FdBudget((ulong)(FdBudget.CountOpen() + 20 + 8 - 4), reserve: 20, perStart: 8);
        Assert.Throws<FdBudgetException>(() => budget.Reserve("svc"));

        files.ForEach(f => f.Dispose());

        budget.Reserve("svc");
    }
}
