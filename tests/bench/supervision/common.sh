# Sourced by restart.sh, scale.sh and reconcile.sh; not run on its own. The caller sets $me and
# calls `trap cleanup EXIT` right after `bench_init`. Everything a script starts is recorded in
# $work/tops and stopped by PID in cleanup (never by name); temp dirs and the cgroups of our
# supervisor's --cgroup-root are removed.

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$bench_dir/../../.." && pwd)
dll=""; ours_bin=""; ours_argv=()  # set by build_ours: the build install.sh installs (NativeAOT), or OURS_BUILD=r2r
work=""; root=""; extra_dirs=(); created_policy_rc=""

# say MESSAGE — a progress line, with the time of day (to match against other activity on the host).
say() { echo "$(date +%T) $me: $*"; }

require_root() { [ "$(id -u)" -eq 0 ] || { echo "$me: needs root" >&2; exit 2; }; }

# ensure_packages BIN:PACKAGE... — apt-get installs the packages of missing binaries, only when
# one is missing, with a policy-rc.d that forbids starting services (created only if absent, and
# removed again).
ensure_packages() {
  local pair missing=()
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  say "installing ${missing[*]}"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 0755 /usr/sbin/policy-rc.d; created_policy_rc=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$created_policy_rc" ]; then rm -f /usr/sbin/policy-rc.d; created_policy_rc=""; fi
}

# bench_init NAME — the work dir (mode 0755: the supervisor refuses group/world-writable unit
# dirs), the cgroup root name, and the helper programs compiled into it.
bench_init() {
  work=$(mktemp -d "/tmp/supervisor-bench-$1.XXXXXX")
  chmod 0755 "$work"
  root="supervisor-bench-$(basename "$work" | tr -dc 'a-zA-Z0-9' | tail -c 8)"
  : >"$work/tops"
  gcc -O2 -Wall -o "$work/procwatch" "$bench_dir/procwatch.c"
}

# extra_dir PREFIX — another temp dir (e.g. under /run for a sandboxed service that gets a
# private /tmp), removed in cleanup. Prints its path.
extra_dir() {
  local d
  d=$(mktemp -d "$1.XXXXXX")
  chmod 0755 "$d"
  echo "$d" >>"$work/extra_dirs"
  echo "$d"
}

# build_ours — ours as install.sh installs it: the NativeAOT `supervisor` binary for this
# architecture (contrib/publish.sh; sets $ours_bin). OURS_BUILD=r2r measures the framework-dependent
# ReadyToRun build instead (what install.sh installed before, run as `dotnet supervisor.dll`;
# sets $dll). `ours ARGS...` runs whichever was built.
# OURS_PUBLISHED=DIR takes an existing publish of that kind instead of publishing again.
build_ours() {
  local kind=${OURS_BUILD:-aot}
  if [ -n "${OURS_PUBLISHED:-}" ]; then
    cp -r "$OURS_PUBLISHED" "$work/ours-bin"
  else
    "$repo/contrib/publish.sh" "$kind" "$work/ours-bin" >"$work/build.log" 2>&1 \
      || { tail -20 "$work/build.log"; echo "$me: build failed" >&2; exit 1; }
  fi
  if [ "$kind" = r2r ]; then
    dll="$work/ours-bin/supervisor.dll"; ours_bin=""; ours_argv=(dotnet "$dll")
    [ -f "$dll" ] || { echo "$me: $dll not found after the build" >&2; exit 1; }
  else
    ours_bin="$work/ours-bin/supervisor"; dll=""; ours_argv=("$ours_bin")
    [ -x "$ours_bin" ] || { echo "$me: $ours_bin not found after the build" >&2; exit 1; }
  fi
}

ours() { "${ours_argv[@]}" "$@"; }

ours_version() { echo "git $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'), dotnet $(dotnet --version)"; }
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }

# track PID KIND — remember a started top process (KIND: ours or peer) for cleanup.
track() { echo "$1 $2" >>"$work/tops"; }
untrack() { sed -i "/^$1 /d" "$work/tops"; }

