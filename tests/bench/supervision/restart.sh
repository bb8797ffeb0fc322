#!/usr/bin/env bash
# Benchmark (not a test): crash-to-restart latency of `supervisor run` beside daemontools
# (supervise), runit (runsv), s6 (s6-supervise) and supervisord, in the same run. The service is
# crasher.c: it logs "start <ns>" first thing in main, runs RUN_MS, logs "exit <ns>" and exits 1;
# one restart's latency is start(i+1) - exit(i). Two scenarios: (a) RUN_MS=0, (b) RUN_MS=1200.
# Ours also runs with the full sandbox (pid/mount/ipc/uts/net namespaces, nobody, no
# capabilities, seccomp, ProtectSystem=strict, ...). Peers run one after another on one service
# dir each; prints median and p95 per peer and the ratio ours/peer. No thresholds.
#
#   sudo tests/bench/supervision/restart.sh [SAMPLES]
set -euo pipefail
samples=${1:-20}
me=tests/bench/supervision/restart.sh
. "$(dirname "$0")/common.sh"
require_root
trap cleanup EXIT       # also removes a policy-rc.d that ensure_packages created
[[ "$samples" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $me [SAMPLES]" >&2; exit 2; }
ensure_packages supervise:daemontools svc:daemontools runsv:runit sv:runit s6-supervise:s6 s6-svc:s6 \
  supervisord:supervisor gcc:gcc

bench_init restart
# the sandboxed unit gets a private /tmp and /var/tmp, so its binary and log live under /run
sbx=$(extra_dir /run/supervisor-bench-restart)
gcc -O2 -Wall -o "$sbx/crasher" "$bench_dir/crasher.c"
chmod 0755 "$sbx/crasher"
crasher="$sbx/crasher"
mkdir -m 0777 "$sbx/log"     # written by nobody in the sandboxed variant
say "building the supervisor"
build_ours

# Peers whose floor is ~1 s in scenario (a) get fewer samples, to keep the run short.
slow_samples=$((samples < 10 ? samples : 10))
rows="$work/rows.tsv"; : >"$rows"

# wait_starts LOG COUNT TIMEOUT_S — until LOG has COUNT "start" lines. 0 reached, 1 timeout.
wait_starts() {
  local n
  for _ in $(seq 1 $(($3 * 10))); do
    n=$(grep -c '^start' "$1" 2>/dev/null || true)
    [ "${n:-0}" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

# service_dir DIR LOG MS — a daemontools/runit/s6 service dir whose `run` is the crasher itself
# (a symlink: the supervisor execs ./run with no arguments, no shell in between).
service_dir() {
  mkdir -p "$1"
  ln -s "$crasher" "$1/run"
  echo "$2 $3" >"$1/crasher.args"
}

unit_file() {  # unit_file PATH LOG MS SANDBOX(0|1)
  {
    printf '[Service]\nExecStart = ["%s", "%s", "%s"]\n' "$crasher" "$2" "$3"
    printf 'Restart = "always"\nRestartSec = "0"\nStartLimitIntervalSec = "0"\n'
    if [ "$4" = 1 ]; then
      printf 'User = "nobody"\n[Resources]\nMemoryMax = "64M"\nTasksMax = 16\n'
      printf '[Sandbox]\nNamespaces = ["pid", "mount", "ipc", "uts", "net"]\nCapabilityBoundingSet = []\n'
      printf 'NoNewPrivileges = true\nSystemCallFilter = ["@system-service"]\nProtectSystem = "strict"\n'
      printf 'ProtectHome = true\nPrivateTmp = true\nPrivateDevices = true\nReadWritePaths = ["%s"]\n' "$sbx/log"
    fi
  } >"$1"
  chmod 0644 "$1"
}

# proc_cost PID — "TICKS CTXSW STARTS": utime+stime of the process (clock ticks) and the context
# switches of all its threads now.
proc_cost() {
  local ticks cs
  ticks=$(sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}') || return 1
  cs=$(cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s + 0}')
  echo "$ticks $cs"
}

# cost_per_restart "T0 C0" "T1 C1" STARTS_AT_END STARTS_AT_FIRST — CPU ms and context switches per restart.
cost_per_restart() {
  local t0 c0 t1 c1 hz restarts
  read -r t0 c0 <<<"$1"; read -r t1 c1 <<<"$2"; hz=$(getconf CLK_TCK)
  restarts=$(($3 - $4)); [ "$restarts" -gt 0 ] || { echo "no restarts counted"; return; }
  awk -v t=$((t1 - t0)) -v c=$((c1 - c0)) -v n="$restarts" -v hz="$hz" \
    'BEGIN { printf "supervisor process CPU %.2f ms and %.1f context switches per restart (over %d restarts, %d ticks)\n", t * 1000 / hz / n, c / n, n, t }'
}

runit_stop() { sv -w 5 force-stop "$1"; sv exit "$1"; }

# row SCENARIO KIND SAMPLES MS — one supervisor, one service, until SAMPLES+2 starts (the first
# restart is discarded), then stopped; appends to $rows.
row() {
  local scenario=$1 kind=$2 n=$3 ms=$4 dir log pid label version note="" timeout
  dir="$work/$ms-$kind"; mkdir -p "$dir"
  log="$dir/crasher.log"
  timeout=$(( (n + 2) * (ms + 2500) / 1000 + 30 ))
  case $kind in
    ours|ours-sandbox)
      local sandbox=0; [ "$kind" = ours-sandbox ] && { sandbox=1; log="$sbx/log/$ms.log"; }
      label="supervisor"; [ $sandbox = 1 ] && label="supervisor (full sandbox)"
      version=$(ours_version)
      mkdir -m 0755 "$dir/units"
      unit_file "$dir/units/crasher.toml" "$log" "$ms" "$sandbox"
      ours check "$dir/units" >"$dir/check.log" 2>&1 || { cat "$dir/check.log"; exit 1; }
      start_ours "$dir"
      pid=$ours_pid ;;
    daemontools)
      label="daemontools supervise"; version=$(pkg_version daemontools)
      service_dir "$dir/svc" "$log" "$ms"
      supervise "$dir/svc" >"$dir/peer.log" 2>&1 & pid=$!; track "$pid" peer ;;
    runit)
      label="runit runsv"; version=$(pkg_version runit)
      service_dir "$dir/svc" "$log" "$ms"
      runsv "$dir/svc" >"$dir/peer.log" 2>&1 & pid=$!; track "$pid" peer ;;
    s6)
      label="s6-supervise"; version=$(pkg_version s6)
      service_dir "$dir/svc" "$log" "$ms"
      s6-supervise "$dir/svc" >"$dir/peer.log" 2>&1 & pid=$!; track "$pid" peer ;;
    supervisord)
      label="supervisord"; version=$(pkg_version supervisor)
      mkdir -p "$dir/childlogs"
      cat >"$dir/supervisord.conf" <<EOF
