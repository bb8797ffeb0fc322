#!/usr/bin/env bash
# Benchmark (not a test): the cost of one Prometheus scrape of `supervisor run` with N units
# (default 1000 `sleep` services, each in its own cgroup), beside node_exporter scraping the same
# host in the same run. Scrapes alternate between the two; reports median and p95 latency, bytes,
# and the ratio, the CPU time each server spent per scrape (user+system from /proc/PID/stat: what
# a scrape costs, which the machine's load hardly changes) and the load average. Needs root, curl
# and prometheus-node-exporter (Debian packages).
#
#   sudo tests/bench/metrics/run.sh [UNITS] [SCRAPES]
#   SUPERVISOR_DLL=/path/to/supervisor.dll …   measure that build (default: this tree's, built first)
#   OURS_PUBLISHED=DIR …   measure a NativeAOT publish (contrib/publish.sh aot DIR: DIR/supervisor
#                          execs DIR/supervisord in the same process), what install.sh installs
set -euo pipefail
units=${1:-1000}
scrapes=${2:-30}
repo=$(cd "$(dirname "$0")/../../.." && pwd)
me=tests/bench/metrics/run.sh
[ "$(id -u)" -eq 0 ] || { echo "$me: needs root" >&2; exit 2; }
command -v prometheus-node-exporter >/dev/null || { echo "$me: apt-get install prometheus-node-exporter" >&2; exit 2; }

work=$(mktemp -d /tmp/supervisor-bench-metrics.XXXXXX)
chmod 0755 "$work"
root="supervisor-bench-$(basename "$work" | tr -dc 'a-zA-Z0-9' | tail -c 8)"
sup_pid=""; node_pid=""
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null || true
  if [ -n "$sup_pid" ] && kill -0 "$sup_pid" 2>/dev/null; then
    kill -TERM "$sup_pid"
    for _ in $(seq 1 600); do kill -0 "$sup_pid" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mport=$(port); nport=$(port)

mkdir -p "$work/units"
for i in $(seq 1 "$units"); do
  printf '[Service]\nExecStart = ["/bin/sleep", "1000000"]\n[Resources]\nMemoryMax = "64M"\nTasksMax = 8\n' >"$work/units/s$i.toml"
done
chmod 0644 "$work/units"/*.toml

dll=${SUPERVISOR_DLL:-}
if [ -n "${OURS_PUBLISHED:-}" ]; then
  [ -x "$OURS_PUBLISHED/supervisor" ] || { echo "$me: no $OURS_PUBLISHED/supervisor (contrib/publish.sh aot DIR)" >&2; exit 2; }
  ours=("$OURS_PUBLISHED/supervisor")
  echo "$me: ours: the NativeAOT publish in $OURS_PUBLISHED"
else
  if [ -z "$dll" ]; then
    dotnet build -c Release "$repo/src/Supervisor.Cli" --nologo -v quiet >/dev/null
    dll="$repo/src/Supervisor.Cli/bin/Release/net10.0/supervisor.dll"
  fi
  ours=(dotnet "$dll")
  echo "$me: ours: dotnet $dll (JIT)"
fi
"${ours[@]}" run --units "$work/units" --state-dir "$work/state" --runtime-dir "$work/run" --cgroup-root "$root" \
  --metrics-listen "127.0.0.1:$mport" --system-bus off --no-watch >"$work/daemon.log" 2>&1 &
sup_pid=$!
prometheus-node-exporter --web.listen-address="127.0.0.1:$nport" >"$work/node.log" 2>&1 &
node_pid=$!

echo "$me: waiting for $units units to be active"
start=$(date +%s.%N)
for _ in $(seq 1 1200); do
  active=$(curl -s "http://127.0.0.1:$mport/metrics" | grep -c 'supervisor_unit_state{unit="s[0-9]*",state="active"} 1' || true)
  [ "$active" -ge "$units" ] && break
  sleep 0.5
done
[ "$active" -ge "$units" ] || { tail -20 "$work/daemon.log"; echo "$me: only $active of $units units became active" >&2; exit 1; }
echo "$me: $units units active after $(echo "$(date +%s.%N) - $start" | bc) s (including the daemon's own start)"

one() { curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "$1"; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # user+system clock ticks
for _ in 1 2 3; do one "http://127.0.0.1:$mport/metrics" >/dev/null; one "http://127.0.0.1:$nport/metrics" >/dev/null; done
: >"$work/sup.txt"; : >"$work/node.txt"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
sup_cpu=$(cpu "$sup_pid"); node_cpu=$(cpu "$node_pid")
for i in $(seq 1 "$scrapes"); do
  if [ $((i % 2)) -eq 0 ]; then
    one "http://127.0.0.1:$mport/metrics" >>"$work/sup.txt"; one "http://127.0.0.1:$nport/metrics" >>"$work/node.txt"
  else
    one "http://127.0.0.1:$nport/metrics" >>"$work/node.txt"; one "http://127.0.0.1:$mport/metrics" >>"$work/sup.txt"
  fi
done
sup_cpu=$(( $(cpu "$sup_pid") - sup_cpu )); node_cpu=$(( $(cpu "$node_pid") - node_cpu ))
echo "$me: daemon $(grep VmRSS "/proc/$sup_pid/status" | tr -s ' \t' ' ') after the scrapes, node_exporter $(grep VmRSS "/proc/$node_pid/status" | tr -s ' \t' ' ')"
echo "$me: load average $load_before before the scrapes, $(cut -d' ' -f1-3 /proc/loadavg) after ($(nproc) CPUs)"
python3 - "$work/sup.txt" "$work/node.txt" "$units" "$sup_cpu" "$node_cpu" "$(getconf CLK_TCK)" "$scrapes" <<'PY'
import statistics, sys
def load(p):
    rows = [l.split() for l in open(p) if l.strip()]
    t = sorted(float(r[0]) * 1000 for r in rows); b = [int(r[1]) for r in rows]
    return statistics.median(t), t[max(0, int(round(0.95 * len(t))) - 1)], statistics.median(b)
s, n, units = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3]
print(f"supervisor /metrics, {units} units: median {s[0]:.1f} ms, p95 {s[1]:.1f} ms, {s[2]/1024:.0f} KiB")
print(f"node_exporter /metrics (same host):   median {n[0]:.1f} ms, p95 {n[1]:.1f} ms, {n[2]/1024:.0f} KiB")
print(f"ratio supervisor/node_exporter: median {s[0]/n[0]:.2f}, p95 {s[1]/n[1]:.2f}")
tick_ms = 1000 / int(sys.argv[6]); scrapes = int(sys.argv[7])
sc, nc = int(sys.argv[4]) * tick_ms / scrapes, int(sys.argv[5]) * tick_ms / scrapes
print(f"server CPU per scrape (user+system): supervisor {sc:.1f} ms, node_exporter {nc:.1f} ms, ratio {sc / max(nc, 0.001):.2f}")
PY
