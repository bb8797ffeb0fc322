using CsCheck;

namespace Supervisor.DBus.Tests;

/// <summary>
/// The reader's contract on hostile input: whatever the bytes, it returns a message or throws
/// DBusProtocolException, nothing else. A deterministic seeded run (same inputs every CI run)
/// mutates valid messages (bit flips, byte overwrites with boundary values, truncation,
/// insertion, length-field corruption, splicing) and also feeds pure garbage.
/// </summary>
public class FuzzTests
{
    private const int Iterations = 20_000;
    private const int Seed = 20261125;

    private static readonly uint[] InterestingUInts = { 0, 1, 2, 3, 4, 7, 8, 0xff, 0x100, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0xffff_fff8, ProtocolConstants.MaxArrayLength, ProtocolConstants.MaxArrayLength + 1u };

    [Fact]
    public void Mutated_and_garbage_messages_only_ever_raise_DBusProtocolException()
    {
        var random = new Random(Seed);
        var pcg = new PCG(7, Seed);
        var corpus = new List<byte[]>();
        for (int i = 0; i < 300; i++)
        {
            var message = ValueGenerators.Message.Generate(pcg, null, out _);
            corpus.Add(message.Serialize((uint)i + 1, out _, bigEndian: random.Next(2) == 0));
        }

        int parsed = 0, rejected = 0;
        for (int i = 0; i < Iterations; i++)
        {
            byte[] input = i % 10 == 0 ? Garbage(random) : Mutate(corpus[random.Next(corpus.Count)], corpus[random.Next(corpus.Count)], random);
            try
            {
                using var m = Message.Parse(input, maxMessageSize: ProtocolConstants.DefaultMaxMessageSize);
                parsed++;
            }
            catch (DBusProtocolException)
            {
                rejected++;
            }
            catch (Exception e)
            {
                Assert.Fail($"iteration {i}: {e.GetType().Name} escaped the reader for input {Hex.Of(input)}\n{e}");
            }
        }
        // Both outcomes must occur, or the mutations are not reaching the interesting paths.
        Assert.True(parsed > 100, $"only {parsed} mutated messages parsed");
        Assert.True(rejected > Iterations / 2, $"only {rejected} inputs were rejected");
    }

    [Fact]
    public void Random_signature_strings_never_throw_from_validation()
    {
        var random = new Random(Seed);
        const string alphabet = "ybnqiuxtdsoghav(){}rem*?@&^";
        for (int i = 0; i < Iterations; i++)
        {
            var chars = new char[random.Next(0, 40)];
            for (int j = 0; j < chars.Length; j++) chars[j] = alphabet[random.Next(alphabet.Length)];
            string s = new(chars);
            string? error = Signature.Validate(s, requireSingleType: false);
            if (error == null) Assert.Equal(s, string.Concat(new Signature(s).Types.Select(t => t.Value)));
        }
    }

    private static byte[] Garbage(Random random)
    {
        var bytes = new byte[random.Next(0, 200)];
        random.NextBytes(bytes);
        if (bytes.Length >= 16)
        {
            // Often give garbage a plausible fixed header so it reaches the field parser.
            bytes[0] = random.Next(2) == 0 ? (byte)'l' : (byte)'B';
            bytes[3] = 1;
        }
        return bytes;
    }

    private static byte[] Mutate(byte[] original, byte[] other, Random random)
    {
        var bytes = new List<byte>(original);
        int mutations = random.Next(1, 4);
        for (int m = 0; m < mutations && bytes.Count > 0; m++)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(7))
            {
                case 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    bytes[at] = (byte)(random.Next(4) switch { 0 => 0, 1 => 0xff, 2 => 0x7f, _ => random.Next(256) });
                    break;
                case 2:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 3:
                    bytes.InsertRange(at, Enumerable.Range(0, random.Next(1, 9)).Select(_ => (byte)random.Next(256)));
                    break;
                case 4:
                    {
                        // Overwrite an aligned u32 (a length, serial or count) with a boundary value.
                        int pos = at & ~3;
                        uint value = InterestingUInts[random.Next(InterestingUInts.Length)];
                        for (int b = 0; b < 4 && pos + b < bytes.Count; b++) bytes[pos + b] = (byte)(value >> (8 * b));
                        break;
                    }
                case 5:
                    {
                        // Splice the tail of another message in.
                        int from = random.Next(other.Length);
                        bytes.RemoveRange(at, bytes.Count - at);
                        bytes.AddRange(other.Skip(from));
                        break;
                    }
                default:
                    bytes.RemoveAt(at);
                    break;
            }
        }
        // Half the time, repair the total-length fields so the mutation survives framing and
        // reaches the header-field and body parsers.
        if (random.Next(2) == 0 && bytes.Count >= 16)
        {
            bool be = bytes[0] == 'B';
            uint fieldsLength = ReadU32(bytes, 12, be);
            long bodyLength = bytes.Count - 16 - (((long)fieldsLength + 7) & ~7L);
            if (bodyLength >= 0) WriteU32(bytes, 4, (uint)bodyLength, be);
        }
        return bytes.ToArray();
    }

    private static uint ReadU32(List<byte> b, int at, bool be) =>
        be ? (uint)(b[at] << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3]) : (uint)(b[at] | b[at + 1] << 8 | b[at + 2] << 16 | b[at + 3] << 24);

    private static void WriteU32(List<byte> b, int at, uint v, bool be)
    {
        for (int i = 0; i < 4; i++) b[at + i] = (byte)(v >> (be ? 24 - 8 * i : 8 * i));
    }
}