[supervisord]
nodaemon=true
logfile=$dir/supervisord.log
pidfile=$dir/supervisord.pid
childlogdir=$dir/childlogs
[unix_http_server]
file=$dir/supervisor.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://$dir/supervisor.sock
[program:crasher]
command=$crasher $log $ms
autorestart=true
startsecs=0
startretries=1000000
EOF
      supervisord -n -c "$dir/supervisord.conf" >"$dir/peer.log" 2>&1 & pid=$!; track "$pid" peer ;;
  esac
  # The supervisor's own cost per restart, beside the latency: CPU time (utime+stime of its
  # process, all threads) and context switches (summed over its threads: each is a wake-up or a
  # preemption), from the 2nd start to the last one counted.
  local cost0="" cost1=""
  wait_starts "$log" 2 "$timeout" && cost0=$(proc_cost "$pid")
  if ! wait_starts "$log" $((n + 2)) "$timeout"; then
    note="timed out after ${timeout}s with $(grep -c '^start' "$log" 2>/dev/null || echo 0) starts"
    say "$label, RUN_MS=$ms: $note" >&2
  fi
  cost1=$(proc_cost "$pid")
  [ -n "$cost0" ] && [ -n "$cost1" ] && say "$scenario: $label: $(cost_per_restart "$cost0" "$cost1" "$(grep -c '^start' "$log")" 2)"
  case $kind in
    ours|ours-sandbox)
      stop_ours "$pid"
      [ "$stop_rc" = 0 ] || note="${note:+$note; }daemon exit status $stop_rc"
      # anything the daemon logged above info level, verbatim
      if grep -v '^[0-9:.]* info: ' "$dir/daemon.log" >"$dir/daemon.unusual"; then
        say "$label, RUN_MS=$ms: daemon.log lines above info level:" >&2
        head -20 "$dir/daemon.unusual" | sed 's/^/    /' >&2
      fi ;;
    daemontools) stop_peer "$pid" 10 svc -dx "$dir/svc" ;;
    runit) stop_peer "$pid" 15 runit_stop "$dir/svc" ;;
    s6) stop_peer "$pid" 10 s6-svc -xd "$dir/svc" ;;
    supervisord) stop_peer "$pid" 15 ;;
  esac
  [ "$stop_left" = 0 ] || note="${note:+$note; }$stop_left processes left after stop, killed by PID"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$label" "$version" "$n" "$log" "$note" >>"$rows"
  say "$scenario: $label done ($(grep -c '^start' "$log" 2>/dev/null || echo 0) starts)"
}

