using Microsoft.Win32.SafeHandles;
using System.IO.Pipes;

namespace Supervisor.DBus.Tests;

/// <summary>An exported object with one of everything, used by the peer and bus tests.</summary>
internal sealed class TestService
{
    public const string Name = "io.supervisor.Test1";
    public const string Interface = "io.supervisor.Test1";
    public static readonly ObjectPath Path = new("/io/supervisor/Test1");
    public static readonly ObjectPath UnitPath = BusLabel.ToObjectPath("/io/supervisor/Test1/unit", "web.service");

    public uint Counter;

    public DBusObjectRegistry Registry { get; } = new();

    public TestService()
    {
        var main = new DBusInterface(Interface)
            .AddMethod("Echo", "s", "s", (ctx, args) => ValueTask.FromResult(new object[] { args[0] }), new[] { "text" }, new[] { "echoed" })
            .AddMethod("Add", "ii", "i", (ctx, args) => ValueTask.FromResult(new object[] { (int)args[0] + (int)args[1] }))
            .AddMethod("ThreadName", "", "s", (ctx, args) => ValueTask.FromResult(new object[] { Thread.CurrentThread.Name ?? "" }))
            .AddMethod("Fail", "", "", (ctx, args) => throw new DBusErrorException("io.supervisor.Test1.Error.Nope", "nope, on purpose"))
            .AddMethod("Crash", "", "", (ctx, args) => throw new InvalidOperationException("handler bug"))
            .AddMethod("WhoAmI", "", "u", async (ctx, args) => new object[] { (await ctx.GetCallerCredentialsAsync()).UserId })
            .AddMethod("Secret", "", "s", (ctx, args) => ValueTask.FromResult(new object[] { "only for root" }))
            .AddMethod("Big", "u", "ay", (ctx, args) => ValueTask.FromResult(new object[] { new byte[(uint)args[0]] }))
            .AddMethod("ReadFd", "h", "s", (ctx, args) =>
            {
                using var handle = ((UnixFd)args[0]).Take();
                using var stream = new FileStream(new SafeFileHandle(handle.DangerousGetHandle(), ownsHandle: false), FileAccess.Read);
                using var reader = new StreamReader(stream);
                return ValueTask.FromResult(new object[] { reader.ReadToEnd() });
            })
            .AddMethod("MakeFd", "s", "h", (ctx, args) =>
            {
                var pipe = new AnonymousPipeServerStream(PipeDirection.Out);
                var readEnd = pipe.ClientSafePipeHandle;
                using (var writer = new StreamWriter(pipe)) writer.Write((string)args[0]);
                return ValueTask.FromResult(new object[] { readEnd });
            })
            .AddProperty("Version", "s", () => "1.2.3", change: PropertyChange.Const)
            .AddProperty("Counter", "u", () => Counter, (ctx, v) => Counter = (uint)v)
            .AddProperty("Labels", "a{ss}", () => new Dictionary<string, string> { ["tier"] = "web" }, change: PropertyChange.None)
            .AddSignal("Changed", "s", new[] { "what" });
        Registry.Register(Path, main);
        var unit = new DBusInterface("io.supervisor.Unit1")
            .AddProperty("Id", "s", () => "web.service", change: PropertyChange.Const)
            .AddProperty("ActiveState", "s", () => "active");
        Registry.Register(UnitPath, unit);
        // Mutating calls need uid 0, like the supervisor's policy.
        Registry.Authorize = async ctx =>
        {
            if (ctx.Member is "Secret" || ctx.Kind == CallKind.SetProperty)
            {
                var caller = await ctx.GetCallerCredentialsAsync();
                if (caller.UserId != 0) throw new DBusErrorException(DBusErrors.AccessDenied, $"uid {caller.UserId} may not call {ctx.Member}");
            }
        };
    }
}
