using Supervisor.Linux;
using Supervisor.Supervision;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Sockets;

/// <summary>
/// Accept=yes, as systemd's socket_enter_running: the supervisor accepts each connection on the
/// event loop thread, refuses it (closes it at once) beyond MaxConnections or
/// MaxConnectionsPerSource, and otherwise starts a transient instance of the socket's template,
/// named after the connection, that gets the connection (<see cref="AcceptedConnections"/>; the
/// launcher passes it). The instance is built from the template as it is on disk now, with
/// Restart=no (systemd never restarts a connection's service), and is gone once it is down.
/// </summary>
public sealed class ConnectionActivation
{
    private readonly UnitManager _manager;
    private readonly AcceptedConnections _connections;
    private readonly Func<string, UnitDefinition> _instantiate;
    private readonly Action<string, string> _log;
    private volatile bool _stopping;

    /// <param name="instantiate">The instance's definition from its template (throws <see cref="InstanceException"/> when it cannot be made).</param>
    /// <param name="log">A line for a unit's log.</param>
    public ConnectionActivation(UnitManager manager, ListeningSockets sockets, AcceptedConnections connections,
        Func<string, UnitDefinition> instantiate, Action<string, string> log)
    {
        _manager = manager;
        _connections = connections;
        _instantiate = instantiate;
        _log = log;
        sockets.Pending += OnPending;
    }

    /// <summary>The daemon is stopping every unit: a connection is accepted and closed, it starts nothing.</summary>
    public void Stop() => _stopping = true;

    private void OnPending(UnitDefinition bound, SafeFd listener)
    {
        var connection = ConnectionSockets.Accept(listener, out int errno);
        if (connection is null)
        {
            // EAGAIN: another wake-up took it; ECONNABORTED: the client gave up before we took it.
            if (errno is not (Errno.EAGAIN or Errno.ECONNABORTED or Errno.EINTR))
                _log(bound.Name, $"accept() failed: {Errno.Name(errno)}");
            return;
        }
        // The limits as declared now (MaxConnections changes without a rebind).
        var socket = _manager.Units.TryGetValue(bound.Name, out var status) && status.Definition is { Kind: UnitKind.Socket } d ? d : bound;
        if (_stopping)
        {
            connection.Fd.Dispose();
            return;
        }
        var admission = _connections.Admit(socket, connection);
        if (admission.Log is { } line) _log(bound.Name, line);
        if (admission.Instance is not { } instance)
        {
            connection.Fd.Dispose();
            return;
        }
        // Reading the template is file I/O: not on the event loop thread.
        ThreadPool.UnsafeQueueUserWorkItem(_ => _ = StartAsync(bound.Name, instance), null);
    }

    private async Task StartAsync(string socket, string instance)
    {
        UnitDefinition unit;
        try
        {
            unit = _instantiate(instance);
        }
        catch (InstanceException e)
        {
            _log(socket, $"connection refused: cannot make '{instance}': {e.Message}");
            _connections.Release(instance);
            return;
        }
        unit = unit with { Service = unit.Service with { Restart = RestartPolicy.No } };
        var outcome = await _manager.StartTransientAsync(unit).ConfigureAwait(false);
        // Down without ever running (a dependency failed, or the name was taken): nothing released it.
        if (outcome.Result is not JobResult.Done && !_manager.Units.ContainsKey(instance))
        {
            if (outcome.Result is JobResult.Rejected or JobResult.Dependency) _log(socket, $"connection closed: '{instance}' did not start: {outcome.Message}");
            _connections.Release(instance);
        }
    }
}

/// <summary>A connection's instance cannot be made from its template (the template is gone or has errors now).</summary>
public sealed class InstanceException(string message) : Exception(message);
