namespace Supervisor.DBus;

/// <summary>
/// Validation of bus, interface, member and error names (spec #message-protocol-names).
/// The Is* functions never throw; the Validate* functions throw ArgumentException for
/// values our own code supplies. The reader turns a false into a DBusProtocolException.
/// </summary>
public static class Names
{
    public static bool IsValidInterfaceName(string? name) => IsDottedName(name, allowDash: false, allowLeadingDigit: false);

    public static bool IsValidErrorName(string? name) => IsValidInterfaceName(name);

    public static bool IsValidMemberName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > ProtocolConstants.MaxNameLength) return false;
        if (IsDigit(name[0])) return false;
        foreach (char c in name)
        {
            if (!IsAlnumOrUnderscore(c)) return false;
        }
        return true;
    }

    public static bool IsValidBusName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > ProtocolConstants.MaxNameLength) return false;
        if (name[0] == ':')
        {
            // Unique names: elements may start with a digit (":1.42").
            return IsDottedName(name.Substring(1), allowDash: true, allowLeadingDigit: true, maxLength: ProtocolConstants.MaxNameLength - 1);
        }
        return IsDottedName(name, allowDash: true, allowLeadingDigit: false);
    }

    public static void ValidateInterfaceName(string name)
    {
        if (!IsValidInterfaceName(name)) throw new ArgumentException($"invalid D-Bus interface name '{name}'", nameof(name));
    }

    public static void ValidateErrorName(string name)
    {
        if (!IsValidErrorName(name)) throw new ArgumentException($"invalid D-Bus error name '{name}'", nameof(name));
    }

    public static void ValidateMemberName(string name)
    {
        if (!IsValidMemberName(name)) throw new ArgumentException($"invalid D-Bus member name '{name}'", nameof(name));
    }

    public static void ValidateBusName(string name)
    {
        if (!IsValidBusName(name)) throw new ArgumentException($"invalid D-Bus bus name '{name}'", nameof(name));
    }

    private static bool IsDottedName(string? name, bool allowDash, bool allowLeadingDigit, int maxLength = ProtocolConstants.MaxNameLength)
    {
        if (string.IsNullOrEmpty(name) || name.Length > maxLength) return false;
        int elements = 0;
        int elementStart = 0;
        for (int i = 0; i <= name.Length; i++)
        {
            if (i == name.Length || name[i] == '.')
            {
                if (i == elementStart) return false; // empty element: leading, trailing or double dot
                if (!allowLeadingDigit && IsDigit(name[elementStart])) return false;
                elements++;
                elementStart = i + 1;
                continue;
            }
            char c = name[i];
            if (!(IsAlnumOrUnderscore(c) || (allowDash && c == '-'))) return false;
        }
        return elements >= 2;
    }

    private static bool IsDigit(char c) => c is >= '0' and <= '9';

    private static bool IsAlnumOrUnderscore(char c) =>
        c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '_';
}
