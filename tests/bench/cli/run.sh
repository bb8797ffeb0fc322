#!/usr/bin/env bash
# Benchmark (not a test): what an operator waits for when typing a command, fresh process each
# time. `supervisor status UNIT` against a running daemon (one `sleep infinity` unit), `supervisor
# --help` and `supervisor check DIR` (the repo's units/), beside runit's `sv status` against a
# running runsv (the peer: a C client of a supervision daemon), supervisord's `supervisorctl status`
# (Python) and `systemctl --version` (the floor of a dynamically linked C program), all in the same
# run. Ours is the NativeAOT binary install.sh installs; when a `dotnet build` output exists, the
# JIT build (`dotnet supervisor.dll`) runs too, to show what AOT changed. hyperfine runs every
# command RUNS times (default 100) without a shell after 3 warm-up runs (peers that take ~0.1 s or more: at most 20 runs); prints median, p95 and
# mean, the ratio of each median to `sv status`'s, and the load average before and after. No
# thresholds.
#
#   sudo tests/bench/cli/run.sh [RUNS]        (about 3 minutes, most of it the AOT publish)
set -euo pipefail
runs=${1:-100}
me=tests/bench/cli/run.sh
. "$(dirname "$0")/../supervision/common.sh"
require_root
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $me [RUNS]" >&2; exit 2; }
ensure_packages hyperfine:hyperfine runsv:runit sv:runit supervisord:supervisor supervisorctl:supervisor systemctl:systemd gcc:gcc
bench_init cli
trap cleanup EXIT
say "building the supervisor (NativeAOT, as install.sh installs it)"
build_ours
jit="$repo/src/Supervisor.Cli/bin/Release/net10.0/supervisor.dll"
say "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"

# Ours: a daemon with one unit.
dir="$work/ours"
mkdir -p "$dir/units"
printf '[Unit]\nDescription = "one sleep"\n[Service]\nExecStart = ["/bin/sleep", "infinity"]\n' >"$dir/units/s1.toml"
chmod 0644 "$dir/units/s1.toml"
start_ours "$dir"
for _ in $(seq 1 600); do ours status --runtime-dir "$dir/run" s1 >/dev/null 2>&1 && break; sleep 0.1; done
ours status --runtime-dir "$dir/run" s1 >/dev/null || { tail -20 "$dir/daemon.log"; echo "$me: our unit is not active" >&2; exit 1; }
# `check` on a copy of the repo's example units (root-owned, as the supervisor demands).
cp -r "$repo/units" "$work/check-units"; chown -R 0:0 "$work/check-units"; chmod -R go-w "$work/check-units"

# runit: runsv on one service dir.
mkdir -p "$work/runit/s1"
printf '#!/bin/sh\nexec /bin/sleep infinity\n' >"$work/runit/s1/run"; chmod 0755 "$work/runit/s1/run"
runsv "$work/runit/s1" >/dev/null 2>&1 & track $! peer
for _ in $(seq 1 600); do sv status "$work/runit/s1" 2>/dev/null | grep -q '^run:' && break; sleep 0.1; done

# supervisord: one program, its control socket.
sd="$work/supervisord"; mkdir -p "$sd/logs"
{
  printf '[supervisord]\nnodaemon=true\nlogfile=%s/supervisord.log\npidfile=%s/pid\nchildlogdir=%s/logs\n' "$sd" "$sd" "$sd"
  printf '[unix_http_server]\nfile=%s/sock\n[rpcinterface:supervisor]\n' "$sd"
  printf 'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n'
  printf '[supervisorctl]\nserverurl=unix://%s/sock\n[program:s1]\ncommand=/bin/sleep infinity\n' "$sd"
} >"$sd/conf"
supervisord -n -c "$sd/conf" >/dev/null 2>&1 & track $! peer
for _ in $(seq 1 600); do supervisorctl -c "$sd/conf" status s1 2>/dev/null | grep -q RUNNING && break; sleep 0.1; done

