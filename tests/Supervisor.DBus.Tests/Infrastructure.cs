using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Supervisor.DBus.Tests;

/// <summary>Runs real D-Bus tools (busctl, dbus-send, gdbus, python3-dbus) as child processes.</summary>
internal static class Tool
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Skips the test (with the reason) when <paramref name="path"/> is not installed.</summary>
    public static void Require(string path, string package)
    {
        if (!File.Exists(path)) Assert.Skip($"{path} is not installed (Debian package {package})");
    }

    public static void RequireRoot()
    {
        if (Environment.UserName != "root") Assert.Skip("needs root (to run a client as another uid with setpriv)");
    }

    public static void RequirePythonDbus()
    {
        Require("/usr/bin/python3", "python3");
        if (!Directory.Exists("/usr/lib/python3/dist-packages/dbus")) Assert.Skip("python3-dbus is not installed (Debian package python3-dbus)");
    }

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            // Only the process we started, by its PID.
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(" ", args)} did not finish within {Timeout.TotalSeconds} s");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs and asserts exit code 0, returning stdout.</summary>
    public static async Task<string> RunOkAsync(string file, params string[] args)
    {
        var (code, stdout, stderr) = await RunAsync(file, args);
        Assert.True(code == 0, $"{file} {string.Join(" ", args)} exited {code}\nstdout: {stdout}\nstderr: {stderr}");
        return stdout;
    }
}

/// <summary>A private dbus-daemon (reference B.1 config) in a temp dir, killed by PID at the end.</summary>
public sealed class DBusDaemonFixture : IAsyncLifetime
{
    private Process? _daemon;

    public string Directory { get; private set; } = "";

    public string Address { get; private set; } = "";

    public bool Available => File.Exists("/usr/bin/dbus-daemon");

    public async ValueTask InitializeAsync()
    {
        if (!Available) return;
        Directory = System.IO.Directory.CreateTempSubdirectory("supervisor-test-dbus-").FullName;
        // Other uids (setpriv --reuid=65534) must reach the socket.
        File.SetUnixFileMode(Directory, (UnixFileMode)0b111_101_101);
        string config = Path.Combine(Directory, "bus.conf");
        await File.WriteAllTextAsync(config, $"""
            <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
             "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
            <busconfig>
              <type>session</type>
              <listen>unix:path={Directory}/bus.sock</listen>
              <auth>EXTERNAL</auth>
              <policy context="default">
                <allow send_destination="*" eavesdrop="true"/>
                <allow eavesdrop="true"/>
                <allow own="*"/>
                <allow user="*"/>
              </policy>
            </busconfig>
            """);
        var psi = new ProcessStartInfo("/usr/bin/dbus-daemon")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("--config-file=" + config);
        psi.ArgumentList.Add("--nofork");
        psi.ArgumentList.Add("--print-address=1");
        _daemon = Process.Start(psi)!;
        _ = _daemon.StandardError.ReadToEndAsync();
        string? line = await _daemon.StandardOutput.ReadLineAsync().WaitAsync(Tool.Timeout);
        Address = line ?? throw new InvalidOperationException("dbus-daemon printed no address");
    }

    public async ValueTask DisposeAsync()
    {
        if (_daemon != null)
        {
            if (!_daemon.HasExited) _daemon.Kill();
            await _daemon.WaitForExitAsync();
            _daemon.Dispose();
        }
        if (Directory.Length > 0) System.IO.Directory.Delete(Directory, recursive: true);
    }

    public void RequireDaemon()
    {
        if (!Available) Assert.Skip("/usr/bin/dbus-daemon is not installed (Debian package dbus-daemon)");
    }
}

/// <summary>A temp dir (0755 so other uids can reach a socket in it), removed at the end.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = Directory.CreateTempSubdirectory("supervisor-test-dbus-").FullName;
        File.SetUnixFileMode(Path, (UnixFileMode)0b111_101_101);
    }

    public string Path { get; }

    public string Socket => System.IO.Path.Combine(Path, "private");

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>A hand-driven client socket for SASL scripts and hostile bytes.</summary>
internal sealed class RawClient : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly List<byte> _pending = new();

    public static async Task<RawClient> ConnectAsync(string path)
    {
        var client = new RawClient();
        await client._socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        return client;
    }

    public Socket Socket => _socket;

    public Task SendAsync(string text) => SendAsync(Encoding.ASCII.GetBytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        int sent = 0;
        while (sent < bytes.Length) sent += await _socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
    }

    /// <summary>The next "\r\n" line, or null at EOF.</summary>
    public async Task<string?> ReadLineAsync()
    {
        var buffer = new byte[256];
        while (true)
        {
            int nl = _pending.IndexOf((byte)'\n');
            if (nl >= 0)
            {
                string line = Encoding.ASCII.GetString(_pending.GetRange(0, nl).ToArray()).TrimEnd('\r');
                _pending.RemoveRange(0, nl + 1);
                return line;
            }
            int n = await _socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(Tool.Timeout);
            if (n == 0) return null;
            _pending.AddRange(buffer.AsSpan(0, n).ToArray());
        }
    }

    /// <summary>The next complete message (after SASL), using bytes already buffered by ReadLineAsync.</summary>
    public async Task<Message> ReadMessageAsync()
    {
        await FillAsync(16);
        int length = Message.GetMessageLength(_pending.GetRange(0, 16).ToArray(), 1 << 24);
        await FillAsync(length);
        var message = Message.Parse(_pending.GetRange(0, length).ToArray());
        _pending.RemoveRange(0, length);
        return message;
    }

    private async Task FillAsync(int count)
    {
        var buffer = new byte[65536];
        while (_pending.Count < count)
        {
            int n = await _socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(Tool.Timeout);
            if (n == 0) throw new EndOfStreamException("server closed the connection");
            _pending.AddRange(buffer.AsSpan(0, n).ToArray());
        }
    }

    /// <summary>True when the server closed the connection (reads to EOF, discarding data).</summary>
    public async Task<bool> WaitForCloseAsync()
    {
        var buffer = new byte[65536];
        try
        {
            while (await _socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(Tool.Timeout) > 0)
            {
            }
            return true;
        }
        catch (SocketException)
        {
            return true; // ECONNRESET also means the server dropped us
        }
    }

    public async Task AuthenticateAsync()
    {
        await SendAsync("\0AUTH EXTERNAL " + Convert.ToHexStringLower(Encoding.ASCII.GetBytes(Environment.UserName == "root" ? "0" : throw new InvalidOperationException("raw clients run as root in these tests"))) + "\r\n");
        Assert.StartsWith("OK ", await ReadLineAsync());
        await SendAsync("BEGIN\r\n");
    }

    public void Dispose() => _socket.Dispose();
}
