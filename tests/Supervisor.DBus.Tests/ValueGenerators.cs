using CsCheck;

namespace Supervisor.DBus.Tests;

/// <summary>CsCheck generators of (type, value) pairs covering every D-Bus type.</summary>
internal static class ValueGenerators
{
    private const string BasicCodes = "ybnqiuxtdsog";
    private const string StringChars = "abcXYZ019 _-./:é日ß\u00ff\u2603";

    public static readonly Gen<string> Text = Gen.Char[StringChars].Array[0, 12].Select(c => new string(c));

    public static readonly Gen<string> PathElement = Gen.Char["abcXYZ019_"].Array[1, 6].Select(c => new string(c));

    public static readonly Gen<ObjectPath> Path =
        PathElement.Array[0, 4].Select(e => new ObjectPath(e.Length == 0 ? "/" : "/" + string.Join("/", e)));

    public static Gen<string> Type(int depth)
    {
        var basic = Gen.Char[BasicCodes].Select(c => c.ToString());
        if (depth == 0) return basic;
        return Gen.Frequency(
            (6, basic),
            (1, Gen.Const("v")),
            (2, Type(depth - 1).Select(t => "a" + t)),
            (1, Gen.Select(Gen.Char[BasicCodes], Type(depth - 1), (k, v) => "a{" + k + v + "}")),
            (2, Type(depth - 1).Array[1, 3].Select(fields => "(" + string.Concat(fields) + ")")));
    }

    public static Gen<object> Value(string type, int depth = 3)
    {
        switch (type[0])
        {
            case 'y': return Gen.Byte.Select(v => (object)v);
            case 'b': return Gen.Bool.Select(v => (object)v);
            case 'n': return Gen.Short.Select(v => (object)v);
            case 'q': return Gen.UShort.Select(v => (object)v);
            case 'i': return Gen.Int.Select(v => (object)v);
            case 'u': return Gen.UInt.Select(v => (object)v);
            case 'x': return Gen.Long.Select(v => (object)v);
            case 't': return Gen.ULong.Select(v => (object)v);
            case 'd': return Gen.Double.Select(v => (object)v);
            case 's': return Text.Select(v => (object)v);
            case 'o': return Path.Select(v => (object)v);
            case 'g': return Type(2).Array[0, 3].Select(t => (object)new Signature(string.Concat(t)));
            case 'v':
                return Type(Math.Max(depth - 1, 0)).SelectMany(t => Value(t, Math.Max(depth - 1, 0)).Select(v => (object)new Variant(t, v)));
            case 'a':
                {
                    string element = type.Substring(1);
                    if (element[0] == '{')
                    {
                        string key = element.Substring(1, 1);
                        string value = element.Substring(2, element.Length - 3);
                        return Gen.Select(Value(key, depth), Value(value, depth), (k, v) => new KeyValuePair<object, object>(k, v))
                            .Array[0, 3].Select(a => (object)a);
                    }
                    var items = Value(element, depth).Array[0, 3];
                    // The reader returns typed arrays for fixed-size basic elements.
                    return element switch
                    {
                        "y" => items.Select(a => (object)a.Cast<byte>().ToArray()),
                        "b" => items.Select(a => (object)a.Cast<bool>().ToArray()),
                        "n" => items.Select(a => (object)a.Cast<short>().ToArray()),
                        "q" => items.Select(a => (object)a.Cast<ushort>().ToArray()),
                        "i" => items.Select(a => (object)a.Cast<int>().ToArray()),
                        "u" => items.Select(a => (object)a.Cast<uint>().ToArray()),
                        "x" => items.Select(a => (object)a.Cast<long>().ToArray()),
                        "t" => items.Select(a => (object)a.Cast<ulong>().ToArray()),
                        "d" => items.Select(a => (object)a.Cast<double>().ToArray()),
                        _ => items.Select(a => (object)a),
                    };
                }
            case '(':
                {
                    var fields = Signature.FromValidated(type.Substring(1, type.Length - 2)).Types;
                    Gen<object[]> acc = Gen.Const(Array.Empty<object>());
                    foreach (var f in fields)
                    {
                        var fieldGen = Value(f.Value, depth);
                        acc = acc.SelectMany(prefix => fieldGen.Select(v => prefix.Append(v).ToArray()));
                    }
                    return acc.Select(a => (object)new DBusStruct(a));
                }
            default:
                throw new ArgumentException(type);
        }
    }

    /// <summary>A body: 0–4 complete types and matching values.</summary>
    public static readonly Gen<(Signature Signature, object[] Values)> Body =
        Type(3).Array[0, 4]
            .Where(types => string.Concat(types).Length <= ProtocolConstants.MaxSignatureLength)
            .SelectMany(types =>
            {
                Gen<object[]> acc = Gen.Const(Array.Empty<object>());
                foreach (string t in types)
                {
                    var g = Value(t);
                    acc = acc.SelectMany(prefix => g.Select(v => prefix.Append(v).ToArray()));
                }
                return acc.Select(values => (new Signature(string.Concat(types)), values));
            });

    /// <summary>A whole message of any type with a random body.</summary>
    public static readonly Gen<Message> Message =
        Gen.Select(Gen.Int[1, 4], Path, Body, Gen.UInt[1, uint.MaxValue], Gen.Byte[0, 7],
            (type, path, body, serial, flags) => (MessageType)type switch
            {
                MessageType.MethodCall => new Message
                {
                    Type = MessageType.MethodCall, Flags = (MessageFlags)flags, Path = path, Interface = "io.supervisor.Fuzz",
                    Member = "Call", Destination = "io.supervisor.Dest", Signature = body.Signature, Body = body.Values,
                },
                MessageType.Signal => new Message
                {
                    Type = MessageType.Signal, Flags = (MessageFlags)flags, Path = path, Interface = "io.supervisor.Fuzz",
                    Member = "Changed", Sender = ":1.7", Signature = body.Signature, Body = body.Values,
                },
                MessageType.MethodReturn => new Message
                {
                    Type = MessageType.MethodReturn, Flags = (MessageFlags)flags, ReplySerial = serial, Signature = body.Signature, Body = body.Values,
                },
                _ => new Message
                {
                    Type = MessageType.Error, Flags = (MessageFlags)flags, ReplySerial = serial, ErrorName = "io.supervisor.Error.Fuzz",
                    Signature = body.Signature, Body = body.Values,
                },
            });
}
