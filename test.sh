#!/usr/bin/env bash
# The test command (README, and .ci/run calls exactly this): builds everything and runs every
# test project. As root, the kernel tests run for real; otherwise they report themselves
# skipped, never passed. Ends with one line: "tests: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")"

if [ "$(id -u)" -eq 0 ]; then
  # Real peers (dbus-daemon, gdbus, promtool, bubblewrap …) come from Debian, installed when missing.
  ./install.sh --deps-only --test-deps
else
  echo "test.sh: not root: tests that need root or kernel features will report themselves skipped" >&2
fi

results=.test-results
rm -rf "$results"
mkdir -p "$results"

dotnet build Supervisor.sln -c Release --nologo -v quiet
status=0
# -m:1 runs the test projects one after another: kernel tests measure CPU quotas and start
# latencies, which other test processes competing for this machine's cores would distort.
# --blame-hang-timeout: a test that hangs (a daemon that never answers) is killed and counted as
# failed after 10 minutes, instead of holding the whole run until CI's own limit.
dotnet test Supervisor.sln -c Release --no-build --nologo -m:1 \
  --blame-hang-timeout 10min --blame-hang-dump-type none \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" || status=$?

# The bash completion, against this build's `supervisor --help` (and a live daemon, as root).
completion_log=$results/completion.log
printf '#!/bin/sh\nexec dotnet %s "$@"\n' "$PWD/src/Supervisor.Cli/bin/Release/net10.0/supervisor.dll" >"$results/supervisor"
chmod +x "$results/supervisor"
SUPERVISOR="$PWD/$results/supervisor" contrib/completion/test-completion.sh >"$completion_log" 2>&1 || status=$?
cat "$completion_log"

# The NativeAOT binaries install.sh installs (contrib/publish.sh aot: the client `supervisor` and
# the daemon `supervisord` it execs for `run`), published for real: the completion test and the
# integration tests of the client commands, the metrics endpoint and the sandbox commands run again
# with them as client and daemon (CliAgainstDaemonTests checks that `supervisor run` became
# supervisord in the same process and stops on SIGTERM), so a build that compiles but breaks
# at run time (trimmed code, a dependency that is not AOT-safe) fails here. x86_64 and aarch64 only.
aot_log=$results/aot-completion.log
case "$(uname -m)" in
  x86_64|aarch64)
    if contrib/publish.sh aot "$results/aot" >"$results/aot-publish.log" 2>&1; then
      SUPERVISOR="$PWD/$results/aot/supervisor" contrib/completion/test-completion.sh >"$aot_log" 2>&1 || status=$?
      sed 's/^/aot: /' "$aot_log"
      SUPERVISOR_BINARY="$PWD/$results/aot/supervisor" dotnet test tests/Supervisor.Integration.Tests -c Release --no-build --nologo \
        --filter "FullyQualifiedName~CliAgainstDaemonTests|FullyQualifiedName~MetricsTests|FullyQualifiedName~SandboxCommandTests" \
        --blame-hang-timeout 10min --blame-hang-dump-type none \
        --logger "trx;LogFileName=aot-integration.trx" --logger "console;verbosity=normal" --results-directory "$results" || status=$?
    else
      cat "$results/aot-publish.log"
      echo "test.sh: the NativeAOT publish failed (log above)" >&2
      echo "0 passed, 1 failed" >"$aot_log"
    fi ;;
  *) echo "test.sh: no NativeAOT on $(uname -m); the AOT checks are skipped" >&2 ;;
esac

passed=0; failed=0; skipped=0
for log in "$completion_log" "$aot_log"; do
  [ -f "$log" ] || continue
  if read -r cp cf < <(grep -oE '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 | sed -E 's/ passed, / /; s/ failed//'); then
    passed=$((passed + cp)); failed=$((failed + cf))
  fi
done
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  get() { printf '%s' "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  # The Counters element reports no skips (notExecuted stays 0): count the skipped results themselves.
  skipped=$((skipped + $(grep -o 'outcome="NotExecuted"' "$trx" | wc -l || true)))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "test.sh: dotnet test exited $status without a failed test (a crash or a build problem); counting it as a failure" >&2
  failed=1
fi
# The failed tests by name, last, so that a log cut to its tail (CI keeps the end) still says which;
# also in $results/summary.txt, which .ci/run prints again after the fuzz and VM lanes.
{
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  # Each failed test's name and the first lines of its message (python3 is a test dependency).
  python3 - "$trx" <<'PY' || true
import re, sys, html
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
for m in re.finditer(r'<UnitTestResult [^>]*?testName="([^"]*)"[^>]*?outcome="(?:Failed|Error|Timeout|Aborted)"[^>]*>', text):
    print("failed: " + html.unescape(m.group(1)))
    body = "" if m.group(0).endswith("/>") else text[m.end():text.find("</UnitTestResult>", m.end())]
    msg = re.search(r"<Message>(.*?)</Message>", body, re.S)
    for line in (html.unescape(msg.group(1)).strip().splitlines()[:6] if msg else []):
        print("    " + line[:300])
PY
done
for log in "$completion_log" "$aot_log"; do
  [ -f "$log" ] && grep -E '^(FAIL|not ok)' "$log" | sed "s|^|failed ($(basename "$log")): |" || true
done
echo "tests: $passed passed, $failed failed, $skipped skipped"
} | tee "$results/summary.txt"
[ "$failed" -eq 0 ]
