#!/usr/bin/env bash
# Installs Supervisor on Debian 12: the OS packages it needs (only those missing), a Release
# build, and the `supervisor` command in $PREFIX/bin. Idempotent: a second run changes nothing
# and says so. Downloads nothing except Debian packages (and NuGet packages during the build).
#
#   sudo ./install.sh                 install (PREFIX=/usr/local by default)
#   sudo ./install.sh --deps-only     only the Debian packages the project needs
#   sudo ./install.sh --test-deps     also the packages the test suite uses (real peers: dbus, promtool, ...)
set -euo pipefail

PREFIX=${PREFIX:-/usr/local}
here=$(cd "$(dirname "$0")" && pwd)
deps_only=0
test_deps=0
for arg in "$@"; do
  case "$arg" in
    --deps-only) deps_only=1 ;;
    --test-deps) test_deps=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf 'install.sh: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: must run as root (it installs packages and $PREFIX/bin/supervisor); try: sudo ./install.sh" >&2
  exit 1
fi

# What the product needs at run time and to build its native helper; clang and zlib1g-dev link
# the NativeAOT `supervisor` binary (x86_64, aarch64).
packages=(gcc make libc6-dev libseccomp2 python3 dbus iproute2 util-linux bash-completion)
case "$(uname -m)" in x86_64|aarch64) packages+=(clang zlib1g-dev) ;; esac
# What the tests use as real peers and workloads.
# dbus (dbus-daemon, dbus-send) and systemd (busctl, systemd-notify) are real peers too;
# qemu, cpio, busybox-static, e2fsprogs and apparmor run the VM lane (tests/vm); prometheus
# brings promtool, which lints the metrics; redis, memcached, nginx and haproxy are real daemons
# run with their own Debian hardening (integration tests); those, cron, rsyslog, openssh-server and
# postgresql bring Debian's own unit files, which `supervisor import` is tested on.
test_packages=(dbus systemd libglib2.0-bin python3-dbus busybox-static bubblewrap procps perl prometheus curl
  qemu-system-x86 cpio e2fsprogs apparmor
  redis-server redis-tools memcached nginx-light haproxy cron rsyslog openssh-server postgresql)
[ "$test_deps" -eq 1 ] && packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  installable=()
  for p in "${missing[@]}"; do
    if apt-cache show "$p" >/dev/null 2>&1; then installable+=("$p"); else say "no Debian package '$p' here; skipping it"; fi
  done
  [ "${#installable[@]}" -gt 0 ] && apt-get install -y -qq --no-install-recommends "${installable[@]}" >/dev/null
else
  say "Debian packages: all present (${packages[*]})"
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "install.sh: the .NET SDK 10 is needed to build Supervisor and 'dotnet' is not on PATH." >&2
  echo "install.sh: install the .NET 10 SDK (https://learn.microsoft.com/dotnet/core/install/linux-debian), then run this again." >&2
  exit 1
fi

[ "$deps_only" -eq 1 ] && { say "dependencies done (--deps-only)"; exit 0; }

# Unit files are code the supervisor runs as root, so it refuses ones another user could
# change. A checkout made by a normal user would be refused by `sudo supervisor run --units
# ./units`; hand the example units to root, once, and say so.
if [ -d "$here/units" ]; then
  if [ -n "$(find "$here/units" \( ! -user 0 -o -perm /022 \) -print -quit)" ]; then
    chown -R 0:0 "$here/units"
    chmod -R go-w "$here/units"
    say "made $here/units owned by root and not group/world-writable (the supervisor refuses unit files others could change)"
  fi
fi

say "building (Release)"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# NativeAOT on x86_64 and aarch64: native executables, no .NET runtime to start (a command answers
# in a few ms instead of ~140) and less memory kept by the daemon (tests/bench/cli,
# tests/bench/supervision/scale.sh): `supervisor`, the client, and beside it `supervisord`, the
# daemon that `supervisor run` execs (both land in $PREFIX/lib/supervisor with the helpers).
# Elsewhere the ReadyToRun build, where `run` runs the daemon in the same program.
case "$(uname -m)" in x86_64|aarch64) kind=aot ;; *) kind=r2r ;; esac
"$here/contrib/publish.sh" "$kind" "$stage/lib" >"$stage/build.log" 2>&1 || {
  cat "$stage/build.log" >&2
  echo "install.sh: build failed (log above)" >&2
  exit 1
}
# The native binaries (the exec helper and the output fd holder) come with the publish; build
# them here with the same Makefile should either be missing.
if [ -f "$here/src/helper/Makefile" ] && { [ ! -x "$stage/lib/supervisor-helper" ] || [ ! -x "$stage/lib/supervisor-holder" ]; }; then
  make -s -C "$here/src/helper" OUT="$stage/lib/supervisor-helper" HOLDER_OUT="$stage/lib/supervisor-holder" all >/dev/null
