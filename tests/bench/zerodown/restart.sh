#!/usr/bin/env bash
# Zero-downtime restart: a small HTTP service on loopback under a bounded load (wrk, a fixed
# number of connections, each request on a new connection) is restarted N times with
# `supervisor restart`, once socket-activated (the supervisor holds the listening socket) and once
# binding its own socket, the same program both ways, in the same run under the same supervisor.
# Prints, per way: connection errors, requests served, latency p50/p95/p99 during the restarts and
# the restart time (median, p95); then the ratios; and the load average.
#
# Usage: tests/bench/zerodown/restart.sh [RESTARTS=100] [CONNECTIONS=8]
#        (SUPERVISOR_DLL=path/supervisor.dll uses that build instead of publishing one)
set -euo pipefail
me=zerodown
restarts=${1:-100}
conns=${2:-8}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../supervision/common.sh
. "$here/../supervision/common.sh"
require_root
ensure_packages wrk:wrk gcc:gcc python3:python3 curl:curl
bench_init zerodown
trap cleanup EXIT
gcc -O2 -Wall -Wextra -o "$work/httpd" "$here/httpd.c"
if [ -n "${SUPERVISOR_DLL:-}" ]; then
  dll=$SUPERVISOR_DLL  # an existing build (e.g. src/Supervisor.Cli/bin/Release/net10.0/supervisor.dll)
else
  say "building ours"
  build_ours
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
act_port=$(free_port)
self_port=$(free_port)
dir="$work/d"; mkdir -p "$dir/units"; chmod 0755 "$dir" "$dir/units"
cat >"$dir/units/web-act.toml" <<TOML
[Service]
StartLimitIntervalSec = 0  # $restarts restarts on request in a row are the point here
ExecStart = ["$work/httpd", "$act_port"]
TOML
cat >"$dir/units/web-act.socket.toml" <<TOML
[Socket]
ListenStream = ["127.0.0.1:$act_port"]
TOML
cat >"$dir/units/web-self.toml" <<TOML
[Service]
StartLimitIntervalSec = 0  # $restarts restarts on request in a row are the point here
ExecStart = ["$work/httpd", "$self_port"]
TOML
start_ours "$dir"
cli() { dotnet "$dll" "$1" --runtime-dir "$dir/run" "${@:2}"; }
for _ in $(seq 1 600); do cli list-units >/dev/null 2>&1 && break; sleep 0.2; done
for u in web-act web-self; do
  for _ in $(seq 1 600); do cli status "$u" 2>/dev/null | grep -q 'active (running)' && break; sleep 0.2; done
done
for p in "$act_port" "$self_port"; do
  for _ in $(seq 1 600); do curl -fsS "http://127.0.0.1:$p/" >/dev/null 2>&1 && break; sleep 0.2; done
done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# run UNIT PORT — wrk on the port while UNIT is restarted $restarts times; writes $work/UNIT.result
# (wrk's line) and $work/UNIT.restarts (one restart's wall time in ms per line).
run() {
  local unit=$1 port=$2 t0 t1
  wrk -t 2 -c "$conns" -d 3600s --timeout 10s -s "$here/report.lua" "http://127.0.0.1:$port/" >"$work/$unit.wrk" 2>&1 &
  local wrk_pid=$!
  track "$wrk_pid" peer
  sleep 1  # wrk's connections are up
  : >"$work/$unit.restarts"
  for i in $(seq 1 "$restarts"); do
    t0=$(date +%s%N)
    cli restart "$unit" >/dev/null
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000000 )) >>"$work/$unit.restarts"
  done
  sleep 1  # the last run serves a while too
  kill -INT "$wrk_pid"
  wait "$wrk_pid" || true
  untrack "$wrk_pid"
  grep '^RESULT' "$work/$unit.wrk" >"$work/$unit.result" || { cat "$work/$unit.wrk"; echo "$me: wrk gave no result" >&2; exit 1; }
}

say "socket-activated: $restarts restarts under wrk -c $conns"
run web-act "$act_port"
say "self-bound: $restarts restarts under wrk -c $conns"
run web-self "$self_port"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
stop_ours "$ours_pid"

python3 - "$work" "$restarts" "$conns" "$load_before" "$load_after" "$(ours_version)" "$(pkg_version wrk)" <<'PY'
import statistics, sys
work, restarts, conns, lb, la, ours, wrkv = sys.argv[1:]
def result(unit):
    f = dict(kv.split("=") for kv in open(f"{work}/{unit}.result").read().split()[1:])
    f = {k: int(v) for k, v in f.items()}
    ms = sorted(int(l) for l in open(f"{work}/{unit}.restarts"))
    f["restart_p50"] = statistics.median(ms)
    f["restart_p95"] = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    f["errors"] = f["connect"] + f["read"] + f["write"] + f["timeout"]
    return f
a, s = result("web-act"), result("web-self")
print(f"zero-downtime restart: {restarts} restarts (`supervisor restart`) under wrk, {conns} connections, one request per connection")
print(f"ours {ours}; wrk {wrkv}")
print(f"{'':24}{'socket-activated':>18}{'self-bound':>14}")
rows = [("connection errors", "errors"), ("  connect", "connect"), ("  read", "read"), ("  write", "write"), ("  timeout", "timeout"),
        ("non-2xx responses", "status"), ("requests served", "requests")]
for label, k in rows:
    print(f"{label:24}{a[k]:>18}{s[k]:>14}")
for label, k in [("latency p50 (ms)", "p50_us"), ("latency p95 (ms)", "p95_us"), ("latency p99 (ms)", "p99_us"), ("latency max (ms)", "max_us")]:
    print(f"{label:24}{a[k] / 1000:>18.2f}{s[k] / 1000:>14.2f}")
print(f"{'requests/s':24}{a['requests'] / (a['duration_us'] / 1e6):>18.0f}{s['requests'] / (s['duration_us'] / 1e6):>14.0f}")
print(f"{'restart median (ms)':24}{a['restart_p50']:>18.0f}{s['restart_p50']:>14.0f}")
print(f"{'restart p95 (ms)':24}{a['restart_p95']:>18.0f}{s['restart_p95']:>14.0f}")
ratio = lambda x, y: f"{x / y:.2f}" if y else "n/a"
print(f"ratio self-bound / socket-activated: errors {s['errors']} vs {a['errors']}, latency p50 {ratio(s['p50_us'], a['p50_us'])}, "
      f"p95 {ratio(s['p95_us'], a['p95_us'])}, p99 {ratio(s['p99_us'], a['p99_us'])}, requests {ratio(s['requests'], a['requests'])}")
print(f"load average before {lb}, after {la} (2 cores; other work on the host counts)")
PY