say "$(uname -sr), $(nproc) CPUs; $samples samples per row ($slow_samples for the peers with a ~1 s floor in scenario a)"
t_begin=$(date +%s)
say "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (other activity on the host shows up in every number)"
a="(a) quick crash, RUN_MS=0"
b="(b) crash after running 1.2 s, RUN_MS=1200"
# PEERS (default all) and SCENARIOS (default "a b") choose the rows, e.g. PEERS="ours daemontools" SCENARIOS=b.
peers=${PEERS:-ours ours-sandbox daemontools runit s6 supervisord}
for k in $peers; do
  case $k in ours|ours-sandbox|daemontools|runit|s6|supervisord) ;; *) echo "$me: unknown peer '$k'" >&2; exit 2 ;; esac
done
for sc in ${SCENARIOS:-a b}; do
  for k in $peers; do
    case $sc-$k in
      a-ours|a-ours-sandbox) row "$a" "$k" "$samples" 0 ;;
      a-*) row "$a" "$k" "$slow_samples" 0 ;;
      b-*) row "$b" "$k" "$samples" 1200 ;;
      *) echo "$me: unknown scenario '$sc' (a or b)" >&2; exit 2 ;;
    esac
  done
done

echo
echo "crash-to-restart latency = start(i+1) - exit(i), CLOCK_REALTIME stamps written by the service"
echo "itself; first restart of each row discarded; p95 = nearest rank (with n=10 it is the maximum)."
echo "Every supervisor execs the crasher directly (no shell): daemontools/runit/s6 exec ./run, a"
echo "symlink to it; supervisord and ours exec it with its arguments. Ours: Restart=always,"
echo "RestartSec=0, StartLimitIntervalSec=0. supervisord: autorestart=true startsecs=0."
python3 "$bench_dir/stats.py" restart "$rows"
cat <<'EOF2'

Notes on the peers' semantics (their own design, not measurement noise):
  - daemontools supervise pauses 1 s after every start of ./run (so a quick crash waits ~1 s).
  - runit runsv waits 1 s before restarting only when ./run exited within 1 s of its start.
  - s6-supervise (this version) waited ~1 s after every death here, also after a 1.2 s run (also
    seen with a 3 s run); there is no finish script.
  - supervisord reaps the child when its output pipes close, but respawns it in the next pass of
    its main loop, after poll(timeout=1 s): ~1 s whatever the run time.
  - ours with the full sandbox also creates 5 namespaces, a new /proc and mount view, switches to
    nobody and loads seccomp on every restart; its helper stays as PID 1 of the pid namespace.
EOF2
echo
say "total $(( $(date +%s) - t_begin )) s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
