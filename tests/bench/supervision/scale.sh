#!/usr/bin/env bash
# Benchmark (not a test): N services (`/bin/sleep infinity`, default 1000) under `supervisor run`
# and under daemontools (svscan), runit (runsvdir), s6 (s6-svscan) and supervisord, one peer
# after another in the same run. For each: the time from starting the peer until all N sleeps run
# (seen from outside in /proc, the same way for every peer), then after 5 s the memory of the
# supervisor's own processes (PSS and RSS: the top process and its descendants except the sleeps),
# their CPU over an idle window (IDLE_WINDOW seconds, default 60), and the time a clean stop takes.
# No thresholds.
#
#   sudo tests/bench/supervision/scale.sh [N]          (IDLE_WINDOW=60 OURS_TWICE=0 in the environment)
set -euo pipefail
n=${1:-1000}
window=${IDLE_WINDOW:-60}
ours_twice=${OURS_TWICE:-0}
me=tests/bench/supervision/scale.sh
. "$(dirname "$0")/common.sh"
require_root
[[ "$n" =~ ^[1-9][0-9]*$ && "$window" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $me [N]  (IDLE_WINDOW=SECONDS)" >&2; exit 2; }
ensure_packages svscan:daemontools svc:daemontools runsvdir:runit s6-svscan:s6 s6-svscanctl:s6 \
  supervisord:supervisor gcc:gcc

bench_init scale
trap cleanup EXIT
# supervisord keeps pipes and log files per child: raise the fd limit (everyone inherits it) to
# 65536, or to the hard limit when this environment does not allow more
fds=$(ulimit -Hn); [ "$fds" = unlimited ] || [ "$fds" -gt 65536 ] && fds=65536
ulimit -n "$fds"
echo "$me: building the supervisor"
build_ours
results="$work/results.tsv"; : >"$results"
start_timeout=600

# shell_scan DIR — N daemontools-style service dirs whose run is a two-line sh script.
shell_scan() {
  local i
  mkdir -p "$1"
  for i in $(seq 1 "$n"); do
    mkdir "$1/s$i"
    printf '#!/bin/sh\nexec /bin/sleep infinity\n' >"$1/s$i/run"
    chmod 0755 "$1/s$i/run"
  done
}

daemontools_stop() { kill -TERM "$1"; svc -dx "$2"/*; }   # svscan first, so it restarts nothing

# measure KIND LABEL VERSION — start, wait for N sleeps, sample memory and idle CPU, stop.
measure() {
  local kind=$1 label=$2 version=$3 dir="$work/$1.$RANDOM" pid t0 up note="" usage
  mkdir -p "$dir"
  case $kind in
    ours)
      mkdir -m 0755 "$dir/units"
      for i in $(seq 1 "$n"); do
        printf '[Service]\nExecStart = ["/bin/sleep", "infinity"]\nRestart = "always"\n' >"$dir/units/s$i.toml"
      done
      chmod 0644 "$dir/units"/*.toml ;;
    daemontools|runit|s6) shell_scan "$dir/scan" ;;
    supervisord)
      mkdir -p "$dir/childlogs"
      {
        printf '[supervisord]\nnodaemon=true\nlogfile=%s\npidfile=%s\nchildlogdir=%s\nminfds=%s\n' \
          "$dir/supervisord.log" "$dir/supervisord.pid" "$dir/childlogs" "$fds"
        printf '[unix_http_server]\nfile=%s\n[rpcinterface:supervisor]\n' "$dir/supervisor.sock"
        printf 'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n'
        printf '[supervisorctl]\nserverurl=unix://%s\n' "$dir/supervisor.sock"
        for i in $(seq 1 "$n"); do printf '[program:s%d]\ncommand=/bin/sleep infinity\nautorestart=true\n' "$i"; done
      } >"$dir/supervisord.conf" ;;
  esac
  sync
  t0=$(date +%s%N)
  case $kind in
    ours) start_ours "$dir" --no-watch; pid=$ours_pid ;;
    daemontools) svscan "$dir/scan" >"$dir/peer.log" 2>&1 & pid=$!; track "$pid" peer ;;
    runit) runsvdir -P "$dir/scan" >"$dir/peer.log" 2>&1 & pid=$!; track "$pid" peer ;;
    s6) s6-svscan -c $((n + 100)) "$dir/scan" >"$dir/peer.log" 2>&1 & pid=$!; track "$pid" peer ;;
    supervisord) supervisord -n -c "$dir/supervisord.conf" >"$dir/peer.log" 2>&1 & pid=$!; track "$pid" peer ;;
  esac
  read -r up scans scan_us < <("$work/procwatch" count "$pid" "$n" $((start_timeout * 1000)) 20 "$t0" || true)
  if ! [[ "$up" =~ ^[0-9.]+$ ]]; then
    note="not all running: $up $scans"; up="-"
    echo "$me: $label: $note" >&2
    tail -5 "$dir/peer.log" "$dir/daemon.log" 2>/dev/null >&2 || true
  else
    echo "$me: $label: all $n running after $up s (observer: $scans scans of /proc, mean $scan_us us each)"
  fi
  echo "$me: $label: settling 5 s, then memory, then ${window} s of idle CPU"
  usage=$(python3 "$bench_dir/stats.py" usage "$pid" 5 "$window")
  case $kind in
    ours) stop_ours "$pid"; [ "$stop_rc" = 0 ] || note="${note:+$note; }daemon exit status $stop_rc"
      if grep -v '^[0-9:.]* info: ' "$dir/daemon.log" >"$dir/daemon.unusual"; then
        echo "$me: $label: daemon.log lines above info level:" >&2
        head -20 "$dir/daemon.unusual" | sed 's/^/    /' >&2
      fi ;;
    daemontools) stop_peer "$pid" 60 daemontools_stop "$pid" "$dir/scan" ;;
    runit) stop_peer "$pid" 60 kill -HUP "$pid" ;;
    s6) stop_peer "$pid" 60 s6-svscanctl -t "$dir/scan" ;;
    supervisord) stop_peer "$pid" 120 ;;
  esac
  [ "$stop_left" = 0 ] || note="${note:+$note; }$stop_left processes left after the stop, killed by PID"
  echo "$me: $label: stopped in $stop_secs s"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$version" "$up" "$usage" "$stop_secs" "$note" >>"$results"
  rm -rf "$dir"
}

echo "$me: $(uname -sr), $(nproc) CPUs, $n services per peer, idle window $window s, CLK_TCK $(getconf CLK_TCK), ulimit -n $fds"
t_begin=$(date +%s)
measure ours "supervisor" "$(ours_version)"
measure daemontools "daemontools svscan" "$(pkg_version daemontools)"
measure runit "runit runsvdir" "$(pkg_version runit)"
measure s6 "s6-svscan" "$(pkg_version s6)"
measure supervisord "supervisord" "$(pkg_version supervisor)"
[ "$ours_twice" = 1 ] && measure ours "supervisor (again, last)" "$(ours_version)"

echo
python3 - "$results" "$n" "$window" "$ours_twice" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
n, window, twice = sys.argv[2], sys.argv[3], sys.argv[4] == "1"
print(f"{n} services of /bin/sleep infinity per peer; peers run one after another"
      + (", ours first and last." if twice else "; ours once (first). OURS_TWICE=1 adds a last run."))
print(f"{'peer':<26} {'version':<28} {'all up s':>8} {'PSS MiB':>8} {'RSS MiB':>8} {'procs':>6} "
      f"{'idle CPU %':>10} {'ticks':>6} {'stop s':>7}")
for label, version, up, usage, stop, note in rows:
    pss, rss, procs, ticks, pct, hz, secs, procs_end = usage.split()
    print(f"{label:<26} {version:<28} {up:>8} {float(pss):>8.1f} {float(rss):>8.1f} {procs:>6} "
          f"{float(pct):>10.3f} {ticks:>6} {stop:>7}" + (f"  [{note}]" if note else ""))
ours = next((r for r in rows if r[0] == "supervisor"), None)
if ours:
    print("\nratios ours/peer:        all up    PSS    idle CPU   stop")
    def ratio(a, b):
        try:
            return f"{float(a) / float(b):>7.2f}"
        except (ValueError, ZeroDivisionError):
            return f"{'-':>7}"
    o = ours[3].split()
    for label, version, up, usage, stop, note in rows:
        if label == "supervisor" or label.startswith("supervisor ("):
            continue
        u = usage.split()
        print(f"  {label:<22} {ratio(ours[2], up)} {ratio(o[0], u[0])} {ratio(o[3], u[3]):>10} {ratio(ours[4], stop)}")
PY
cat <<EOF

How each peer runs: ours \`supervisor run\` with N unit files (ExecStart = ["/bin/sleep", "infinity"],
Restart = "always", no sandbox keys, --no-watch); supervisord with N [program:] sections
(command=/bin/sleep infinity, autorestart=true, minfds=$fds; its children's output goes to its
default AUTO log files); daemontools \`svscan DIR\`, runit \`runsvdir -P DIR\`, s6 \`s6-svscan -c N+100
DIR\` (-c raises its default limit of service dirs) on a scan dir of N service dirs whose run is a
2-line script "#!/bin/sh / exec /bin/sleep infinity" (those three need a run file: one extra
exec of /bin/sh per service at start, which the others do not pay).
"All up": from just before starting the peer until procwatch (polling /proc every 20 ms) counts N
processes with cmdline exactly "/bin/sleep infinity" below the peer's top process; includes the
peer's own start (for ours, the .NET runtime's). Memory: sum over the supervisor's own processes
(top + descendants, not the sleeps) of Pss and Rss from /proc/PID/smaps_rollup, 5 s after all
were up; RSS counts shared pages once per process, PSS divides them. Idle CPU: utime+stime of
those processes over the window, in % of one core; CLK_TCK is $(getconf CLK_TCK), so one tick is
$((1000 / $(getconf CLK_TCK))) ms and small values are coarse (the raw tick delta is shown). Stop: from the stop
command (ours, supervisord: SIGTERM; daemontools: SIGTERM to svscan then svc -dx on every
service; runit: SIGHUP to runsvdir; s6: s6-svscanctl -t) until every process of the tree is gone.
EOF
echo "$me: total $(( $(date +%s) - t_begin )) s"
