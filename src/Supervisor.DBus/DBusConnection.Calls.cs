namespace Supervisor.DBus;

/// <summary>Calls: method calls and their replies, the bus's name and match calls.</summary>
public sealed partial class DBusConnection
{
    /// <summary>Calls a method and awaits the reply; an ERROR reply throws <see cref="DBusErrorException"/>.</summary>
    public async Task<Message> CallMethodAsync(Message call, CancellationToken cancellationToken = default)
    {
        if (call.Type != MessageType.MethodCall) throw new ArgumentException("only a method call has a reply", nameof(call));
        uint serial = NextSerial();
        var reply = new TaskCompletionSource<Message>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[serial] = reply;
        try
        {
            Enqueue(call, serial);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.CallTimeout);
            using (timeout.Token.Register(() =>
            {
                if (cancellationToken.IsCancellationRequested) reply.TrySetCanceled(cancellationToken);
                else reply.TrySetException(new DBusErrorException(DBusErrors.NoReply, $"no reply to {call.Interface}.{call.Member} within {_options.CallTimeout.TotalSeconds:0.###} s"));
            }))
            {
                var message = await reply.Task.ConfigureAwait(false);
                if (message.Type == MessageType.Error)
                {
                    message.Dispose();
                    throw new DBusErrorException(message.ErrorName!, message.ErrorMessage ?? string.Empty);
                }
                return message;
            }
        }
        finally
        {
            _pending.TryRemove(serial, out _);
        }
    }

    /// <summary>
    /// Calls a method and returns the reply's body. Unix fds in the reply are not closed: the
    /// caller owns the <see cref="UnixFd"/> values it gets back.
    /// </summary>
    public async Task<object[]> CallAsync(string? destination, ObjectPath path, string? @interface, string member, string signature = "", object[]? args = null, CancellationToken cancellationToken = default)
    {
        var reply = await CallMethodAsync(Message.MethodCall(destination, path, @interface, member, signature, args ?? Array.Empty<object>()), cancellationToken).ConfigureAwait(false);
        return reply.Body.ToArray();
    }

    public async Task<RequestNameReply> RequestNameAsync(string name, RequestNameFlags flags = RequestNameFlags.DoNotQueue, CancellationToken cancellationToken = default)
    {
        var reply = await CallAsync(BusName, BusPath, BusInterface, "RequestName", "su", new object[] { name, (uint)flags }, cancellationToken).ConfigureAwait(false);
        return (RequestNameReply)(uint)reply[0];
    }

    /// <summary>ReleaseName: 1 released, 2 non-existent, 3 not owner.</summary>
    public async Task<uint> ReleaseNameAsync(string name, CancellationToken cancellationToken = default)
    {
        var reply = await CallAsync(BusName, BusPath, BusInterface, "ReleaseName", "s", new object[] { name }, cancellationToken).ConfigureAwait(false);
        return (uint)reply[0];
    }

    /// <summary>The unique name owning <paramref name="name"/>, or null when nobody does.</summary>
    public async Task<string?> GetNameOwnerAsync(string name, CancellationToken cancellationToken = default)
    {
        try
        {
            var reply = await CallAsync(BusName, BusPath, BusInterface, "GetNameOwner", "s", new object[] { name }, cancellationToken).ConfigureAwait(false);
            return (string)reply[0];
        }
        catch (DBusErrorException e) when (e.ErrorName == DBusErrors.NameHasNoOwner)
        {
            return null;
        }
    }

    /// <summary>
    /// Delivers messages matching <paramref name="rule"/> to <paramref name="handler"/> (on the
    /// read loop: keep it short). On a bus the rule is also registered with AddMatch so the bus
    /// routes the signals to us. Dispose the result to remove it.
    /// </summary>
    public async Task<IAsyncDisposable> AddMatchAsync(MatchRule rule, Action<Message> handler, CancellationToken cancellationToken = default)
    {
        var entry = (rule, handler);
        lock (_matches) _matches.Add(entry);
        if (IsBusConnection)
        {
            try
            {
                await CallAsync(BusName, BusPath, BusInterface, "AddMatch", "s", new object[] { rule.ToString() }, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                lock (_matches) _matches.Remove(entry);
                throw;
            }
        }
        return new MatchRegistration(this, entry);
    }

    private sealed class MatchRegistration : IAsyncDisposable
    {
        private readonly DBusConnection _connection;
        private readonly (MatchRule Rule, Action<Message> Handler) _entry;
        private int _disposed;

        public MatchRegistration(DBusConnection connection, (MatchRule, Action<Message>) entry)
        {
            _connection = connection;
            _entry = entry;
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            lock (_connection._matches) _connection._matches.Remove(_entry);
            if (!_connection.IsBusConnection || _connection.IsClosed) return;
            try
            {
                await _connection.CallAsync(BusName, BusPath, BusInterface, "RemoveMatch", "s", new object[] { _entry.Rule.ToString() }).ConfigureAwait(false);
            }
            catch (DBusConnectionClosedException)
            {
                // Closed meanwhile: the bus drops the rule with the connection.
            }
        }
    }
}
