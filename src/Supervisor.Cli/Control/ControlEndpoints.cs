using Microsoft.Extensions.Logging;
using Supervisor.DBus;

namespace Supervisor.Cli.Control;

/// <summary>Where the control API is served: the private socket (always) and the system bus (when one is reachable).</summary>
public static class ControlEndpoints
{
    /// <summary>
    /// The private peer-to-peer socket, RUNTIME/private: needs no bus daemon. Mode 0666 (anyone may
    /// read); root, the daemon's uid and <paramref name="adminGid"/> are privileged: connections are
    /// kept for them and the per-user limits (src/Supervisor.DBus/README.md) do not apply to them.
    /// </summary>
    public static DBusServer ListenPrivate(string runtimeDirectory, ControlApi api, uint? adminGid, ILogger logger)
    {
        var socketPath = Path.Combine(runtimeDirectory, "private");
        var server = DBusServer.Listen(socketPath, (UnixFileMode)0b110_110_110, api.Registry,
            new DBusServerOptions { Names = [ControlApi.BusName], AdminGroupId = adminGid });
        server.ClientDisconnected += (client, reason) =>
        {
            if (reason is not null) logger.LogWarning("control client {Client} disconnected: {Reason}", client, reason.Message);
        };
        logger.LogInformation("control API on {Address}", server.Address);
        return server;
    }

    /// <summary>The same API on the system bus, when one is reachable; its absence is not an error.</summary>
    public static async Task<DBusConnection?> ConnectSystemBusAsync(string option, ControlApi api, ILogger logger, CancellationToken cancellationToken)
    {
        var address = SystemBusAddress(option);
        if (address is null)
        {
            logger.LogInformation("no system bus{Why}; the control API is on the private socket only", option == "off" ? " (--system-bus off)" : "");
            return null;
        }
        try
        {
            var connection = await DBusConnection.ConnectAsync(address, new DBusConnectionOptions { Objects = api.Registry }, cancellationToken);
            var reply = await connection.RequestNameAsync(ControlApi.BusName, cancellationToken: cancellationToken);
            if (reply is not (RequestNameReply.PrimaryOwner or RequestNameReply.AlreadyOwner))
            {
                logger.LogWarning("system bus {Address}: the name {Name} is owned by someone else ({Reply}); serving on the private socket only",
                    address, ControlApi.BusName, reply);
                await connection.DisposeAsync();
                return null;
            }
            logger.LogInformation("control API on the system bus {Address} as {Name}", address, ControlApi.BusName);
            return connection;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or DBusErrorException
            or DBusConnectionClosedException or DBusProtocolException or UnauthorizedAccessException)
        {
            logger.LogWarning("system bus {Address} not usable ({Message}); serving on the private socket only", address, e.Message);
            return null;
        }
    }

    /// <summary>"off", "auto" (DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket when it exists) or an address.</summary>
    public static string? SystemBusAddress(string option)
    {
        if (option == "off") return null;
        if (option != "auto") return option;
        if (Environment.GetEnvironmentVariable("DBUS_SYSTEM_BUS_ADDRESS") is { Length: > 0 } env) return env;
        return File.Exists("/run/dbus/system_bus_socket") ? "unix:path=/run/dbus/system_bus_socket" : null;
    }
}
