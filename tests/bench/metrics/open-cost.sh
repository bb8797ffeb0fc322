#!/usr/bin/env bash
# Benchmark (not a test), cgroup v1 hosts: the kernel's CPU time for the stat-file reads of a
# 1000-unit scrape, by the way each file is opened (open-cost.c says which four ways). Creates N
# empty cgroups under a unique name in the memory, cpu, cpuacct, pids and blkio hierarchies, runs
# the reads, removes the cgroups. Needs root and a C compiler (gcc or cc).
#
#   sudo tests/bench/metrics/open-cost.sh [UNITS] [ROUNDS]
set -euo pipefail
units=${1:-1000}
rounds=${2:-9}
here=$(cd "$(dirname "$0")" && pwd)
me=tests/bench/metrics/open-cost.sh
[ "$(id -u)" -eq 0 ] || { echo "$me: needs root" >&2; exit 2; }
[ -d /sys/fs/cgroup/memory ] || { echo "$me: needs cgroup v1 hierarchies (/sys/fs/cgroup/memory)" >&2; exit 2; }
work=$(mktemp -d /tmp/supervisor-open-cost.XXXXXX)
root="supervisor-open-cost-$(basename "$work" | tr -dc 'a-zA-Z0-9' | tail -c 8)"
hierarchies=(memory cpu cpuacct pids blkio)
cleanup() {
  for h in "${hierarchies[@]}"; do
    [ -d "/sys/fs/cgroup/$h/$root" ] || continue
    find "/sys/fs/cgroup/$h/$root" -mindepth 1 -maxdepth 1 -type d -exec rmdir {} + 2>/dev/null || true
    rmdir "/sys/fs/cgroup/$h/$root" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
${CC:-cc} -O2 -o "$work/open-cost" "$here/open-cost.c"
for h in "${hierarchies[@]}"; do
  mkdir "/sys/fs/cgroup/$h/$root"
  (cd "/sys/fs/cgroup/$h/$root" && seq -f 's%.0f.service' 1 "$units" | xargs mkdir)
done
echo "$me: $units units, load average $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
ulimit -n $((units * 16 + 256))   # the unit dir fds and the kept files: 8 + 8 per unit
"$work/open-cost" "$root" "$units" "$rounds"
