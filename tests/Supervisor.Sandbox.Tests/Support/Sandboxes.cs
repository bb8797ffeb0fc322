using Supervisor.Sandbox.Capabilities;

namespace Supervisor.Sandbox.Tests.Support;

internal static class Sandboxes
{
    /// <summary>Every capability this test process holds (its bounding set may lack some, as here CAP_SYS_RESOURCE).</summary>
    public static ulong AllCaps => Inspect.IsolationState.Read(Environment.ProcessId).CapBnd;

    /// <summary>Root with every capability except these, in all of bounding, permitted and effective.</summary>
    public static CapabilitySets RootWithout(params int[] caps)
    {
        ulong m = AllCaps;
        foreach (var c in caps)
            m &= ~(1UL << c);
        return new CapabilitySets(m, m, m, 0, 0);
    }

    public static CapabilitySets None => new(0, 0, 0, 0, 0);
}
