#!/usr/bin/env bash
# Coverage-guided fuzzing of the unit-file reader, the D-Bus message reader and the SASL
# server side, with AFL++ (Debian's afl++) and SharpFuzz, for a fixed time per target.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]      SECONDS per target (default 60); targets: unitfile dbus sasl
#
# Installs what is missing (afl++ with apt-get when root; the SharpFuzz instrumenter as a
# local dotnet tool in tests/fuzz/.tools), publishes the harness, instruments the readers'
# assemblies, replays the checked-in corpus, then runs afl-fuzz on each target. Exits 1 on any
# finding: a crash (an undocumented exception, an allocation over its bound, a broken
# round trip) or a hang (an input that still runs past AFL_HANG_TMOUT when AFL retries it).
# Every finding is copied to tests/fuzz/.work/findings/TARGET-crash-N / TARGET-hang-N and
# replayed, so the log says what broke. tests/fuzz/README.md tells how to add it to the corpus.
# Works as root on a fresh Debian 12 machine, with no terminal and no standard input.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(unitfile dbus sasl)
case $seconds in '' | *[!0-9]*) echo "run.sh: SECONDS must be a number, got '$seconds'" >&2; exit 2 ;; esac

work=${FUZZ_WORK:-$here/.work}
tools=$here/.tools
sharpfuzz_version=2.3.0
# Each exec of a healthy input takes milliseconds; AFL kills one after exec_timeout_ms and
# retries it with AFL_HANG_TMOUT before calling it a hang, so a stalled machine is not a finding.
exec_timeout_ms=${FUZZ_EXEC_TIMEOUT_MS:-5000}
hang_timeout_ms=${FUZZ_HANG_TIMEOUT_MS:-20000}
# AFL mutates small seeds best; bigger corpus files are still replayed (and by the xunit test).
max_seed_bytes=16384
# CI fuzzes with a fixed seed, so a run differs from the last one mainly by the code under test;
# locally every run explores afresh unless FUZZ_SEED is set.
seed=${FUZZ_SEED:-}
[ -z "$seed" ] && [ "${CI:-}" = true ] && seed=1

log() { printf 'fuzz: %s\n' "$*"; }

install_afl() {
  command -v afl-fuzz >/dev/null && return
  if [ "$(id -u)" -ne 0 ]; then
    echo "run.sh: afl-fuzz is missing: run as root, or 'apt-get install afl++' first" >&2
    exit 2
  fi
  log "installing afl++ (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends afl++ </dev/null >/dev/null ||
    { apt-get update -q </dev/null >/dev/null && apt-get install -y -q --no-install-recommends afl++ </dev/null >/dev/null; }
}

install_sharpfuzz() {
  [ -x "$tools/sharpfuzz" ] && return
  log "installing SharpFuzz.CommandLine $sharpfuzz_version into $tools"
  dotnet tool install SharpFuzz.CommandLine --version "$sharpfuzz_version" --tool-path "$tools" >/dev/null
}

# The harness is published fresh each run: instrumenting rewrites the assemblies in place.
build() {
  log "publishing and instrumenting the harness"
  rm -rf "$work/bin"
  dotnet publish "$here/Supervisor.Fuzz/Supervisor.Fuzz.csproj" -c Release -o "$work/bin" --nologo -v quiet >/dev/null
  for dll in Supervisor.Units.dll Supervisor.DBus.dll Tomlyn.dll; do
    "$tools/sharpfuzz" "$work/bin/$dll" >/dev/null
  done
}

harness() { dotnet "$work/bin/Supervisor.Fuzz.dll" "$@" </dev/null; }

# A corpus file that already breaks a contract would stop AFL at its first step; say which.
replay_corpus() {
  local target=$1
  if ! harness replay "$target" "$here/corpus/$target" >"$work/$target.replay.log" 2>&1; then
    grep 'FINDING' "$work/$target.replay.log" >&2 || tail -n 20 "$work/$target.replay.log" >&2
    echo "run.sh: $target: the checked-in corpus already has findings (full log: $work/$target.replay.log)" >&2
    return 1
  fi
}

fuzz_one() {
  local target=$1 in=$work/in/$target out=$work/out/$target
  rm -rf "$in" "$out"
  mkdir -p "$in" "$work/out"
  find "$here/corpus/$target" -type f -size -$((max_seed_bytes + 1))c -exec cp {} "$in/" \;
  # (Checked by hand: set -e does not apply inside a function called as `fuzz_one || …`.)
  harness dict "$target" >"$work/$target.dict" && [ -s "$work/$target.dict" ] ||
    { echo "run.sh: $target: could not write the AFL dictionary" >&2; return 1; }
  log "$target: afl-fuzz for $seconds s"
  local status=0
  AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
    AFL_NO_AFFINITY=1 AFL_FAST_CAL=1 AFL_NO_CRASH_README=1 AFL_FORKSRV_INIT_TMOUT=60000 \
    AFL_HANG_TMOUT="$hang_timeout_ms" FUZZ_SCRATCH="$scratch" \
    timeout --kill-after=30 $((seconds + 600)) \
    afl-fuzz -i "$in" -o "$out" -x "$work/$target.dict" -t "$exec_timeout_ms" -m none -V "$seconds" ${seed:+-s "$seed"} \
    -- dotnet "$work/bin/Supervisor.Fuzz.dll" fuzz "$target" </dev/null >"$work/$target.afl.log" 2>&1 || status=$?
  if [ "$status" -ne 0 ] || [ ! -f "$out/default/fuzzer_stats" ]; then
    tail -n 30 "$work/$target.afl.log" >&2
    echo "run.sh: $target: afl-fuzz failed (exit $status; log: $work/$target.afl.log)" >&2
    return 1
  fi
  report "$target" "$out/default"
}

# Names every crash and hang, replays each so the log shows the broken contract, and prints
# the run's numbers. Returns 1 when there was any.
report() {
  local target=$1 dir=$2 n=0 kind file
  stat() { sed -n "s/^$1 *: //p" "$dir/fuzzer_stats"; }
  log "$target: $(stat execs_done) execs ($(stat execs_per_sec)/s), $(stat corpus_count) paths, $(stat saved_crashes) crashes, $(stat saved_hangs) hangs, stability $(stat stability)"
  for kind in crash hang; do
    for file in "$dir/${kind/crash/crashe}s"/id:*; do
      [ -e "$file" ] || continue
      n=$((n + 1))
      local named=$work/findings/$target-$kind-$n.bin
      cp "$file" "$named"
      log "FINDING $target $kind: $named (AFL: $(basename "$file"))"
      # A hang is replayed under a limit of its own; the replay prints the contract it broke.
      timeout --kill-after=10 120 dotnet "$work/bin/Supervisor.Fuzz.dll" replay "$target" "$named" </dev/null 2>&1 | head -n 40 || true
    done
  done
  [ "$n" -eq 0 ]
}

mkdir -p "$work/findings"
rm -f "$work/findings"/*
scratch=$(mktemp -d /tmp/supervisor-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
export FUZZ_SCRATCH=$scratch

install_afl
install_sharpfuzz
build
failed=0
for target in "${targets[@]}"; do
  replay_corpus "$target" || { failed=1; continue; }
  fuzz_one "$target" || failed=1
done
if [ "$failed" -ne 0 ]; then
  echo "run.sh: findings or failures above; the inputs are in $work/findings (see tests/fuzz/README.md)" >&2
  exit 1
fi
log "no findings in ${#targets[@]} targets × $seconds s"
