namespace Supervisor.Fuzz.Tests;

/// <summary>
/// Every file of the fuzz corpus (tests/fuzz/corpus/TARGET: the seeds and every finding kept
/// as a regression case) through the same target and oracles AFL uses: the reader returns or
/// reports the input the documented way, stays within its allocation bound, and keeps its
/// round-trip and diagnostic promises. A reader that regresses on a corpus input fails here,
/// in the normal test run, without AFL.
/// </summary>
public sealed class CorpusReplayTests
{
    public static TheoryData<string> UnitFiles => Corpus.Files(FuzzTargets.UnitFile);

    public static TheoryData<string> DBusMessages => Corpus.Files(FuzzTargets.DBusMessage);

    public static TheoryData<string> SaslExchanges => Corpus.Files(FuzzTargets.Sasl);

    [Theory]
    [MemberData(nameof(UnitFiles))]
    public void Unit_file_corpus_input_is_checked_within_every_contract(string file)
    {
        using var scratch = new ScratchDirectory();
        using var target = FuzzTargets.Create(FuzzTargets.UnitFile, scratch.Path);
        Corpus.Run(target, file);
    }

    [Theory]
    [MemberData(nameof(DBusMessages))]
    public void DBus_corpus_message_is_read_within_every_contract(string file)
    {
        using var target = FuzzTargets.Create(FuzzTargets.DBusMessage, Path.GetTempPath());
        Corpus.Run(target, file);
    }

    [Theory]
    [MemberData(nameof(SaslExchanges))]
    public async Task SASL_corpus_exchange_ends_with_a_documented_disconnect_and_well_formed_replies(string file)
    {
        using var scratch = new ScratchDirectory();
        // Off the test's synchronization context: the target waits on the server's tasks.
        await Task.Run(() =>
        {
            using var target = FuzzTargets.Create(FuzzTargets.Sasl, scratch.Path);
            Corpus.Run(target, file);
        }, TestContext.Current.CancellationToken);
    }

    [Fact]
    public void Debian_units_written_as_TOML_are_valid_units()
    {
        using var scratch = new ScratchDirectory();
        using var target = FuzzTargets.Create(FuzzTargets.UnitFile, scratch.Path);
        var debian = Corpus.Names(FuzzTargets.UnitFile).Where(f => Path.GetFileName(f).StartsWith("debian-", StringComparison.Ordinal)).ToList();
        Assert.Equal(7, debian.Count);
        foreach (var file in debian)
        {
            string outcome = target.Run(File.ReadAllBytes(Corpus.PathOf(file)));
            Assert.True(outcome.StartsWith("valid service", StringComparison.Ordinal), $"{file}: {outcome}");
        }
    }

    [Fact]
    public void Every_target_has_a_corpus()
    {
        foreach (var name in FuzzTargets.Names)
            Assert.True(Corpus.Names(name).Count >= 10, $"tests/fuzz/corpus/{name} has fewer than 10 inputs");
    }
}