# is_alive PID — exists and is not a zombie (a child of this shell that exited is one until waited).
is_alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# kill_tree PID... — the processes and everything below them are first frozen with SIGSTOP,
# rescanning until no new descendant appears (a stopped process cannot fork; its children are
# found through it), then killed with SIGKILL; by PID, start time checked. Prints the count.
kill_tree() {
  local all="$work/kill.all" new="$work/kill.new" before
  : >"$all"
  for _ in $(seq 1 50); do
    "$work/procwatch" tree "$@" $(awk '{print $1}' "$all") >"$new"
    "$work/procwatch" kill 19 "$new" >/dev/null
    before=$(wc -l <"$all")
    sort -u "$all" "$new" -o "$all"
    [ "$(wc -l <"$all")" -eq "$before" ] && break
  done
  "$work/procwatch" kill 9 "$all"
  rm -f "$all" "$new"
}

# start_ours DIR [--no-watch] — our daemon in the foreground, in the background of this shell,
# on DIR/units, with DIR/state, DIR/run and the log DIR/daemon.log; sets $ours_pid.
start_ours() {
  local dir=$1; shift
  # The environment install.sh's /usr/local/bin/supervisor gives it.
  DOTNET_GCgen0size=${DOTNET_GCgen0size:-0x200000} "${ours_argv[@]}" run --units "$dir/units" --state-dir "$dir/state" --runtime-dir "$dir/run" --cgroup-root "$root" \
    --metrics-listen off --system-bus off "$@" >"$dir/daemon.log" 2>&1 &
  ours_pid=$!
  track "$ours_pid" ours
}

# stop_ours PID — SIGTERM, then wait (it stops every unit and removes its cgroups). Sets
# stop_secs (until the daemon and all its processes are gone), stop_rc (its exit status) and
# stop_left (processes still there after 120 s, then killed by PID). Not in $(...): it waits.
stop_ours() {
  local pid=$1 t0
  stop_rc=0; stop_left=0
  "$work/procwatch" tree "$pid" >"$work/stop.list"
  t0=$(date +%s%N)
  kill -TERM "$pid"
  stop_secs=$("$work/procwatch" gone "$work/stop.list" 120000 10 "$t0") || { stop_secs=timeout; stop_left=$(kill_tree "$pid"); }
  wait "$pid" || stop_rc=$?
  untrack "$pid"
  remove_cgroups
}

# stop_peer PID TIMEOUT_S [COMMAND...] — run the peer's own stop COMMAND (none: SIGTERM to PID),
# wait until the peer's whole tree (taken just before) is gone, kill what remains after TIMEOUT_S
# by PID. Sets stop_secs and stop_left like stop_ours.
stop_peer() {
  local pid=$1 timeout=$2 t0; shift 2
  stop_left=0
  "$work/procwatch" tree "$pid" >"$work/stop.list"
  t0=$(date +%s%N)
  if [ $# -gt 0 ]; then "$@" >/dev/null 2>&1 || true; else kill -TERM "$pid" 2>/dev/null || true; fi
  stop_secs=$("$work/procwatch" gone "$work/stop.list" "$((timeout * 1000))" 10 "$t0") || {
    stop_secs="timeout"
    stop_left=$(kill_tree $(awk '{print $1}' "$work/stop.list"))
  }
  wait "$pid" 2>/dev/null || true
  untrack "$pid"
}

# remove_cgroups — safety net after our daemon exited: rmdir what is left of $root (empty only).
remove_cgroups() {
  local d
  [ -n "$root" ] || return 0
  for d in /sys/fs/cgroup/*/"$root"; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}

cleanup() {
  local pid kind
  if [ -n "$work" ] && [ -f "$work/tops" ]; then
    while read -r pid kind; do
      [ -n "$pid" ] || continue
      if [ "$kind" = ours ] && is_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 240); do is_alive "$pid" || break; sleep 0.5; done
      fi
      kill_tree "$pid" >/dev/null
      wait "$pid" 2>/dev/null || true
    done <"$work/tops"
  fi
  remove_cgroups
  if [ -n "$work" ] && [ -f "$work/extra_dirs" ]; then xargs -r rm -rf <"$work/extra_dirs"; fi
  [ -n "$work" ] && rm -rf "$work"
  if [ -n "$created_policy_rc" ]; then rm -f /usr/sbin/policy-rc.d; fi
}
