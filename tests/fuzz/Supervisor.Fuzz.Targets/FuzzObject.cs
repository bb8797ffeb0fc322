using Supervisor.DBus;

namespace Supervisor.Fuzz;

/// <summary>
/// The object the SASL target's server exports, so that messages after BEGIN reach dispatch:
/// methods (Echo sends any variant the reader produced back through the writer), properties
/// (Get, GetAll, Set), a signal, and the standard interfaces the registry adds.
/// </summary>
public static class FuzzObject
{
    public const string Name = "io.supervisor.Fuzz1";
    public const string Interface = "io.supervisor.Fuzz1";
    public static readonly ObjectPath Path = new("/io/supervisor/Fuzz1");

    public static DBusObjectRegistry Registry()
    {
        uint counter = 0;
        var registry = new DBusObjectRegistry();
        registry.Register(Path, new DBusInterface(Interface)
            .AddMethod("Echo", "v", "v", (_, args) => ValueTask.FromResult(new object[] { args[0] }), ["value"], ["echoed"])
            .AddMethod("Add", "ii", "i", (_, args) => ValueTask.FromResult(new object[] { unchecked((int)args[0] + (int)args[1]) }))
            .AddMethod("Fail", "", "", (_, _) => throw new DBusErrorException("io.supervisor.Fuzz1.Error.Nope", "fails on purpose"))
            .AddProperty("Version", "s", () => "1.0", change: PropertyChange.Const)
            .AddProperty("Counter", "u", () => counter, (_, v) => counter = (uint)v)
            .AddProperty("Labels", "a{ss}", () => new Dictionary<string, string> { ["tier"] = "web" }, change: PropertyChange.None)
            .AddSignal("Changed", "s", ["what"]));
        return registry;
    }
}
