using System.Runtime.InteropServices;
using System.Text;

namespace Supervisor.Sandbox.Tests.Support;

/// <summary>
/// Kernel keyrings from the test's side (add_key and keyctl through syscall(2); glibc has no
/// wrappers). A thread's session keyring belongs to that thread's credentials, so the tests
/// work on a thread of their own that ends with the test, and start the service from it.
/// </summary>
internal static partial class Keyrings
{
    private const int KeyctlJoinSessionKeyring = 1;
    private const int KeySpecSessionKeyring = -3;

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, long a1, long a2, long a3, long a4, long a5);

    private static (long AddKey, long Keyctl)? Numbers => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => (248, 250),
        Architecture.Arm64 => (217, 219),
        _ => null,
    };

    /// <summary>Skips the test where keyrings cannot be used (an unknown architecture, a kernel without keys).</summary>
    public static void Require()
    {
        if (Numbers is null)
            Assert.Skip($"keyctl syscall numbers unknown on {RuntimeInformation.ProcessArchitecture}");
        if (!File.Exists("/proc/keys"))
            Assert.Skip("the kernel has no keyrings (CONFIG_KEYS)");
    }

    /// <summary>
    /// Runs BODY on a new thread that first joins a new session keyring holding one "user" key
    /// DESCRIPTION (as a login session with a secret in it); what BODY starts inherits that keyring.
    /// </summary>
    public static T InSessionWithKey<T>(string description, Func<T> body)
    {
        T? result = default;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                Check(syscall(Numbers!.Value.Keyctl, KeyctlJoinSessionKeyring, 0, 0, 0, 0), "keyctl(JOIN_SESSION_KEYRING)");
                AddKey(description, "secret");
                result = body();
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        thread.Start();
        thread.Join();
        if (error is not null)
            throw new InvalidOperationException("the keyring thread failed: " + error.Message, error);
        return result!;
    }

    private static unsafe void AddKey(string description, string payload)
    {
        var type = Encoding.ASCII.GetBytes("user\0");
        var desc = Encoding.ASCII.GetBytes(description + "\0");
        var data = Encoding.ASCII.GetBytes(payload);
        fixed (byte* t = type, d = desc, p = data)
            Check(syscall(Numbers!.Value.AddKey, (long)t, (long)d, (long)p, data.Length, KeySpecSessionKeyring), "add_key");
    }

    private static void Check(long r, string what)
    {
        if (r < 0)
            throw new IOException($"{what}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }
}
