#!/usr/bin/env bash
# Benchmark (not a test): does the seccomp listener slow down calls the filter allows? The same
# program (getpid.c) runs a getpid() loop under one BPF filter whose denied set (keyctl, add_key,
# request_key) is answered by the kernel (SECCOMP_RET_ERRNO: the filter without the notifier)
# or reported to a listener (SECCOMP_RET_USER_NOTIF with SECCOMP_FILTER_FLAG_NEW_LISTENER: what
# the helper loads for SystemCallFilter), and with no filter for scale. Rounds of the two filtered
# modes alternate, so load on the machine hits both alike. Reports ns per call, median and p95
# over the rounds, the ratio notify/errno, and the load average. Needs root (no_new_privs is
# enough, in fact) and cc.
#
#   tests/bench/seccomp/run.sh [ROUNDS] [CALLS_PER_ROUND]
set -euo pipefail
rounds=${1:-40}
calls=${2:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/supervisor-bench-seccomp.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -Wall -Werror -o "$work/getpid" "$here/getpid.c"

for mode in none errno notify; do : >"$work/$mode.txt"; done
for _ in $(seq 1 "$rounds"); do
  for mode in none errno notify; do "$work/getpid" "$mode" 1 "$calls" >>"$work/$mode.txt"; done
done

stats() { sort -n "$1" | awk '{v[NR]=$1} END {m=v[int((NR+1)/2)]; p=v[int(NR*0.95+0.999)]; printf "%.2f %.2f\n", m, p}'; }
read -r nm np < <(stats "$work/none.txt")
read -r em ep < <(stats "$work/errno.txt")
read -r xm xp < <(stats "$work/notify.txt")
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs; $rounds rounds of $calls getpid() each"
printf '%-38s %10s %10s\n' "filter" "median ns" "p95 ns"
printf '%-38s %10s %10s\n' "none" "$nm" "$np"
printf '%-38s %10s %10s\n' "RET_ERRNO for @keyring (peer)" "$em" "$ep"
printf '%-38s %10s %10s\n' "RET_USER_NOTIF for @keyring (ours)" "$xm" "$xp"
echo "ratio notify/errno: median $(echo "scale=3; $xm / $em" | bc), p95 $(echo "scale=3; $xp / $ep" | bc)"
