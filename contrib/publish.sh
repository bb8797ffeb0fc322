#!/usr/bin/env bash
# Publishes the `supervisor` command into OUT, as install.sh installs it (the benchmarks and
# test.sh use this too, so all three run the same build):
#
#   contrib/publish.sh [aot|r2r] OUT
#
#   aot (default)  one native executable, OUT/supervisor, compiled ahead of time (NativeAOT):
#                  no .NET runtime to load and no JIT, so a command answers in a few ms and the
#                  daemon keeps less memory. x86_64 and aarch64; needs clang (Debian: clang).
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
dotnet publish "$here/src/Supervisor.Cli/Supervisor.Cli.csproj" -c Release "${args[@]}" -o "$out" --nologo -v quiet
# The debug symbols (of the native binary, of the assemblies compiled into it) are for a
# debugger, not for running it.
[ "$kind" = aot ] && rm -f "$out/supervisor.dbg" "$out"/*.pdb
exit 0