fi

# Copy only what differs, so that a second run changes nothing and says so.
libdir="$PREFIX/lib/supervisor"
changed=0
mkdir -p "$libdir" "$PREFIX/bin"
while IFS= read -r -d '' f; do
  rel=${f#"$stage/lib/"}
  dest="$libdir/$rel"
  if ! cmp -s "$f" "$dest" 2>/dev/null; then
    mkdir -p "$(dirname "$dest")"
    install -m "$( [ -x "$f" ] && echo 0755 || echo 0644 )" "$f" "$dest"
    changed=$((changed + 1))
  fi
done < <(find "$stage/lib" -type f -print0)
# Files a previous version installed that this one no longer has.
while IFS= read -r -d '' f; do
  rel=${f#"$libdir/"}
  if [ ! -e "$stage/lib/$rel" ]; then rm -f "$f"; changed=$((changed + 1)); fi
done < <(find "$libdir" -type f -print0)

# DOTNET_GCgen0size: a 2 MiB young generation. The runtime reads it only from the environment;
# the default (sized from the CPU cache) keeps ~10 MiB more resident for a daemon that
# allocates little per event (measured with 1000 units in tests/bench/supervision).
if [ "$kind" = aot ]; then
  wrapper=$(printf '#!/bin/sh\n# Installed by Supervisor install.sh.\nDOTNET_GCgen0size=${DOTNET_GCgen0size:-0x200000} exec %s/supervisor "$@"\n' "$libdir")
else
  dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
  wrapper=$(printf '#!/bin/sh\n# Installed by Supervisor install.sh.\nDOTNET_ROOT=${DOTNET_ROOT:-%s} DOTNET_GCgen0size=${DOTNET_GCgen0size:-0x200000} exec %s/supervisor "$@"\n' "$dotnet_root" "$libdir")
fi
if [ "$(cat "$PREFIX/bin/supervisor" 2>/dev/null)" != "$wrapper" ]; then
  printf '%s\n' "$wrapper" > "$PREFIX/bin/supervisor"
  chmod 0755 "$PREFIX/bin/supervisor"
  changed=$((changed + 1))
fi

# The control API's system bus policy (only root may own the name; Supervisor authorizes calls).
policy_src="$here/contrib/dbus/io.supervisor.Supervisor1.conf"
policy_dst=/etc/dbus-1/system.d/io.supervisor.Supervisor1.conf
if ! cmp -s "$policy_src" "$policy_dst" 2>/dev/null; then
  install -D -m 0644 "$policy_src" "$policy_dst"
  say "installed the D-Bus policy $policy_dst (a running dbus-daemon reads it on its next reload)"
  changed=$((changed + 1))
fi

# Bash completion (bash-completion looks in /usr/local/share and /usr/share).
completion_dst="$PREFIX/share/bash-completion/completions/supervisor"
if ! cmp -s "$here/contrib/completion/supervisor.bash" "$completion_dst" 2>/dev/null; then
  install -D -m 0644 "$here/contrib/completion/supervisor.bash" "$completion_dst"
  changed=$((changed + 1))
fi

for d in /etc/supervisor/units /var/lib/supervisor; do
  if [ ! -d "$d" ]; then
    install -d -m 0755 "$d"
    say "created $d"
    changed=$((changed + 1))
  fi
done

if [ "$changed" -eq 0 ]; then
  say "$PREFIX/bin/supervisor is up to date; nothing changed"
else
  say "installed $PREFIX/bin/supervisor ($changed file(s) changed under $libdir and $PREFIX/bin)"
fi
say "next: sudo supervisor check ./units && sudo supervisor run --units ./units"
