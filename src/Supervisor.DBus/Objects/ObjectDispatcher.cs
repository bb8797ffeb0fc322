namespace Supervisor.DBus;

/// <summary>
/// Routes an incoming method call to a registered object, in the order the reference gives:
/// unknown path → UnknownObject; known path, unknown interface → UnknownInterface; unknown
/// member → UnknownMethod; wrong signature → InvalidArgs. Peer, Introspectable and Properties
/// are answered here.
/// </summary>
internal static class ObjectDispatcher
{
    public const string PeerInterface = "org.freedesktop.DBus.Peer";
    public const string IntrospectableInterface = "org.freedesktop.DBus.Introspectable";
    public const string PropertiesInterface = "org.freedesktop.DBus.Properties";

    private static readonly string[] MachineIdFiles = { "/etc/machine-id", "/var/lib/dbus/machine-id" };

    public static bool IsStandardInterface(string name) =>
        name is PeerInterface or IntrospectableInterface or PropertiesInterface;

    /// <summary>The reply to <paramref name="call"/>: a return or an error. Never throws for a handler's failure.</summary>
    public static async ValueTask<Message> DispatchAsync(DBusObjectRegistry? registry, DBusConnection connection, Message call)
    {
        try
        {
            return await DispatchCoreAsync(registry, connection, call).ConfigureAwait(false);
        }
        catch (DBusErrorException e)
        {
            return Message.Error(call, e.ErrorName, e.Message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A handler bug must not take the connection down: the caller gets Failed.
            return Message.Error(call, DBusErrors.Failed, e.Message);
        }
    }

    private static async ValueTask<Message> DispatchCoreAsync(DBusObjectRegistry? registry, DBusConnection connection, Message call)
    {
        var path = call.Path!.Value;
        string member = call.Member!;
        string? iface = call.Interface;

        // Peer is answered on every path, as libdbus and sd-bus do.
        if (iface == PeerInterface || (iface == null && member is "Ping" or "GetMachineId"))
        {
            return member switch
            {
                "Ping" => ExpectSignature(call, "") ?? Message.MethodReturn(call),
                "GetMachineId" => ExpectSignature(call, "") ?? Message.MethodReturn(call, "s", ReadMachineId()),
                _ => UnknownMethod(call, PeerInterface),
            };
        }

        var (interfaces, children) = registry?.Lookup(path) ?? (null, new SortedSet<string>());
        if (interfaces == null && children.Count == 0)
            return Message.Error(call, DBusErrors.UnknownObject, $"Unknown object '{path}'.");
        interfaces ??= Array.Empty<DBusInterface>();

        if (iface == IntrospectableInterface || (iface == null && member == "Introspect"))
        {
            if (member != "Introspect") return UnknownMethod(call, IntrospectableInterface);
            return ExpectSignature(call, "") ?? Message.MethodReturn(call, "s", Introspection.Build(interfaces, children));
        }

        if (iface == PropertiesInterface || (iface == null && member is "Get" or "GetAll" or "Set" && interfaces.All(i => i.FindMethod(member) == null)))
            return await PropertiesAsync(registry!, connection, call, path, interfaces).ConfigureAwait(false);

        DBusInterface? target;
        DBusMethod? method;
        if (iface != null)
        {
            target = interfaces.FirstOrDefault(i => i.Name == iface);
            if (target == null) return Message.Error(call, DBusErrors.UnknownInterface, $"Unknown interface '{iface}' on object '{path}'.");
            method = target.FindMethod(member);
        }
        else
        {
            // Without an INTERFACE field the spec lets us pick any interface with that member.
            target = interfaces.FirstOrDefault(i => i.FindMethod(member) != null);
            method = target?.FindMethod(member);
        }
        if (target == null || method == null) return UnknownMethod(call, iface);
        if (call.Signature != method.InSignature)
            return Message.Error(call, DBusErrors.InvalidArgs, $"Method '{member}' takes arguments of type '{method.InSignature}', got '{call.Signature}'.");

        var context = new CallContext(connection, call, CallKind.Method, path, target.Name, member);
        await AuthorizeAsync(registry!, context).ConfigureAwait(false);
        object[] result = await method.Handler(context, call.Body.ToArray()).ConfigureAwait(false);
        return Message.MethodReturn(call, method.OutSignature.Value, result);
    }

    private static ValueTask<Message> PropertiesAsync(DBusObjectRegistry registry, DBusConnection connection, Message call, ObjectPath path, DBusInterface[] interfaces) =>
        call.Member switch
        {
            "Get" => ExpectSignature(call, "ss") is { } bad ? ValueTask.FromResult(bad) : GetPropertyAsync(registry, connection, call, path, interfaces),
            "GetAll" => ExpectSignature(call, "s") is { } bad ? ValueTask.FromResult(bad) : GetAllPropertiesAsync(registry, connection, call, path, interfaces),
            "Set" => ExpectSignature(call, "ssv") is { } bad ? ValueTask.FromResult(bad) : SetPropertyAsync(registry, connection, call, path, interfaces),
            _ => ValueTask.FromResult(UnknownMethod(call, PropertiesInterface)),
        };

    private static async ValueTask<Message> GetPropertyAsync(DBusObjectRegistry registry, DBusConnection connection, Message call, ObjectPath path, DBusInterface[] interfaces)
    {
        string ifaceName = (string)call.Body[0];
        string name = (string)call.Body[1];
        var (target, property) = FindProperty(interfaces, ifaceName, name, path);
        await AuthorizeAsync(registry, new CallContext(connection, call, CallKind.GetProperty, path, target.Name, name)).ConfigureAwait(false);
        return Message.MethodReturn(call, "v", new Variant(property.Type, property.Getter()));
    }

    private static async ValueTask<Message> GetAllPropertiesAsync(DBusObjectRegistry registry, DBusConnection connection, Message call, ObjectPath path, DBusInterface[] interfaces)
    {
        string ifaceName = (string)call.Body[0];
        if (IsStandardInterface(ifaceName)) return Message.MethodReturn(call, "a{sv}", Array.Empty<KeyValuePair<object, object>>());
        var targets = ifaceName.Length == 0 ? interfaces : interfaces.Where(i => i.Name == ifaceName).ToArray();
        if (targets.Length == 0) return Message.Error(call, DBusErrors.UnknownInterface, $"Unknown interface '{ifaceName}' on object '{path}'.");
        var values = new List<KeyValuePair<object, object>>();
        foreach (var target in targets)
        {
            await AuthorizeAsync(registry, new CallContext(connection, call, CallKind.GetAllProperties, path, target.Name, string.Empty)).ConfigureAwait(false);
            foreach (var p in target.Properties.OrderBy(p => p.Name, StringComparer.Ordinal))
                values.Add(new(p.Name, new Variant(p.Type, p.Getter())));
        }
        return Message.MethodReturn(call, "a{sv}", values.ToArray());
    }

    private static async ValueTask<Message> SetPropertyAsync(DBusObjectRegistry registry, DBusConnection connection, Message call, ObjectPath path, DBusInterface[] interfaces)
    {
        var (ifaceName, name, valueType, readValue) = ReadSetArguments(call);
        var (target, property) = FindProperty(interfaces, ifaceName, name, path);
        if (property.Setter == null)
            return Message.Error(call, DBusErrors.PropertyReadOnly, $"Property '{name}' of interface '{target.Name}' is read-only.");
        if (valueType != property.Type)
            return Message.Error(call, DBusErrors.InvalidArgs, $"Property '{name}' has type '{property.Type}', got a value of type '{valueType}'.");
        var context = new CallContext(connection, call, CallKind.SetProperty, path, target.Name, name);
        await AuthorizeAsync(registry, context).ConfigureAwait(false);
        property.Setter(context, readValue());
        if (property.Change is PropertyChange.Emits or PropertyChange.Invalidates)
            registry.EmitPropertiesChanged(path, target.Name, name);
        return Message.MethodReturn(call);
    }

    /// <summary>
    /// Set's interface and property names and the type inside its variant; the value is decoded
    /// only after the type was found to fit, so a read-only or mistyped Set costs no decoding.
    /// </summary>
    private static (string Interface, string Name, Signature ValueType, Func<object> Value) ReadSetArguments(Message call)
    {
        if (call.OpenBody() is not { } reader)
        {
            var variant = (Variant)call.Body[2];
            return ((string)call.Body[0], (string)call.Body[1], variant.Signature, () => variant.Value);
        }
        string iface = reader.ReadString();
        string name = reader.ReadString();
        var type = reader.ReadSignature();
        return (iface, name, type, () => reader.ReadValue(type.Value));
    }

    private static (DBusInterface Interface, DBusProperty Property) FindProperty(DBusInterface[] interfaces, string ifaceName, string name, ObjectPath path)
    {
        if (ifaceName.Length == 0)
        {
            // An empty interface name is allowed by the spec; the first interface with the property wins.
            foreach (var i in interfaces)
            {
                if (i.FindProperty(name) is { } p) return (i, p);
            }
            throw new DBusErrorException(DBusErrors.UnknownProperty, $"Unknown property '{name}' on object '{path}'.");
        }
        var target = interfaces.FirstOrDefault(i => i.Name == ifaceName)
            ?? throw new DBusErrorException(DBusErrors.UnknownInterface, $"Unknown interface '{ifaceName}' on object '{path}'.");
        var property = target.FindProperty(name)
            ?? throw new DBusErrorException(DBusErrors.UnknownProperty, $"Unknown property '{name}' on interface '{ifaceName}'.");
        return (target, property);
    }

    private static async ValueTask AuthorizeAsync(DBusObjectRegistry registry, CallContext context)
    {
        if (registry.Authorize is { } authorize) await authorize(context).ConfigureAwait(false);
    }

    private static Message? ExpectSignature(Message call, string expected) =>
        call.Signature.Value == expected
            ? null
            : Message.Error(call, DBusErrors.InvalidArgs, $"Method '{call.Member}' takes arguments of type '{expected}', got '{call.Signature}'.");

    private static Message UnknownMethod(Message call, string? iface) =>
        Message.Error(call, DBusErrors.UnknownMethod,
            iface == null ? $"Unknown method '{call.Member}' with signature '{call.Signature}'." : $"Unknown method '{call.Member}' on interface '{iface}'.");

    private static string ReadMachineId()
    {
        foreach (string file in MachineIdFiles)
        {
            try
            {
                string id = File.ReadAllText(file).Trim();
                if (id.Length == 32) return id;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        throw new DBusErrorException(DBusErrors.Failed, $"no machine id in {string.Join(" or ", MachineIdFiles)}");
    }
}
