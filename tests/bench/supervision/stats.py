#!/usr/bin/env python3
"""Statistics and /proc sampling for the supervision benchmarks (restart.sh, scale.sh, reconcile.sh).

  stats.py restart ROWS_FILE          latency table from crasher logs; ROWS_FILE lines are
                                      "scenario<TAB>label<TAB>version<TAB>samples<TAB>logfile<TAB>note"
  stats.py usage TOP SETTLE WINDOW    the supervisor's own processes (TOP and its descendants except
                                      the service processes): sleep SETTLE s, sum PSS and RSS, then
                                      utime+stime over WINDOW s; prints one line of numbers
  stats.py summary FILE LABEL         median / p95 / n of the first column of FILE (ms)

Percentiles: median is statistics.median; p95 is the nearest rank, sorted[ceil(0.95 n) - 1]
(with 10 samples that is the largest)."""
import math
import os
import statistics
import sys
import time

SERVICE_CMDLINES = {b"/bin/sleep\0infinity\0", b"sleep\0infinity\0",
                    b"/bin/sleep\x0099999999\0", b"sleep\x0099999999\0"}


def p95(values):
    s = sorted(values)
    return s[max(0, math.ceil(0.95 * len(s)) - 1)]


def latencies(path):
    """start(i+1) - exit(i) in ms, in order; the first one is dropped by the caller."""
    out, last_exit = [], None
    for line in open(path):
        parts = line.split()
        if len(parts) != 2:
            continue
        kind, ns = parts[0], int(parts[1])
        if kind == "exit":
            last_exit = ns
        elif kind == "start" and last_exit is not None:
            out.append((ns - last_exit) / 1e6)
            last_exit = None
    return out


def restart(rows_file):
    rows = [l.rstrip("\n").split("\t") for l in open(rows_file) if l.strip()]
    by_scenario = {}
    for scenario, label, version, samples, log, note in rows:
        lat = latencies(log)[1:][: int(samples)]
        by_scenario.setdefault(scenario, []).append((label, version, lat, note))
    for scenario, entries in by_scenario.items():
        print(f"\n{scenario}")
        print(f"  {'peer':<28} {'version':<28} {'n':>3} {'median ms':>10} {'p95 ms':>9}"
              f"   {'ours/peer median':>16} {'ours/peer p95':>13}")
        ours_labels = ("supervisor", "supervisor (full sandbox)")
        ours = next((e for e in entries if e[0] == ours_labels[0]), None)
        ours_sbx = next((e for e in entries if e[0] == ours_labels[1]), None)
        for label, version, lat, note in entries:
            if not lat:
                print(f"  {label:<28} {version:<28} {0:>3} {'no samples':>10}   {note}")
                continue
            med, p = statistics.median(lat), p95(lat)
            ratio = ""
            if label not in ours_labels and ours and ours[2]:
                ratio = (f"{statistics.median(ours[2]) / med:>16.3f} {p95(ours[2]) / p:>13.3f}")
                if ours_sbx and ours_sbx[2]:
                    ratio += (f"   sandbox/peer {statistics.median(ours_sbx[2]) / med:.3f}, "
                              f"{p95(ours_sbx[2]) / p:.3f}")
            print(f"  {label:<28} {version:<28} {len(lat):>3} {med:>10.2f} {p:>9.2f}   {ratio}"
                  + (f"   [{note}]" if note else ""))


def procs():
    """pid -> (ppid, utime+stime, cmdline bytes) for every process."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        # fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15
        table[int(d)] = (int(fields[1]), int(fields[11]) + int(fields[12]), cmd, fields[0])
    return table


def supervisor_pids(top):
    table = procs()
    def descends(p):
        for _ in range(256):
            if p == top:
                return True
            if p not in table or p <= 1:
                return False
            p = table[p][0]
        return False
    return {p: v for p, v in table.items()
            if descends(p) and v[2] not in SERVICE_CMDLINES and v[3] != b"Z"}


def smaps(pid):
    pss = rss = 0
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
            elif line.startswith("Rss:"):
                rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


def usage(top, settle, window):
    time.sleep(settle)
    sup = supervisor_pids(top)
    pss = rss = 0
    for pid in sup:
        a, b = smaps(pid)
        pss += a
        rss += b
    hz = os.sysconf("SC_CLK_TCK")
    before = {p: v[1] for p, v in sup.items()}
    t0 = time.monotonic()
    time.sleep(window)
    after = supervisor_pids(top)
    elapsed = time.monotonic() - t0
    ticks = sum(v[1] - before.get(p, 0) for p, v in after.items())
    cpu_pct = 100.0 * ticks / hz / elapsed
    # pss_mib rss_mib processes ticks cpu_pct hz window_s processes_at_end
    print(f"{pss / 1024:.1f} {rss / 1024:.1f} {len(sup)} {ticks} {cpu_pct:.3f} {hz} {elapsed:.1f} {len(after)}")


def summary(path, label):
    vals = [float(l.split()[0]) for l in open(path) if l.strip() and l.split()[0][0].isdigit()]
    if not vals:
        print(f"  {label:<58} no samples")
        return
    print(f"  {label:<58} n={len(vals):<3} median {statistics.median(vals):8.1f} ms   p95 {p95(vals):8.1f} ms")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "restart":
        restart(sys.argv[2])
    elif cmd == "usage":
        usage(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "summary":
        summary(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
