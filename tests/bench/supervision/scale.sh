#!/usr/bin/env bash
# Benchmark (not a test): N services (`/bin/sleep infinity`, default 1000) under `supervisor run`
# and under daemontools (svscan), runit (runsvdir), s6 (s6-svscan) and supervisord, one peer
# after another in the same run. For each: the time from starting the peer until all N sleeps run
# (seen from outside in /proc, the same way for every peer) and the time a clean stop takes, over
# STARTS start/stop cycles (default 3; median and every value); in the last cycle, SETTLE seconds (default 5) after all
# are up, the memory of the supervisor's own processes (PSS and RSS: the top process and its
# descendants except the sleeps) and their CPU over an idle window (IDLE_WINDOW seconds, default
# 60). No thresholds.
#
#   sudo tests/bench/supervision/scale.sh [N]          (IDLE_WINDOW=60 SETTLE=5 STARTS=3 OURS_TWICE=0 PEERS=... in the environment)
#
# Ours is the build install.sh installs (NativeAOT on x86_64/aarch64); OURS_BUILD=r2r measures the
# ReadyToRun build (`dotnet supervisor.dll`) instead, OURS_PUBLISHED=DIR an existing publish.
set -euo pipefail
n=${1:-1000}
window=${IDLE_WINDOW:-60}
# After "all up", every peer gets the same time to finish what follows a start before the idle
# window (ours checks each new unit's isolation 2 s after its start and compacts its heap after).
settle=${SETTLE:-5}
starts=${STARTS:-3}
ours_twice=${OURS_TWICE:-0}
# PEERS: which to run, in this order (default all); e.g. PEERS="ours supervisord s6" for memory only.
peers=${PEERS:-ours daemontools runit s6 supervisord}
me=tests/bench/supervision/scale.sh
. "$(dirname "$0")/common.sh"
require_root
trap cleanup EXIT       # also removes a policy-rc.d that ensure_packages created
[[ "$n" =~ ^[1-9][0-9]*$ && "$window" =~ ^[1-9][0-9]*$ && "$starts" =~ ^[1-9][0-9]*$ ]] \
  || { echo "usage: $me [N]  (IDLE_WINDOW=SECONDS STARTS=COUNT OURS_TWICE=0|1)" >&2; exit 2; }
ensure_packages svscan:daemontools svc:daemontools runsvdir:runit s6-svscan:s6 s6-svscanctl:s6 \
  supervisord:supervisor gcc:gcc

bench_init scale
# supervisord keeps pipes and log files per child: raise the fd limit (everyone inherits it) to
# 65536, or to the hard limit when this environment does not allow more
fds=$(ulimit -Hn); [ "$fds" = unlimited ] || [ "$fds" -gt 65536 ] && fds=65536
ulimit -n "$fds"
say "building the supervisor"
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

# prepare KIND DIR — the N services for one peer, in DIR.
prepare() {
  local kind=$1 dir=$2 i
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
}

