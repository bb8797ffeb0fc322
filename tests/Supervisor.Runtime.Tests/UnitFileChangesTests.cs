using System.Threading.Channels;
using Supervisor.Runtime.Reconcile;

namespace Supervisor.Runtime.Tests;

/// <summary>
/// Issue #18: the units directory's inotify events become a reconcile as soon as the burst is
/// over, with no fixed delay, yet never on a half-written file nor on a unit file an editor moved
/// away for a moment. Each case waits for the watcher's own state, never for time.
/// </summary>
public sealed class UnitFileChangesTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private const string Unit = "[Service]\nExecStart = [\"/bin/sleep\", \"infinity\"]\n[Resources]\nMemoryMax = \"64M\"\n";

    private readonly TempDir _dir = new();
    private readonly Channel<(IReadOnlyCollection<string>? Paths, string? Content)> _calls = Channel.CreateUnbounded<(IReadOnlyCollection<string>?, string?)>();

    public void Dispose() => _dir.Dispose();

    private string S1 => Path.Combine(_dir.Dir, "s1.toml");

    /// <summary>The watcher under test; each reconcile records the paths and what s1.toml holds at that moment.</summary>
    private UnitFileChanges Watch(TimeSpan removalGrace) =>
        new(_dir.Dir, paths =>
        {
            _calls.Writer.TryWrite((paths, File.Exists(S1) ? File.ReadAllText(S1) : null));
            return Task.CompletedTask;
        }, writerBound: Bound * 10, removalGrace: removalGrace);

    private async Task<(IReadOnlyCollection<string>? Paths, string? Content)> NextCall() =>
        await _calls.Reader.ReadAsync().AsTask().WaitAsync(Bound);

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the watcher never reached the expected state");
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task A_file_written_in_place_is_read_once_whole_after_its_writer_closes_it()
    {
        using var changes = Watch(Bound * 10);
        var half = Unit.Length / 2;
        await using (var file = new FileStream(S1, FileMode.Create, FileAccess.Write))
        {
            file.Write(System.Text.Encoding.UTF8.GetBytes(Unit[..half]));
            file.Flush();
            await Until(() => changes.WaitsForWriter);
            file.Write(System.Text.Encoding.UTF8.GetBytes(Unit[half..]));
        }

        var call = await NextCall();
        Assert.Equal(Unit, call.Content);
        Assert.Equal(new[] { S1 }, call.Paths);
    }

    [Fact]
    public async Task An_editor_moving_the_old_file_away_before_writing_the_new_one_never_shows_the_unit_gone()
    {
        _dir.Write("s1.toml", Unit);
        using var changes = Watch(Bound * 10);
        File.Move(S1, S1 + "~");
        await Until(() => changes.WaitsForReplacement);
        File.WriteAllText(S1, Unit.Replace("64M", "96M"));

        var call = await NextCall();
        Assert.Contains("96M", call.Content);
        Assert.Contains(S1, call.Paths!);
    }

    [Fact]
    public async Task A_rename_over_the_unit_is_acted_on_and_the_hidden_temporary_file_is_not_a_change()
    {
        _dir.Write("s1.toml", Unit);
        using var changes = Watch(Bound * 10);
        var tmp = _dir.Write(".s1.toml.tmp", Unit.Replace("64M", "96M"));
        File.Move(tmp, S1, overwrite: true);

        var call = await NextCall();
        Assert.Equal(new[] { S1 }, call.Paths);
        Assert.Contains("96M", call.Content);
    }

    [Fact]
    public async Task A_unit_file_deleted_for_good_is_reported_once_the_grace_is_over()
    {
        _dir.Write("s1.toml", Unit);
        using var changes = Watch(TimeSpan.FromMilliseconds(1));
        File.Delete(S1);

        var call = await NextCall();
        Assert.Equal(new[] { S1 }, call.Paths);
        Assert.Null(call.Content);
    }

    [Fact]
    public async Task A_drop_in_in_a_directory_created_after_the_watch_began_is_seen()
    {
        _dir.Write("s1.toml", Unit);
        using var changes = Watch(Bound * 10);
        Directory.CreateDirectory(S1 + ".d");
        var first = await NextCall(); // the directory itself
        Assert.Contains(S1 + ".d", first.Paths!);
        var dropIn = _dir.Write("s1.toml.d/10-memory.toml", "[Resources]\nMemoryMax = \"96M\"\n");

        var seen = await NextCall();
        Assert.Contains(dropIn, seen.Paths!);
    }
}
