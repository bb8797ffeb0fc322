using Supervisor.Units.Keys;
using Supervisor.Units.Model;
using Supervisor.Units.Values;

namespace Supervisor.Units;

/// <summary>Rules between the kernel-surface keys and the capability keys of one unit.</summary>
internal static class KernelSurfaceChecks
{
    /// <param name="error">Reports an error on a [Sandbox] key: key, message, hint.</param>
    /// <param name="warn">Reports a warning on a [Sandbox] key: key, message.</param>
    public static void Check(SandboxSection x, Action<string, string, string?> error, Action<string, string> warn)
    {
        foreach (var (directive, cap) in x.KernelCapabilityDrops)
        {
            string name = Capabilities.Name(cap);
            if (x.AmbientCapabilities.Contains(cap))
                error("AmbientCapabilities",
                    $"[{KeyTable.SandboxSection}] AmbientCapabilities: {name} is removed from the bounding set by {directive}, so it cannot be kept",
                    $"remove {name}, or set {directive} = false");
            if (x.CapabilityBoundingSet is { Invert: false } bounding && bounding.Capabilities.Contains(cap))
                warn("CapabilityBoundingSet",
                    $"[{KeyTable.SandboxSection}] CapabilityBoundingSet: {name} is removed by {directive}; the service does not get it");
        }
    }
}
