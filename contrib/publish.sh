#!/usr/bin/env bash
# Publishes the `supervisor` command into OUT, as install.sh installs it (the benchmarks and
# test.sh use this too, so all three run the same build):
#
#   contrib/publish.sh [aot|r2r] OUT
#
#   aot (default)  native executables compiled ahead of time (NativeAOT): no .NET runtime to load
#                  and no JIT, so a command answers in a few ms and the daemon keeps less memory.
#                  OUT/supervisor is the client (every command; `run` execs the daemon) and
#                  OUT/supervisord the daemon: the same project compiled twice, the client with
#                  SupervisorClientOnly=true so that it carries none of the daemon's code (hosting,
#                  Kestrel) and starts fast. x86_64 and aarch64; needs clang.
#   r2r            the framework-dependent ReadyToRun build, run as `dotnet OUT/supervisor.dll`:
#                  the fallback on any other architecture.
#
# The native helpers (OUT/supervisor-helper, OUT/supervisor-holder) come along either way.
set -euo pipefail
kind=${1:-aot}
out=${2:?usage: contrib/publish.sh [aot|r2r] OUT}
here=$(cd "$(dirname "$0")/.." && pwd)
case "$(uname -m)" in
  x86_64) rid=linux-x64 ;;
  aarch64) rid=linux-arm64 ;;
  *) rid="" ;;
esac
case $kind in
  aot)
    [ -n "$rid" ] || { echo "contrib/publish.sh: NativeAOT needs x86_64 or aarch64, this is $(uname -m); use r2r" >&2; exit 2; }
    command -v clang >/dev/null || { echo "contrib/publish.sh: NativeAOT links with clang, which is not on PATH (Debian: apt-get install clang)" >&2; exit 2; }
    args=(-r "$rid" -p:PublishAot=true) ;;
  r2r)
    args=(-p:PublishAot=false)
    [ -n "$rid" ] && args+=(-r "$rid" --self-contained false -p:PublishReadyToRun=true) ;;
  *) echo "contrib/publish.sh: unknown kind '$kind' (aot or r2r)" >&2; exit 2 ;;
esac
project="$here/src/Supervisor.Cli/Supervisor.Cli.csproj"
if [ "$kind" = aot ]; then
  # The daemon first (the whole program), renamed supervisord; then the client over it in OUT.
  daemon=$(mktemp -d)
  trap 'rm -rf "$daemon"' EXIT
  dotnet publish "$project" -c Release "${args[@]}" -o "$daemon" --nologo -v quiet
  dotnet publish "$project" -c Release "${args[@]}" -p:SupervisorClientOnly=true -o "$out" --nologo -v quiet
  install -m 0755 "$daemon/supervisor" "$out/supervisord"
else
  dotnet publish "$project" -c Release "${args[@]}" -o "$out" --nologo -v quiet
fi
# The debug symbols (of the native binary, of the assemblies compiled into it) are for a
# debugger, not for running it.
[ "$kind" = aot ] && rm -f "$out/supervisor.dbg" "$out/supervisord.dbg" "$out"/*.pdb
exit 0
