namespace Supervisor.DBus;

/// <summary>
/// The valid signatures of up to one character, and "a" followed by one, made once and shared
/// (with a boxed copy for 'g' values), so decoding the commonest variant and signature values
/// allocates no string.
/// </summary>
internal static class ShortSignatures
{
    private static readonly object BoxedEmpty = Signature.Empty;
    private static readonly (Signature, object)?[] One = Make(c => c.ToString());
    private static readonly (Signature, object)?[] ArrayOf = Make(c => "a" + c);

    private static (Signature, object)?[] Make(Func<char, string> text)
    {
        var table = new (Signature, object)?[128];
        for (char c = ' '; c < 127; c++)
        {
            string s = text(c);
            if (Signature.IsValid(s)) table[c] = (Signature.FromValidated(s), Signature.FromValidated(s));
        }
        return table;
    }

    /// <summary>The shared signature for these (validated) bytes, or null when there is none.</summary>
    public static (Signature Signature, object Boxed)? Find(ReadOnlySpan<byte> bytes) => bytes.Length switch
    {
        0 => (Signature.Empty, BoxedEmpty),
        1 when bytes[0] < 128 => One[bytes[0]],
        2 when bytes[0] == 'a' && bytes[1] < 128 => ArrayOf[bytes[1]],
        _ => null,
    };
}