# bench LABEL COMMAND... — hyperfine without a shell; the exit status is not checked (status of
# an inactive unit exits 3), the output is checked once below.
results="$work/results.tsv"; : >"$results"
# SLOW=1 before it: at most 20 runs (a Python or JIT start costs ~0.1-1 s each on a loaded machine).
bench() {
  local label=$1 n=$runs; shift
  [ "${SLOW:-0}" = 1 ] && [ "$n" -gt 20 ] && n=20
  "$@" >"$work/last.out" 2>&1 || true
  hyperfine -N --style none --warmup 3 --runs "$n" -i --export-json "$work/h.json" -- "$(printf '%q ' "$@")" >/dev/null 2>&1
  python3 - "$work/h.json" "$label" >>"$results" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"][0]
t = sorted(x * 1000 for x in r["times"])
p95 = t[min(len(t) - 1, int(round(0.95 * (len(t) - 1))))]
print(f"{sys.argv[2]}\t{statistics.median(t):.2f}\t{p95:.2f}\t{statistics.mean(t):.2f}\t{(r['user'] + r['system']) * 1000:.2f}\t{len(t)}")
PY
  say "$label: $(tail -n 1 "$results" | cut -f2) ms median"
}
bench "sv status (runit)" sv status "$work/runit/s1"
bench "supervisor status UNIT" "${ours_argv[@]}" status --runtime-dir "$dir/run" s1
grep -q 'Active: active' "$work/last.out" || { cat "$work/last.out"; echo "$me: ours did not print the unit's status" >&2; exit 1; }
SLOW=1 bench "supervisorctl status (supervisord)" supervisorctl -c "$sd/conf" status s1
bench "systemctl --version" systemctl --version
bench "supervisor --help" "${ours_argv[@]}" --help
bench "supervisor check units/" "${ours_argv[@]}" check "$work/check-units"
grep -q 'all valid' "$work/last.out" || { cat "$work/last.out"; echo "$me: check did not pass the example units" >&2; exit 1; }
if [ -f "$jit" ]; then
  SLOW=1 bench "JIT: dotnet supervisor.dll status UNIT" dotnet "$jit" status --runtime-dir "$dir/run" s1
  SLOW=1 bench "JIT: dotnet supervisor.dll --help" dotnet "$jit" --help
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

echo
python3 - "$results" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
peer = float(rows[0][1])
print(f"{'command (fresh process each run)':<42} {'median ms':>9} {'p95 ms':>8} {'mean ms':>8} {'CPU ms':>7} {'runs':>5} {'÷ sv status':>11}")
for label, med, p95, mean, cpu, n in rows:
    print(f"{label:<42} {float(med):>9.2f} {float(p95):>8.2f} {float(mean):>8.2f} {float(cpu):>7.2f} {n:>5} {float(med) / peer:>10.2f}×")
PY
echo
echo "ours: $(ours_version), ${OURS_BUILD:-aot} build ($(du -sk "$work/ours-bin" | cut -f1) KiB in all); sv $(pkg_version runit), supervisor $(pkg_version supervisor), systemd $(pkg_version systemd)"
# The client every command runs, and (NativeAOT) the daemon `supervisor run` execs.
for f in supervisor supervisord; do
  [ -f "$work/ours-bin/$f" ] && echo "  $f: $(( $(stat -c %s "$work/ours-bin/$f") / 1024 )) KiB"
done
echo "CPU ms: user + system time of the command's process, mean (what the command costs, whatever the load);"
echo "median and p95: wall time, which on a loaded machine includes waiting for a CPU."
echo "status UNIT: the daemon's private socket (D-Bus handshake with GetUnit and LogDirectory in one write, then GetAll), then the unit's log tail;"
echo "sv status: reads supervise/status of the service dir; supervisorctl: XML-RPC over its unix socket."
say "load average at the start above; at the end: $load_end ($(nproc) CPUs; other activity on the host shows up in every number)"
