namespace Supervisor.DBus;

/// <summary>Something exported objects' signals are sent through: a connection, or a server (to all its peers).</summary>
internal interface ISignalSink
{
    void SendSignal(Message signal);

    /// <summary>False when nobody would receive a signal (a server with no peers, a closed connection).</summary>
    bool HasPeers { get; }
}

/// <summary>
/// The exported objects: interfaces registered by object path. One registry can be served on
/// a bus connection and a peer-to-peer server at once; signals go out through all of them.
/// </summary>
public sealed class DBusObjectRegistry
{
    private readonly object _lock = new();
    private readonly Dictionary<ObjectPath, DBusInterface[]> _objects = new();
    private readonly List<ISignalSink> _sinks = new();

    /// <summary>
    /// Called before every method call, property Get/GetAll and Set on a registered interface
    /// (not for Introspect/Peer). Throw a <see cref="DBusErrorException"/> (e.g.
    /// <see cref="DBusErrors.AccessDenied"/>) to refuse; the caller gets that error.
    /// </summary>
    public Func<CallContext, ValueTask>? Authorize { get; set; }

    public void Register(ObjectPath path, params DBusInterface[] interfaces)
    {
        if (interfaces.Length == 0) throw new ArgumentException("an object needs at least one interface", nameof(interfaces));
        foreach (var i in interfaces)
        {
            if (ObjectDispatcher.IsStandardInterface(i.Name)) throw new ArgumentException($"interface '{i.Name}' is provided by the library");
        }
        if (interfaces.Select(i => i.Name).Distinct(StringComparer.Ordinal).Count() != interfaces.Length)
            throw new ArgumentException($"object '{path}' lists an interface twice");
        lock (_lock)
        {
            if (!_objects.TryAdd(path, interfaces)) throw new InvalidOperationException($"object '{path}' is already registered");
        }
    }

    public bool Unregister(ObjectPath path)
    {
        lock (_lock) return _objects.Remove(path);
    }

    public bool IsRegistered(ObjectPath path)
    {
        lock (_lock) return _objects.ContainsKey(path);
    }

    /// <summary>Sends a signal from <paramref name="path"/> through every connection and server this registry is served on.</summary>
    public void EmitSignal(ObjectPath path, string @interface, string member, string signature = "", params object[] args)
    {
        if (!HasListeners) return;
        var signal = Message.Signal(path, @interface, member, signature, args);
        ISignalSink[] sinks;
        lock (_lock) sinks = _sinks.ToArray();
        foreach (var sink in sinks) sink.SendSignal(signal);
    }

    /// <summary>
    /// org.freedesktop.DBus.Properties.PropertiesChanged for the named properties of
    /// <paramref name="interface"/> on <paramref name="path"/>: values of "emits" properties,
    /// names of "invalidates" ones; const and "false" properties are skipped.
    /// </summary>
    public void EmitPropertiesChanged(ObjectPath path, string @interface, params string[] propertyNames)
    {
        // Nobody listening: no getters called, no message built (a state change costs nothing extra).
        if (!HasListeners) return;
        DBusInterface[]? interfaces;
        lock (_lock) interfaces = _objects.GetValueOrDefault(path);
        var target = interfaces?.FirstOrDefault(i => i.Name == @interface)
            ?? throw new ArgumentException($"object '{path}' has no interface '{@interface}'");
        var changed = new List<KeyValuePair<object, object>>();
        var invalidated = new List<string>();
        foreach (string name in propertyNames)
        {
            var property = target.FindProperty(name) ?? throw new ArgumentException($"interface '{@interface}' has no property '{name}'");
            if (property.Change == PropertyChange.Emits) changed.Add(new(name, new Variant(property.Type, property.Getter())));
            else if (property.Change == PropertyChange.Invalidates) invalidated.Add(name);
        }
        if (changed.Count == 0 && invalidated.Count == 0) return;
        EmitSignal(path, ObjectDispatcher.PropertiesInterface, "PropertiesChanged", "sa{sv}as", @interface, changed.ToArray(), invalidated.ToArray());
    }

    /// <summary>Whether any connection or server peer would receive a signal now.</summary>
    public bool HasListeners
    {
        get
        {
            lock (_lock)
            {
                foreach (var sink in _sinks)
                    if (sink.HasPeers) return true;
                return false;
            }
        }
    }

    internal void Attach(ISignalSink sink)
    {
        lock (_lock) _sinks.Add(sink);
    }

    internal void Detach(ISignalSink sink)
    {
        lock (_lock) _sinks.Remove(sink);
    }

    /// <summary>The interfaces at <paramref name="path"/> (null if none) and the names of its direct children.</summary>
    internal (DBusInterface[]? Interfaces, SortedSet<string> Children) Lookup(ObjectPath path)
    {
        var children = new SortedSet<string>(StringComparer.Ordinal);
        string prefix = path.Value == "/" ? "/" : path.Value + "/";
        lock (_lock)
        {
            foreach (var registered in _objects.Keys)
            {
                string p = registered.Value;
                if (p.Length <= prefix.Length || !p.StartsWith(prefix, StringComparison.Ordinal)) continue;
                int slash = p.IndexOf('/', prefix.Length);
                children.Add(slash < 0 ? p.Substring(prefix.Length) : p.Substring(prefix.Length, slash - prefix.Length));
            }
            return (_objects.GetValueOrDefault(path), children);
        }
    }
}
