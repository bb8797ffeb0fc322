namespace Supervisor.DBus;

/// <summary>Handles one method call: the in-arguments (matching the in-signature) to the out-arguments.</summary>
public delegate ValueTask<object[]> MethodHandler(CallContext context, object[] args);

/// <summary>org.freedesktop.DBus.Property.EmitsChangedSignal: what PropertiesChanged carries for a property.</summary>
public enum PropertyChange
{
    /// <summary>PropertiesChanged carries the new value (the default).</summary>
    Emits,
    /// <summary>PropertiesChanged names the property as invalidated, without the value.</summary>
    Invalidates,
    /// <summary>The value never changes.</summary>
    Const,
    /// <summary>No signal; clients poll (systemd marks counters like MemoryCurrent so).</summary>
    None,
}

public sealed record DBusArgument(string Name, Signature Type);

public sealed class DBusMethod
{
    internal DBusMethod(string name, Signature inSignature, Signature outSignature, MethodHandler handler, IReadOnlyList<DBusArgument> inArgs, IReadOnlyList<DBusArgument> outArgs)
    {
        Name = name;
        InSignature = inSignature;
        OutSignature = outSignature;
        Handler = handler;
        InArguments = inArgs;
        OutArguments = outArgs;
    }

    public string Name { get; }
    public Signature InSignature { get; }
    public Signature OutSignature { get; }
    public MethodHandler Handler { get; }
    public IReadOnlyList<DBusArgument> InArguments { get; }
    public IReadOnlyList<DBusArgument> OutArguments { get; }
}

public sealed class DBusProperty
{
    internal DBusProperty(string name, Signature type, Func<object> getter, Action<CallContext, object>? setter, PropertyChange change)
    {
        Name = name;
        Type = type;
        Getter = getter;
        Setter = setter;
        Change = change;
    }

    public string Name { get; }
    public Signature Type { get; }
    public Func<object> Getter { get; }
    public Action<CallContext, object>? Setter { get; }
    public PropertyChange Change { get; }
}

public sealed class DBusSignal
{
    internal DBusSignal(string name, Signature signature, IReadOnlyList<DBusArgument> args)
    {
        Name = name;
        Signature = signature;
        Arguments = args;
    }

    public string Name { get; }
    public Signature Signature { get; }
    public IReadOnlyList<DBusArgument> Arguments { get; }
}

/// <summary>
/// An interface description with its handlers: methods, properties and signals. Built once
/// with the fluent Add* calls, then registered on an object path.
/// </summary>
public sealed class DBusInterface
{
    private readonly Dictionary<string, DBusMethod> _methods = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DBusProperty> _properties = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DBusSignal> _signals = new(StringComparer.Ordinal);

    public DBusInterface(string name)
    {
        Names.ValidateInterfaceName(name);
        Name = name;
    }

    public string Name { get; }

    public IReadOnlyCollection<DBusMethod> Methods => _methods.Values;
    public IReadOnlyCollection<DBusProperty> Properties => _properties.Values;
    public IReadOnlyCollection<DBusSignal> Signals => _signals.Values;

    public DBusInterface AddMethod(string name, string inSignature, string outSignature, MethodHandler handler,
        IReadOnlyList<string>? inArgNames = null, IReadOnlyList<string>? outArgNames = null)
    {
        Names.ValidateMemberName(name);
        var inSig = new Signature(inSignature);
        var outSig = new Signature(outSignature);
        _methods.Add(name, new DBusMethod(name, inSig, outSig, handler, Arguments(inSig, inArgNames), Arguments(outSig, outArgNames)));
        return this;
    }

    public DBusInterface AddProperty(string name, string signature, Func<object> getter, Action<CallContext, object>? setter = null, PropertyChange change = PropertyChange.Emits)
    {
        Names.ValidateMemberName(name);
        var type = new Signature(signature);
        if (!type.IsSingleCompleteType) throw new ArgumentException($"property '{name}' needs one complete type, got '{signature}'");
        _properties.Add(name, new DBusProperty(name, type, getter, setter, change));
        return this;
    }

    public DBusInterface AddSignal(string name, string signature, IReadOnlyList<string>? argNames = null)
    {
        Names.ValidateMemberName(name);
        var sig = new Signature(signature);
        _signals.Add(name, new DBusSignal(name, sig, Arguments(sig, argNames)));
        return this;
    }

    public DBusMethod? FindMethod(string name) => _methods.GetValueOrDefault(name);

    public DBusProperty? FindProperty(string name) => _properties.GetValueOrDefault(name);

    public DBusSignal? FindSignal(string name) => _signals.GetValueOrDefault(name);

    private static DBusArgument[] Arguments(Signature signature, IReadOnlyList<string>? names)
    {
        var types = signature.Types;
        if (names != null && names.Count != types.Count)
            throw new ArgumentException($"signature '{signature}' has {types.Count} arguments but {names.Count} names were given");
        return types.Select((t, i) => new DBusArgument(names?[i] ?? string.Empty, t)).ToArray();
    }
}