# measure KIND LABEL VERSION — $starts cycles of: start, wait for N sleeps, stop. The last cycle
# also samples memory and idle CPU between the two.
measure() {
  local kind=$1 label=$2 version=$3 dir pid t0 c up scans scan_us obs_ms note="" usage="" ups="" stops=""
  for c in $(seq 1 "$starts"); do
    dir="$work/$kind.$c"
    prepare "$kind" "$dir"
    t0=$(date +%s%N)
    case $kind in
      ours) start_ours "$dir"; pid=$ours_pid ;;
      daemontools) svscan "$dir/scan" >"$dir/peer.log" 2>&1 & pid=$!; track "$pid" peer ;;
      runit) runsvdir -P "$dir/scan" >"$dir/peer.log" 2>&1 & pid=$!; track "$pid" peer ;;
      s6) s6-svscan -c $((n + 100)) "$dir/scan" >"$dir/peer.log" 2>&1 & pid=$!; track "$pid" peer ;;
      supervisord) supervisord -n -c "$dir/supervisord.conf" >"$dir/peer.log" 2>&1 & pid=$!; track "$pid" peer ;;
    esac
    read -r up scans scan_us obs_ms < <("$work/procwatch" count "$pid" "$n" $((start_timeout * 1000)) 20 "$t0" || true)
    if ! [[ "$up" =~ ^[0-9.]+$ ]]; then
      note="${note:+$note; }not all running: $up $scans"; up="-"
      say "$label: not all running: $up $scans" >&2
      tail -5 "$dir/peer.log" "$dir/daemon.log" 2>/dev/null >&2 || true
    else
      say "$label [$c/$starts]: all $n running after $up s (observer: $scans scans of /proc, ${scan_us} us each on average, ${obs_ms} ms CPU)"
    fi
    if [ "$c" = "$starts" ]; then
      # Ours may still be taking in the starts after every sleep runs (on a loaded machine, for
      # minutes): memory and idle CPU are of the settled daemon, once it reports every unit active.
      if [ "$kind" = ours ]; then
        local active=0
        for _ in $(seq 1 1200); do
          active=$(ours list-units --runtime-dir "$dir/run" 2>/dev/null | grep -c ' active ' || true)
          [ "$active" -ge "$n" ] && break; sleep 0.5
        done
        say "$label: the daemon reports $active of $n units active"
      fi
      say "$label: settling ${settle} s, then memory, then ${window} s of idle CPU"
      usage=$(python3 "$bench_dir/stats.py" usage "$pid" "$settle" "$window")
    else
      sleep 2   # never stop right after the start: supervise and runsv act on a stop only 1 s after a start
    fi
    case $kind in
      ours) stop_ours "$pid"; [ "$stop_rc" = 0 ] || note="${note:+$note; }daemon exit status $stop_rc"
        if grep -v '^[0-9:.]* info: ' "$dir/daemon.log" >"$dir/daemon.unusual"; then
          say "$label: daemon.log lines above info level:" >&2
          head -20 "$dir/daemon.unusual" | sed 's/^/    /' >&2
        fi ;;
      daemontools) stop_peer "$pid" 60 daemontools_stop "$pid" "$dir/scan" ;;
      runit) stop_peer "$pid" 60 kill -HUP "$pid" ;;
      s6) stop_peer "$pid" 60 s6-svscanctl -t "$dir/scan" ;;
      supervisord) stop_peer "$pid" 120 ;;
    esac
    [ "$stop_left" = 0 ] || note="${note:+$note; }$stop_left processes left after a stop, killed by PID"
    say "$label [$c/$starts]: stopped in $stop_secs s"
    ups="${ups:+$ups,}$up"; stops="${stops:+$stops,}$stop_secs"
    rm -rf "$dir"
  done
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$version" "$ups" "$usage" "$stops" "$note" >>"$results"
}

say "$(uname -sr), $(nproc) CPUs, $n services per peer, $starts start/stop cycles each, idle window $window s, CLK_TCK $(getconf CLK_TCK), ulimit -n $fds"
t_begin=$(date +%s)
say "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (other activity on the host shows up in every number)"
wanted() { [[ " $peers " == *" $1 "* ]]; }
wanted ours && measure ours "supervisor" "$(ours_version)"
wanted daemontools && measure daemontools "daemontools svscan" "$(pkg_version daemontools)"
wanted runit && measure runit "runit runsvdir" "$(pkg_version runit)"
wanted s6 && measure s6 "s6-svscan" "$(pkg_version s6)"
wanted supervisord && measure supervisord "supervisord" "$(pkg_version supervisor)"
[ "$ours_twice" = 1 ] && measure ours "supervisor (again, last)" "$(ours_version)"

echo
python3 - "$results" "$n" "$window" "$ours_twice" "$starts" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
n, window, twice, starts = sys.argv[2], sys.argv[3], sys.argv[4] == "1", sys.argv[5]
def med(csv):
    v = [float(x) for x in csv.split(",") if x.replace(".", "", 1).isdigit()]
    return statistics.median(v) if v else None
def fmt(x):
    return "-" if x is None else f"{x:.3f}"
