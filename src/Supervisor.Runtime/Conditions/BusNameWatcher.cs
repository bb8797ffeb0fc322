using Supervisor.DBus;
using Supervisor.Runtime.Host;
using Supervisor.Supervision;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Conditions;

/// <summary>
/// Type=dbus: the service is started once its BusName has an owner on the system bus. A client
/// connection asks GetNameOwner until it has one (the start timeout is the machine's), while the
/// run it was asked for lasts. No reachable system bus is a start failure that says so.
/// </summary>
internal sealed class BusNameWatcher(IUnitEventSink sink, Action<string, string> log, string? address, CancellationToken stopping)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    /// <summary>The system bus Type=dbus units are watched on: the daemon's --system-bus address, else DBUS_SYSTEM_BUS_ADDRESS, else the standard socket.</summary>
    public static string? Resolve(string option)
    {
        if (option is not ("auto" or "off")) return option;
        if (Environment.GetEnvironmentVariable("DBUS_SYSTEM_BUS_ADDRESS") is { Length: > 0 } env) return env;
        return File.Exists("/run/dbus/system_bus_socket") ? "unix:path=/run/dbus/system_bus_socket" : null;
    }

    public void Watch(UnitSlot slot, UnitDefinition unit)
    {
        long generation = Interlocked.Read(ref slot.Generation);
        var name = unit.Service.BusName!;
        _ = Task.Run(async () =>
        {
            if (address is null)
            {
                Fail(unit, $"Type=dbus: no system bus is reachable (no DBUS_SYSTEM_BUS_ADDRESS, no /run/dbus/system_bus_socket, no --system-bus address) to see {name} appear");
                return;
            }
            DBusConnection bus;
            try
            {
                bus = await DBusConnection.ConnectAsync(address, cancellationToken: stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException or DBusProtocolException or InvalidOperationException or FormatException or ArgumentException)
            {
                Fail(unit, $"Type=dbus: the system bus at {address} is not reachable ({e.Message}), so {name} cannot be seen");
                return;
            }
            await using (bus.ConfigureAwait(false))
            {
                while (!stopping.IsCancellationRequested && Interlocked.Read(ref slot.Generation) == generation && slot.Main is not null)
                {
                    if (await bus.GetNameOwnerAsync(name, stopping).ConfigureAwait(false) is not null)
                    {
                        log(unit.Name, $"{name} appeared on the system bus");
                        sink.Post(unit.Name, new UnitEvent.Ready());
                        return;
                    }
                    await Task.Delay(Poll, stopping).ConfigureAwait(false);
                }
            }
        }, stopping).ContinueWith(t =>
        {
            if (t.Exception is { } ex && ex.InnerException is not OperationCanceledException)
                Fail(unit, $"Type=dbus: watching {name} on the system bus failed: {ex.InnerException?.Message}");
        }, TaskScheduler.Default);
    }

    private void Fail(UnitDefinition unit, string message)
    {
        log(unit.Name, message);
        sink.Post(unit.Name, new UnitEvent.SetupFailed(message));
    }
}
