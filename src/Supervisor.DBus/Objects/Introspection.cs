using System.Security;
using System.Text;

namespace Supervisor.DBus;

/// <summary>Introspection XML (spec #introspection-format), including the standard interfaces and child nodes.</summary>
internal static class Introspection
{
    private const string DocType =
        "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n" +
        " \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n";

    public static string Build(IEnumerable<DBusInterface> interfaces, IEnumerable<string> children)
    {
        var sb = new StringBuilder(DocType);
        sb.Append("<node>\n");
        sb.Append(StandardInterfaces);
        foreach (var i in interfaces) AppendInterface(sb, i);
        foreach (string child in children) sb.Append(" <node name=\"").Append(Escape(child)).Append("\"/>\n");
        sb.Append("</node>\n");
        return sb.ToString();
    }

    private static void AppendInterface(StringBuilder sb, DBusInterface i)
    {
        sb.Append(" <interface name=\"").Append(Escape(i.Name)).Append("\">\n");
        foreach (var m in i.Methods.OrderBy(m => m.Name, StringComparer.Ordinal))
        {
            sb.Append("  <method name=\"").Append(Escape(m.Name)).Append("\">\n");
            foreach (var a in m.InArguments) AppendArg(sb, a, "in");
            foreach (var a in m.OutArguments) AppendArg(sb, a, "out");
            sb.Append("  </method>\n");
        }
        foreach (var s in i.Signals.OrderBy(s => s.Name, StringComparer.Ordinal))
        {
            sb.Append("  <signal name=\"").Append(Escape(s.Name)).Append("\">\n");
            foreach (var a in s.Arguments) AppendArg(sb, a, null);
            sb.Append("  </signal>\n");
        }
        foreach (var p in i.Properties.OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            string access = p.Setter == null ? "read" : "readwrite";
            sb.Append("  <property name=\"").Append(Escape(p.Name)).Append("\" type=\"").Append(Escape(p.Type.Value))
              .Append("\" access=\"").Append(access).Append('"');
            string? emits = p.Change switch
            {
                PropertyChange.Invalidates => "invalidates",
                PropertyChange.Const => "const",
                PropertyChange.None => "false",
                _ => null,
            };
            if (emits == null)
            {
                sb.Append("/>\n");
            }
            else
            {
                sb.Append(">\n   <annotation name=\"org.freedesktop.DBus.Property.EmitsChangedSignal\" value=\"")
                  .Append(emits).Append("\"/>\n  </property>\n");
            }
        }
        sb.Append(" </interface>\n");
    }

    private static void AppendArg(StringBuilder sb, DBusArgument a, string? direction)
    {
        sb.Append("   <arg");
        if (a.Name.Length > 0) sb.Append(" name=\"").Append(Escape(a.Name)).Append('"');
        sb.Append(" type=\"").Append(Escape(a.Type.Value)).Append('"');
        if (direction != null) sb.Append(" direction=\"").Append(direction).Append('"');
        sb.Append("/>\n");
    }

    private static string Escape(string s) => SecurityElement.Escape(s) ?? string.Empty;

    private const string StandardInterfaces =
        " <interface name=\"org.freedesktop.DBus.Peer\">\n" +
        "  <method name=\"Ping\"/>\n" +
        "  <method name=\"GetMachineId\">\n   <arg name=\"machine_uuid\" type=\"s\" direction=\"out\"/>\n  </method>\n" +
        " </interface>\n" +
        " <interface name=\"org.freedesktop.DBus.Introspectable\">\n" +
        "  <method name=\"Introspect\">\n   <arg name=\"xml_data\" type=\"s\" direction=\"out\"/>\n  </method>\n" +
        " </interface>\n" +
        " <interface name=\"org.freedesktop.DBus.Properties\">\n" +
        "  <method name=\"Get\">\n   <arg name=\"interface_name\" type=\"s\" direction=\"in\"/>\n   <arg name=\"property_name\" type=\"s\" direction=\"in\"/>\n   <arg name=\"value\" type=\"v\" direction=\"out\"/>\n  </method>\n" +
        "  <method name=\"GetAll\">\n   <arg name=\"interface_name\" type=\"s\" direction=\"in\"/>\n   <arg name=\"props\" type=\"a{sv}\" direction=\"out\"/>\n  </method>\n" +
        "  <method name=\"Set\">\n   <arg name=\"interface_name\" type=\"s\" direction=\"in\"/>\n   <arg name=\"property_name\" type=\"s\" direction=\"in\"/>\n   <arg name=\"value\" type=\"v\" direction=\"in\"/>\n  </method>\n" +
        "  <signal name=\"PropertiesChanged\">\n   <arg name=\"interface_name\" type=\"s\"/>\n   <arg name=\"changed_properties\" type=\"a{sv}\"/>\n   <arg name=\"invalidated_properties\" type=\"as\"/>\n  </signal>\n" +
        " </interface>\n";
}
