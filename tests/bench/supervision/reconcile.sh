#!/usr/bin/env bash
# Benchmark (not a test): how long `supervisor run` (watching its units directory with inotify)
# takes to act on an edited unit file, with N units running (default 1000 `sleep infinity`, each
# with MemoryMax). (a) A unit's MemoryMax is changed (64M <-> 96M, atomic rename over the unit
# file): time until the unit's memory.limit_in_bytes shows it. (b) A unit's ExecStart is changed
# (sleep infinity <-> sleep 99999999): time until the old process is gone and a new one runs.
# Peers for (b), same N: supervisord (edit its config, `supervisorctl update`) and runit (edit
# ./run, `sv restart`: runit never re-reads on its own). REPS repetitions each (default 10);
# median and p95. No thresholds.
#
#   sudo tests/bench/supervision/reconcile.sh [N]          (REPS=10 PEERS="supervisord runit" in the environment)
#
# PEERS="" measures ours alone (the daemon's own profile of an edit, at several N, without the
# minutes the peers take to start N programs).
set -euo pipefail
n=${1:-1000}
reps=${REPS:-10}
peers=" ${PEERS-supervisord runit} "
me=tests/bench/supervision/reconcile.sh
. "$(dirname "$0")/common.sh"
require_root
trap cleanup EXIT       # also removes a policy-rc.d that ensure_packages created
[[ "$n" =~ ^[1-9][0-9]*$ && "$n" -ge 2 && "$reps" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $me [N>=2]  (REPS=COUNT)" >&2; exit 2; }
ensure_packages supervisord:supervisor supervisorctl:supervisor runsvdir:runit sv:runit gcc:gcc

bench_init reconcile
fds=$(ulimit -Hn); [ "$fds" = unlimited ] || [ "$fds" -gt 65536 ] && fds=65536
ulimit -n "$fds"
say "building the supervisor"
build_ours
gap=1.2          # seconds between repetitions: runsv delays a restart of a ./run younger than 1 s
poll_file_us=1000
poll_proc_us=2000
coalescer=src/Supervisor.Runtime/Reconcile/UnitFileChanges.cs

say "$(uname -sr), $(nproc) CPUs, $n units, $reps repetitions, ${gap}s apart"
say "ours reconciles as soon as a burst of inotify events is over, re-parsing only the named files ($coalescer)"
t_begin=$(date +%s)
say "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (other activity on the host shows up in every number)"

# ---- ours ----
dir="$work/ours"; mkdir -m 0755 "$dir" "$dir/units"
unit() {  # unit NAME ARG MEMORYMAX > file
  printf '[Service]\nExecStart = ["/bin/sleep", "%s"]\nRestart = "always"\n[Resources]\nMemoryMax = "%s"\n' "$2" "$3"
}
for i in $(seq 1 "$n"); do unit "s$i" infinity 64M >"$dir/units/s$i.toml"; done
chmod 0644 "$dir/units"/*.toml
t0=$(date +%s%N)
start_ours "$dir"
up=$("$work/procwatch" count "$ours_pid" "$n" 600000 20 "$t0") || { tail -20 "$dir/daemon.log"; say "ours: not all running: $up" >&2; exit 1; }
say "ours: all $n running after ${up%% *} s"
# The processes run before the daemon has taken every start in (on a loaded host its job queue can
# lag by minutes): edits are timed only once it logged all N active, else they wait in that queue.
for _ in $(seq 1 3000); do
  [ "$(grep -c ': start → active (running)' "$dir/daemon.log" || true)" -ge "$n" ] && break
  sleep 0.2
done
say "ours: the daemon reports $(grep -c ': start → active (running)' "$dir/daemon.log" || true) of $n active"
sleep 2     # let the start settle (the watcher may still see the initial files)
mem="/sys/fs/cgroup/memory/$root/s1.service/memory.limit_in_bytes"
[ -f "$mem" ] || mem=$(find "/sys/fs/cgroup/memory/$root" -path '*s1.service/memory.limit_in_bytes' | head -1)
[ -f "$mem" ] || { ls -R "/sys/fs/cgroup/memory/$root" | head; say "no memory cgroup found for s1" >&2; exit 1; }
pids_of() { head -1 "/sys/fs/cgroup/pids/$root/$1.service/cgroup.procs" 2>/dev/null || true; }
say "ours: s1's limit is read from ${mem#/sys/fs/cgroup/memory/}"

s1_before=$(pids_of s1)
: >"$work/a.txt"
for r in $(seq 1 "$reps"); do
  if [ $((r % 2)) = 1 ]; then v=96M; bytes=100663296; else v=64M; bytes=67108864; fi
  unit s1 infinity "$v" >"$dir/units/.s1.toml.tmp"; chmod 0644 "$dir/units/.s1.toml.tmp"
  edit_a=$(date +%T.%3N)
  "$work/procwatch" file "$mem" "$bytes" 30000 "$poll_file_us" "$dir/units/.s1.toml.tmp" "$dir/units/s1.toml" >>"$work/a.txt" || true
  sleep "$gap"
done
s1_after=$(pids_of s1)

: >"$work/b.txt"
for r in $(seq 1 "$reps"); do
  if [ $((r % 2)) = 1 ]; then arg=99999999; else arg=infinity; fi
  old=$(pids_of s2)
  unit s2 "$arg" 64M >"$dir/units/.s2.toml.tmp"; chmod 0644 "$dir/units/.s2.toml.tmp"
  edit_b=$(date +%T.%3N)
  "$work/procwatch" replace "$ours_pid" "${old:-0}" 30000 "$poll_proc_us" "$dir/units/.s2.toml.tmp" "$dir/units/s2.toml" >>"$work/b.txt" || true
  sleep "$gap"
done
stop_ours "$ours_pid"
say "ours: stopped in $stop_secs s (exit status $stop_rc)"
if grep -v '^[0-9:.]* info: ' "$dir/daemon.log" >"$work/daemon.unusual"; then
  say "ours: daemon.log lines above info level:" >&2
  head -20 "$work/daemon.unusual" | sed 's/^/    /' >&2
fi
# the daemon's own account of each edit: "read in X ms, applied at Y ms" (from the reconcile's start)
grep -o 'change of s[12]\.toml.*read in [0-9.]* ms, applied at [0-9.]* ms' "$dir/daemon.log" \
  | sed -E 's/.*read in ([0-9.]+) ms, applied at ([0-9.]+) ms/\1 \2/' >"$work/own.txt" || true
awk '{print $1}' "$work/own.txt" >"$work/own.read.txt"; awk '{print $2}' "$work/own.txt" >"$work/own.applied.txt"
# what the daemon logged after the last edit of each kind (its timestamps and ours are both local time)
after() {  # after TIME UNIT — its lines in the 3 s after TIME
  local until; until=$(date -d "$1 3 seconds" +%T.%3N)
  awk -v t="$1" -v u="$until" '$1 >= t && $1 <= u' "$dir/daemon.log" | grep -E " $2: |change of $2\.toml" | head -n 6 || true
}
{ echo "  last (a) edit at $edit_a:"; after "$edit_a" s1 | sed 's/^/    /'
  echo "  last (b) edit at $edit_b:"; after "$edit_b" s2 | sed 's/^/    /'; } >"$work/ours.s12.log"

# ---- supervisord ----
: >"$work/sd.txt"; : >"$work/rs.txt"
if [[ "$peers" == *" supervisord "* ]]; then
dir="$work/supervisord"; mkdir -p "$dir/childlogs"
sd_conf() {  # sd_conf S2_ARG > file
  printf '[supervisord]\nnodaemon=true\nlogfile=%s\npidfile=%s\nchildlogdir=%s\nminfds=%s\n' \
    "$dir/supervisord.log" "$dir/supervisord.pid" "$dir/childlogs" "$fds"
  printf '[unix_http_server]\nfile=%s\n[rpcinterface:supervisor]\n' "$dir/supervisor.sock"
  printf 'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n'
  printf '[supervisorctl]\nserverurl=unix://%s\n' "$dir/supervisor.sock"
  for i in $(seq 1 "$n"); do
    if [ "$i" = 2 ]; then a=$1; else a=infinity; fi
    printf '[program:s%d]\ncommand=/bin/sleep %s\nautorestart=true\n' "$i" "$a"
  done
}
sd_conf infinity >"$dir/supervisord.conf"
t0=$(date +%s%N)
supervisord -n -c "$dir/supervisord.conf" >"$dir/peer.log" 2>&1 & sd_pid=$!; track "$sd_pid" peer
up=$("$work/procwatch" count "$sd_pid" "$n" 600000 20 "$t0") || { tail -5 "$dir/supervisord.log"; say "supervisord: not all running: $up" >&2; exit 1; }
say "supervisord: all $n running after ${up%% *} s"
sleep 2
: >"$work/sd.txt"
for r in $(seq 1 "$reps"); do
  if [ $((r % 2)) = 1 ]; then arg=99999999; else arg=infinity; fi
  old=$(supervisorctl -c "$dir/supervisord.conf" pid s2)
  sd_conf "$arg" >"$dir/.supervisord.conf.tmp"
  "$work/procwatch" replace "$sd_pid" "${old:-0}" 60000 "$poll_proc_us" "$dir/.supervisord.conf.tmp" "$dir/supervisord.conf" \
    supervisorctl -c "$dir/supervisord.conf" update >>"$work/sd.txt" || true
  sleep "$gap"
done
stop_peer "$sd_pid" 120
say "supervisord: stopped in $stop_secs s"
fi


# ---- runit ----
if [[ "$peers" == *" runit "* ]]; then
dir="$work/runit"; mkdir -p "$dir/scan"
for i in $(seq 1 "$n"); do
  mkdir "$dir/scan/s$i"
  printf '#!/bin/sh\nexec /bin/sleep infinity\n' >"$dir/scan/s$i/run"; chmod 0755 "$dir/scan/s$i/run"
done
t0=$(date +%s%N)
runsvdir -P "$dir/scan" >"$dir/peer.log" 2>&1 & rs_pid=$!; track "$rs_pid" peer
up=$("$work/procwatch" count "$rs_pid" "$n" 600000 20 "$t0") || { say "runit: not all running: $up" >&2; exit 1; }
say "runit: all $n running after ${up%% *} s"
sleep 2
: >"$work/rs.txt"
for r in $(seq 1 "$reps"); do
  if [ $((r % 2)) = 1 ]; then arg=99999999; else arg=infinity; fi
  old=$(cat "$dir/scan/s2/supervise/pid")
  printf '#!/bin/sh\nexec /bin/sleep %s\n' "$arg" >"$dir/scan/s2/.run.tmp"; chmod 0755 "$dir/scan/s2/.run.tmp"
  "$work/procwatch" replace "$rs_pid" "${old:-0}" 60000 "$poll_proc_us" "$dir/scan/s2/.run.tmp" "$dir/scan/s2/run" \
    sv restart "$dir/scan/s2" >>"$work/rs.txt" || true
  sleep "$gap"
done
stop_peer "$rs_pid" 60 kill -HUP "$rs_pid"
say "runit: stopped in $stop_secs s"
fi

# ---- report ----
echo
echo "$n units/programs/services running; $reps repetitions per row, ${gap} s apart; times from the"
echo "rename(2) of the edited file (procwatch polls every $((poll_file_us / 1000)) ms for the cgroup file, every $((poll_proc_us / 1000)) ms for /proc)."
echo "Our reconcile is triggered by inotify as soon as the burst is over ($coalescer; no fixed"
echo "delay) and re-parses only the files the events name; its log line says how many it parsed."
echo
s="$bench_dir/stats.py"
python3 "$s" summary "$work/a.txt" "(a) ours: MemoryMax edit -> memory.limit_in_bytes"
gone() { awk '$3 ~ /^[0-9]/ {print $3}' "$1" >"$1.gone"; python3 "$s" summary "$1.gone" "    the old process was gone after"; }
python3 "$s" summary "$work/b.txt" "(b) ours: ExecStart edit -> old gone, new running"
gone "$work/b.txt"
python3 "$s" summary "$work/own.read.txt" "    ours, its own log: read in"
python3 "$s" summary "$work/own.applied.txt" "    ours, its own log: applied at"
python3 "$s" summary "$work/sd.txt" "(b) supervisord: conf edit + supervisorctl update -> new"
gone "$work/sd.txt"
awk '$4 ~ /^[0-9]/ {print $4}' "$work/sd.txt" >"$work/sd.cmd.txt"
python3 "$s" summary "$work/sd.cmd.txt" "    supervisorctl update itself exited after"
python3 "$s" summary "$work/rs.txt" "(b) runit: ./run edit + sv restart -> new"
gone "$work/rs.txt"
python3 - "$work/b.txt" "$work/sd.txt" "$work/rs.txt" <<'PY'
import statistics, sys, math
def load(p):
    return [float(l.split()[0]) for l in open(p) if l.strip() and l[0].isdigit()]
def p95(v):
    s = sorted(v); return s[max(0, math.ceil(0.95 * len(s)) - 1)]
ours, sd, rs = (load(p) for p in sys.argv[1:4])
for name, peer in (("supervisord", sd), ("runit", rs)):
    if ours and peer:
        print(f"  ratio ours/{name} for (b): median {statistics.median(ours) / statistics.median(peer):.2f}, "
              f"p95 {p95(ours) / p95(peer):.2f}")
PY
for f in a b sd rs; do
  if grep -q timeout "$work/$f.txt"; then echo "  $f: $(grep -c timeout "$work/$f.txt") repetition(s) timed out: $(grep timeout "$work/$f.txt" | sort | uniq -c | tr -s ' ' | tr '\n' ';')"; fi
done
if [ -n "$s1_before" ] && [ "$s1_before" = "$s1_after" ]; then
  echo "  (a) s1 kept its PID through the MemoryMax edits (applied live, no restart)"
else
  echo "  (a) s1's PID changed during the MemoryMax edits: $s1_before -> $s1_after"
fi
cat <<EOF
Notes: supervisord's time includes starting supervisorctl (a Python program) and its XML-RPC
round trips (reread, then stop/remove/add/start of the changed program). runit does not watch its
files; the runit row is "edit ./run, then sv restart" by hand, i.e. no detection at all. runit
and the daemontools family run ./run through /bin/sh here (exec sleep). Ours needs no command.
What ours logged in the 3 s after the last edit of each kind (the rename comes ~1 ms after the time shown):
EOF
cat "$work/ours.s12.log"
say "total $(( $(date +%s) - t_begin )) s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
