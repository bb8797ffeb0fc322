using Supervisor.Units.Model;
using Supervisor.Units.Values;

namespace Supervisor.Sandbox.Suggest;

/// <summary>
/// What a service may have done, as learn mode saw it: the calls it made outside the filter it
/// learned under (<see cref="Learned"/>), with their decisive arguments
/// (<see cref="Seccomp.LearnedArgument"/>) and socket families, and the calls that filter allowed
/// without reporting them (<see cref="Unobserved"/>: the unit's allow list, and always @default).
/// An unobserved call may have been made with any argument; nothing else was made.
/// </summary>
public sealed record LearnedUse(
    IReadOnlySet<string> Learned,
    IReadOnlySet<int> Families,
    IReadOnlyDictionary<string, IReadOnlySet<ulong>> Arguments,
    IReadOnlySet<string> Unobserved)
{
    /// <summary>
    /// The calls a unit's filter lets through unreported while learning: its allow list as
    /// resolved (with @default, which every allow list has), or @default alone when it has none
    /// (learning without a list, or --suggest run after a deny list replaced the learning one).
    /// </summary>
    public static IReadOnlySet<string> BaselineOf(SandboxSection sandbox)
    {
        var set = new SortedSet<string>(SyscallTable.Expand("@default"), StringComparer.Ordinal);
        if (sandbox.SystemCallFilter is { IsAllowList: true } filter) set.UnionWith(filter.Resolve());
        return set;
    }

    public bool IsObserved(string call) => !Unobserved.Contains(call);

    /// <summary>Whether <paramref name="call"/> may have been made: learned, or allowed unreported.</summary>
    public bool MayHaveCalled(string call) => Learned.Contains(call) || Unobserved.Contains(call);

    /// <summary>
    /// Whether <paramref name="call"/> may have been made with an argument <paramref name="matches"/>
    /// accepts: unobserved (any argument), or learned with such an argument (or with none recorded,
    /// as a file written before arguments were recorded has).
    /// </summary>
    public bool MayHaveCalled(string call, Func<ulong, bool> matches) =>
        Unobserved.Contains(call)
        || (Learned.Contains(call) && (!Arguments.TryGetValue(call, out var values) || values.Count == 0 || values.Any(matches)));

    /// <summary>Why <paramref name="call"/> counts as made, in words.</summary>
    public string Evidence(string call) => Unobserved.Contains(call)
        ? $"{call} was allowed unreported while learning (not observed)"
        : $"{call} was called";
}
