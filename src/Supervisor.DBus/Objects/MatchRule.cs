using System.Globalization;
using System.Text;

namespace Supervisor.DBus;

/// <summary>
/// A match rule (spec #message-bus-routing-match-rules): "type='signal',interface='…',member='…',
/// path='…',path_namespace='…',sender='…',destination='…',arg0='…'". Used client-side to
/// filter incoming messages locally and, on a bus, sent with AddMatch.
/// </summary>
public sealed class MatchRule
{
    private readonly SortedDictionary<int, string> _args = new();

    public MessageType? Type { get; init; }
    public string? Sender { get; init; }
    public string? Interface { get; init; }
    public string? Member { get; init; }
    public ObjectPath? Path { get; init; }
    public ObjectPath? PathNamespace { get; init; }
    public string? Destination { get; init; }

    /// <summary>argN='value' conditions: string argument N must equal the value.</summary>
    public IDictionary<int, string> Args => _args;

    /// <summary>Parses a rule; throws FormatException with the reason for an invalid one.</summary>
    public static MatchRule Parse(string rule)
    {
        if (rule.Length > ProtocolConstants.MaxMatchRuleLength)
            throw new FormatException($"match rule is longer than {ProtocolConstants.MaxMatchRuleLength} bytes");
        var fields = new Fields();
        int pos = 0;
        while (pos < rule.Length)
        {
            int eq = rule.IndexOf('=', pos);
            if (eq < 0) throw new FormatException($"match rule '{rule}': expected key=value at offset {pos}");
            string key = rule.Substring(pos, eq - pos).Trim();
            pos = eq + 1;
            Apply(rule, key, ReadValue(rule, ref pos), fields);
            if (pos < rule.Length)
            {
                if (rule[pos] != ',') throw new FormatException($"match rule '{rule}': expected ',' at offset {pos}");
                pos++;
            }
        }
        if (fields.Path != null && fields.PathNamespace != null) throw new FormatException($"match rule '{rule}': path and path_namespace together");
        var result = new MatchRule
        {
            Type = fields.Type,
            Sender = fields.Sender,
            Interface = fields.Interface,
            Member = fields.Member,
            Path = fields.Path,
            PathNamespace = fields.PathNamespace,
            Destination = fields.Destination,
        };
        foreach (var (k, v) in fields.Args) result._args[k] = v;
        return result;
    }

    /// <summary>The keys of a rule as they are parsed.</summary>
    private sealed class Fields
    {
        public MessageType? Type;
        public string? Sender, Interface, Member, Destination;
        public ObjectPath? Path, PathNamespace;
        public readonly SortedDictionary<int, string> Args = new();
    }

    private static void Apply(string rule, string key, string value, Fields fields)
    {
        switch (key)
        {
            case "type": fields.Type = ParseType(rule, value); break;
            case "sender": fields.Sender = value; break;
            case "interface":
                fields.Interface = Names.IsValidInterfaceName(value) ? value : throw new FormatException($"match rule '{rule}': invalid interface '{value}'");
                break;
            case "member":
                fields.Member = Names.IsValidMemberName(value) ? value : throw new FormatException($"match rule '{rule}': invalid member '{value}'");
                break;
            case "path":
                fields.Path = ObjectPath.IsValid(value) ? new ObjectPath(value) : throw new FormatException($"match rule '{rule}': invalid path '{value}'");
                break;
            case "path_namespace":
                fields.PathNamespace = ObjectPath.IsValid(value) ? new ObjectPath(value) : throw new FormatException($"match rule '{rule}': invalid path_namespace '{value}'");
                break;
            case "destination": fields.Destination = value; break;
            case "eavesdrop": break; // only meaningful to a bus; ignored
            default:
                if (key.StartsWith("arg", StringComparison.Ordinal)
                    && int.TryParse(key.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n <= 63)
                {
                    fields.Args[n] = value;
                    break;
                }
                // argNpath, arg0namespace and other keys are legal for a bus, but we do not filter on them.
                throw new FormatException($"match rule '{rule}': unsupported key '{key}'");
        }
    }

    private static MessageType ParseType(string rule, string value) => value switch
    {
        "signal" => MessageType.Signal,
        "method_call" => MessageType.MethodCall,
        "method_return" => MessageType.MethodReturn,
        "error" => MessageType.Error,
        _ => throw new FormatException($"match rule '{rule}': unknown type '{value}'"),
    };

    /// <summary>Values are quoted; a quote inside is written as '\'' (the spec's escaping).</summary>
    private static string ReadValue(string rule, ref int pos)
    {
        var sb = new StringBuilder();
        bool quoted = false;
        while (pos < rule.Length)
        {
            char c = rule[pos];
            if (c == '\'')
            {
                quoted = !quoted;
                pos++;
            }
            else if (!quoted && c == '\\' && pos + 1 < rule.Length && rule[pos + 1] == '\'')
            {
                sb.Append('\'');
                pos += 2;
            }
            else if (!quoted && c == ',')
            {
                break;
            }
            else
            {
                sb.Append(c);
                pos++;
            }
        }
        if (quoted) throw new FormatException($"match rule '{rule}': unterminated quote");
        return sb.ToString();
    }

    public bool Matches(Message message)
    {
        if (Type != null && message.Type != Type) return false;
        if (Sender != null && message.Sender != Sender) return false;
        if (Interface != null && message.Interface != Interface) return false;
        if (Member != null && message.Member != Member) return false;
        if (Path != null && message.Path != Path) return false;
        if (PathNamespace != null && (message.Path == null || !message.Path.Value.IsUnder(PathNamespace.Value))) return false;
        if (Destination != null && message.Destination != Destination) return false;
        foreach (var (index, value) in _args)
        {
            if (index >= message.Body.Count || message.Body[index] is not string s || s != value) return false;
        }
        return true;
    }

    public override string ToString()
    {
        var parts = new List<string>();
        if (Type != null)
        {
            parts.Add("type=" + Quote(Type switch
            {
                MessageType.Signal => "signal",
                MessageType.MethodCall => "method_call",
                MessageType.MethodReturn => "method_return",
                _ => "error",
            }));
        }
        if (Sender != null) parts.Add("sender=" + Quote(Sender));
        if (Interface != null) parts.Add("interface=" + Quote(Interface));
        if (Member != null) parts.Add("member=" + Quote(Member));
        if (Path != null) parts.Add("path=" + Quote(Path.Value.Value));
        if (PathNamespace != null) parts.Add("path_namespace=" + Quote(PathNamespace.Value.Value));
        if (Destination != null) parts.Add("destination=" + Quote(Destination));
        foreach (var (k, v) in _args) parts.Add($"arg{k}=" + Quote(v));
        return string.Join(",", parts);
    }

    private static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