print(f"{n} services of /bin/sleep infinity per peer; peers run one after another"
      + (", ours first and last." if twice else "; ours once (first); OURS_TWICE=1 adds a last run."))
print(f"all up and stop: median of {starts} start/stop cycles (every value in brackets); memory and idle CPU")
print(f"from the last cycle, idle window {window} s.")
print(f"{'peer':<26} {'version':<28} {'all up s':>8} {'PSS MiB':>8} {'RSS MiB':>8} {'procs':>6} "
      f"{'idle CPU %':>10} {'ticks':>6} {'stop s':>7}")
for label, version, ups, usage, stops, note in rows:
    pss, rss, procs, ticks, pct, hz, secs, procs_end = usage.split()
    print(f"{label:<26} {version:<28} {fmt(med(ups)):>8} {float(pss):>8.1f} {float(rss):>8.1f} {procs:>6} "
          f"{float(pct):>10.3f} {ticks:>6} {fmt(med(stops)):>7}   up [{ups}] stop [{stops}]"
          + (f"  [{note}]" if note else ""))
ours = next((r for r in rows if r[0] == "supervisor"), None)
if ours:
    print("\nratios ours/peer (medians): all up    PSS    idle CPU   stop")
    def ratio(a, b):
        try:
            return f"{float(a) / float(b):>7.2f}"
        except (TypeError, ValueError, ZeroDivisionError):
            return f"{'-':>7}"
    o = ours[3].split()
    for label, version, ups, usage, stops, note in rows:
        if label == "supervisor" or label.startswith("supervisor ("):
            continue
        u = usage.split()
        print(f"  {label:<25} {ratio(med(ours[2]), med(ups))} {ratio(o[0], u[0])} {ratio(o[3], u[3]):>10}"
              f" {ratio(med(ours[4]), med(stops))}")
PY
cat <<EOF

How each peer runs: ours \`supervisor run\` with N unit files (ExecStart = ["/bin/sleep", "infinity"],
Restart = "always", no sandbox keys, watching its directory as by default); supervisord with N [program:] sections
(command=/bin/sleep infinity, autorestart=true, minfds=$fds; its children's output goes to its
default AUTO log files); daemontools \`svscan DIR\`, runit \`runsvdir -P DIR\`, s6 \`s6-svscan -c N+100
DIR\` (-c raises its default limit of service dirs) on a scan dir of N service dirs whose run is a
2-line script "#!/bin/sh / exec /bin/sleep infinity" (those three need a run file: one extra
exec of /bin/sh per service at start, which the others do not pay).
"All up": from just before starting the peer until procwatch (polling /proc every 20 ms) counts N
processes with cmdline exactly "/bin/sleep infinity" below the peer's top process; includes the
peer's own start (for ours, the .NET runtime's). While ~2000 processes start on $(nproc) CPUs a
scan can take tens to hundreds of ms (the observer waits for CPU like everyone else): each
"all N running" line above gives the scans, their mean duration (the resolution) and the
observer's own CPU time (what it took from the peer). Memory: sum over the supervisor's own processes
(top + descendants, not the sleeps) of Pss and Rss from /proc/PID/smaps_rollup, $settle s after all
were up; RSS counts shared pages once per process, PSS divides them. Idle CPU: utime+stime of
those processes over the window, in % of one core; CLK_TCK is $(getconf CLK_TCK), so one tick is
$((1000 / $(getconf CLK_TCK))) ms and small values are coarse (the raw tick delta is shown). Stop: from the stop
command (ours, supervisord: SIGTERM; daemontools: SIGTERM to svscan then svc -dx on every
service; runit: SIGHUP to runsvdir; s6: s6-svscanctl -t) until every process of the tree is gone;
always at least 2 s after all were up (right after a start, supervise and runsv take up to 1 s
and supervisord several seconds to act on a stop).
EOF
echo "(The observer's scans are slow mostly because its /proc reads are held up while the kernel"
echo "forks and execs, not only for want of CPU: nice -10 and SCHED_FIFO did not help; README.md.)"
say "total $(( $(date +%s) - t_begin )) s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
