using Microsoft.Extensions.Logging;
using Supervisor.Supervision;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Sockets;

/// <summary>
/// Starting a service on demand, as systemd does for a socket whose service is not running: the
/// first connection or datagram on a watched socket starts the service; the watch comes back
/// once the service is down again (stopped, or failed). A service that hit its start limit is
/// not started by traffic (systemd's trigger limit has the same purpose); nor is anything while
/// the daemon shuts down.
/// </summary>
public sealed class SocketActivation
{
    private readonly UnitManager _manager;
    private readonly ListeningSockets _sockets;
    private readonly ILogger _logger;
    private volatile bool _stopping;

    public SocketActivation(UnitManager manager, ListeningSockets sockets, ILogger logger)
    {
        _manager = manager;
        _sockets = sockets;
        _logger = logger;
        sockets.Activated += OnTraffic;
        manager.StateChanged += OnStateChanged;
    }

    /// <summary>The daemon is stopping every unit: traffic starts nothing any more.</summary>
    public void Stop() => _stopping = true;

    private void OnTraffic(string socket, string service)
    {
        if (_stopping) return;
        var units = _manager.Units;
        if (!units.TryGetValue(socket, out var s) || s.Active is not ActiveState.Active) return;
        if (!units.TryGetValue(service, out var svc) || svc.Active is not (ActiveState.Inactive or ActiveState.Failed)) return;
        if (svc.Runtime.Result == UnitResult.StartLimitHit) return;
        _logger.LogInformation("{Socket}: incoming traffic, starting {Service}", socket, service);
        _ = _manager.StartAsync(service);
    }

    private void OnStateChanged(UnitStatus status, UnitRuntime before)
    {
        if (_stopping) return;
        // A socket taken back from the fd holder may hold connections already: its watch fires
        // while the socket unit is still starting, when traffic starts nothing. Listening now,
        // it is watched again, and what waits starts the service.
        if (status.Definition is { Kind: UnitKind.Socket } && status.Active is ActiveState.Active && before.Active is not ActiveState.Active)
        {
            _sockets.Arm(status.Name);
            return;
        }
        if (status.Definition is not { Kind: UnitKind.Service }) return;
        bool down = status.Active is ActiveState.Inactive or ActiveState.Failed;
        bool wasDown = before.Active is ActiveState.Inactive or ActiveState.Failed;
        if (!down || wasDown || status.Runtime.Result == UnitResult.StartLimitHit) return;
        foreach (var socket in _sockets.ActivatorsOf(status.Name)) _sockets.Arm(socket);
    }
}
