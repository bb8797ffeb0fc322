#!/usr/bin/env bash
# Tests contrib/completion/supervisor.bash in a real bash: sets COMP_WORDS/COMP_CWORD for a
# command line, calls _supervisor as `complete -F` would, and compares COMPREPLY (sorted) with
# the expected words. Exits 1 on any mismatch.
#
#   contrib/completion/test-completion.sh
#
# With a supervisor build (SUPERVISOR=command, else src/Supervisor.Cli/bin/Debug/net10.0/
# supervisor.dll, else `supervisor` on PATH) it also checks that the completion's subcommand and
# option tables match `supervisor --help` and `supervisor SUB --help`; as root it also starts a
# daemon (throwaway units, unique cgroup root, stopped with SIGTERM) to complete from
# `list-units --json`. Without them, those parts are skipped with the reason.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d /tmp/supervisor-completion-test-XXXXXX)
daemon_pid=
cleanup()
{
    if [[ -n $daemon_pid ]]; then
        kill -TERM "$daemon_pid" 2>/dev/null
        # The daemon stops its units and removes its cgroups on SIGTERM; give it the time.
        for _ in $(seq 300); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# Point the completion's defaults away from anything real on this machine.
_supervisor_default_units_dir=$tmp/default-units
_supervisor_default_runtime_dir=$tmp/no-daemon
# shellcheck source-path=SCRIPTDIR source=supervisor.bash
source "$here/supervisor.bash"

failures=0
passes=0

# sorted WORDS: the whitespace-separated words of WORDS, sorted, on one line.
sorted() { tr -s ' ' '\n' <<<"$1" | sed '/^$/d' | sort | tr '\n' ' '; }

# check "EXPECTED WORDS" WORD... : completes the last WORD (the cursor is at its end).
check()
{
    local expected=$1
    shift
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _supervisor "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
    local got want
    got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ')
    want=$(sorted "$expected")
    if [[ $got == "$want" ]]; then
        passes=$((passes + 1))
    else
        failures=$((failures + 1))
        printf 'FAIL: %s<TAB>\n  expected: %s\n  got:      %s\n' "$(printf '%q ' "$@")" "$want" "$got"
    fi
}

# Unit files: two units, a slice, and things that are not units.
units=$tmp/units
mkdir -p "$units/sub.d" "$tmp/checkdir/nested"
touch "$units/web.toml" "$units/worker.toml" "$units/batch.slice.toml" "$units/notes.txt"
mkdir -p "$units/dir.toml"
mkdir -p "$tmp/default-units"
touch "$tmp/default-units/default1.toml" "$tmp/default-units/default2.toml"
touch "$tmp/checkdir/a.toml" "$tmp/checkdir/b.toml" "$tmp/checkdir/readme.md"
touch "$tmp/checkdir/web.service" "$tmp/checkdir/web.socket" "$tmp/checkdir/batch.slice"

# Subcommands and global options.
check "check show import run status list-units start stop restart reload reset-failed plan daemon-reload logs exec inspect security" \
    supervisor ''
check "reload reset-failed restart" supervisor re
check "start status stop show security" supervisor s
check "--version" supervisor --v
check "--bus --help -h --version" supervisor -
check "status" supervisor --help stat
check "status" supervisor --bus system stat
check "status" supervisor --bus unix : path = /x stat
check "status" supervisor --bus = unix : path = /x stat
check "" supervisor --bus unix : path = /x
check "system" supervisor --bus s
check "system" supervisor status --bus ''
check "auto off" supervisor run --system-bus ''
check "off" supervisor run --metrics-listen=o
check "--runtime-dir --state-dir --lines --json --timeout --bus --help" supervisor --bus system status --
check "" supervisor no-such-command ''

# Options of each subcommand.
check "--runtime-dir --state-dir --lines --json --timeout --bus --help" supervisor status --
check "-n --lines -f --follow --since -h --help --state-dir --runtime-dir --timeout --bus" supervisor logs -
check "--units --unit" supervisor inspect --uni
check "--units --state-dir --runtime-dir --cgroup-root --admin-group --no-watch --system-bus --metrics-listen --log-max-size --log-files --verify-interval --bus --help" supervisor run --no-watch --
check "--runtime-dir" supervisor stop web --r

# Option values: directories, groups, nothing for free-form values.
check "$tmp/checkdir" supervisor run --units "$tmp/checkd"
check "$tmp/checkdir/nested" supervisor list-units --runtime-dir "$tmp/checkdir/n"
check "$tmp/checkdir/nested" supervisor list-units --runtime-dir = "$tmp/checkdir/n"
check "root" supervisor run --admin-group roo
check "" supervisor run --cgroup-root ''
check "" supervisor status -n ''
check "infinity" supervisor stop --timeout i
check "infinity" supervisor show --timeout = ''
check "" supervisor status --timeout 2

# Unit names from the --units directory (every form of the option), then the default directory.
check "web worker batch.slice" supervisor show --units "$units" ''
check "web worker" supervisor show --units "$units" w
check "batch.slice" supervisor exec --units = "$units" b
check "batch.slice" supervisor exec "--units=$units" b
check "web" supervisor show --json --units "$units" we
check "default1 default2" supervisor show ''
check "web worker batch.slice" supervisor show --units "'$units'" ''
real_home=$HOME
HOME=$tmp
# shellcheck disable=SC2088 # the ~ is what the user typed; the completion expands it
check "web worker batch.slice" supervisor show --units "~/units" ''
HOME=$real_home
shopt -s failglob
check "" supervisor show --units "$tmp/checkdir/nested" ''
shopt -u failglob
check "default1 default2" supervisor status --runtime-dir "$tmp/nowhere" ''
check "default1 default2" supervisor inspect --unit ''
check "web worker batch.slice" supervisor inspect --units "$units" --unit ''
check "web worker batch.slice" supervisor inspect --units "$units" --unit =
check "web worker" supervisor inspect --units = "$units" --unit = w
check "" supervisor inspect --units = "$units" --unit = web 1234 ''
# security: any number of units, unit files and directories; --threshold takes a value.
check "web worker" supervisor security --units "$units" w
check "web worker" supervisor security --units "$units" web w
check "$tmp/checkdir/a.toml $tmp/checkdir/b.toml $tmp/checkdir/nested" supervisor security "$tmp/checkdir/"
check "" supervisor security --threshold ''
# One UNIT only; after it, nothing but options.
check "" supervisor start default1 ''
check "" supervisor show --units "$units" web ''
check "" supervisor list-units ''
check "" supervisor plan ''
# exec UNIT -- COMMAND: a command, then files.
check "truncate" supervisor exec web -- truncat
check "$tmp/checkdir/readme.md" supervisor exec web -- /bin/true "$tmp/checkdir/re"

# check: directories and *.toml files.
check "$tmp/checkdir/a.toml $tmp/checkdir/b.toml $tmp/checkdir/nested" supervisor check "$tmp/checkdir/"
check "$tmp/checkdir/nested $tmp/checkdir/web.service $tmp/checkdir/batch.slice" supervisor import "$tmp/checkdir/"
check "$tmp/checkdir/nested" supervisor import --out "$tmp/checkdir/n"
check "$units/web.toml $units/worker.toml" supervisor check --json "$units/w"
check "$units/dir.toml" supervisor check "$units/d"
check "$units/sub.d" supervisor check "$units/s"

# bash-completion loads completions by sourcing them inside a function: the tables must stay global.
# shellcheck disable=SC2016
if bash --norc --noprofile -c 'load() { source "$1"; }; load "$1"; complete -p supervisor >/dev/null &&
        [[ ${_supervisor_options[run]} == *--units* && ${_supervisor_unit_args[start]} == 1 ]]' bash "$here/supervisor.bash"; then
    passes=$((passes + 1))
else
    failures=$((failures + 1))
    echo "FAIL: sourced inside a function (as bash-completion's loader does), the completion loses its tables"
fi

# Through readline for real: an interactive bash in tmux, keys typed, TAB pressed, the screen read.
# Enter is never sent, so nothing typed runs.
if ! command -v tmux >/dev/null; then
    echo "skip: readline checks: no tmux (Debian: apt-get install tmux)"
else
    tmux_socket=supervisor-completion-test-$$
    tmux -L "$tmux_socket" -f /dev/null new-session -d -x 200 -y 30 "env -i HOME=$HOME TERM=xterm PATH=$PATH bash --norc --noprofile"
    tmux -L "$tmux_socket" send-keys -l "PS1='$ '; _supervisor_default_units_dir=$tmp/default-units _supervisor_default_runtime_dir=$tmp/no-daemon; source $here/supervisor.bash; clear"
    tmux -L "$tmux_socket" send-keys Enter
    # readline_check TYPED EXPECTED: types TYPED, presses TAB twice, and expects the screen's last
    # lines (the candidates if several, then the prompt line) to be EXPECTED, joined by " | ".
    readline_check()
    {
        local screen
        tmux -L "$tmux_socket" send-keys -l "$1"
        tmux -L "$tmux_socket" send-keys Tab
        sleep 0.3
        tmux -L "$tmux_socket" send-keys Tab
        sleep 0.3
        screen=$(tmux -L "$tmux_socket" capture-pane -p | sed -e '/^$/d' -e 's/  */ /g' -e 's/ $//' | paste -sd'|' | sed 's/|/ | /g')
        if [[ $screen == "$2" ]]; then
            passes=$((passes + 1))
        else
            failures=$((failures + 1))
            printf 'FAIL (readline): %s<TAB><TAB>\n  expected: %s\n  got:      %s\n' "$1" "$2" "$screen"
        fi
        tmux -L "$tmux_socket" send-keys C-u
        tmux -L "$tmux_socket" send-keys C-l
        sleep 0.2
    }
    sleep 0.3
    # The second TAB completes the unit: default1, default2 share "default".
    readline_check "supervisor reset-" '$ supervisor reset-failed default'
    readline_check "supervisor show --units=$units ba" "\$ supervisor show --units=$units batch.slice"
    readline_check "supervisor run --units=$tmp/checkdir/n" "\$ supervisor run --units=$tmp/checkdir/nested/"
    readline_check "supervisor check $tmp/checkdir/" "\$ supervisor check $tmp/checkdir/ | a.toml b.toml nested/ | \$ supervisor check $tmp/checkdir/"
    readline_check "supervisor --bus unix:path=/x sta" '$ supervisor --bus unix:path=/x sta | start status | $ supervisor --bus unix:path=/x sta'
    readline_check "supervisor inspect --units $units --unit=w" "\$ supervisor inspect --units $units --unit=w | web worker | \$ supervisor inspect --units $units --unit=w"
    tmux -L "$tmux_socket" kill-server
fi

# With a supervisor build: the tables agree with --help, and units come from a real daemon.
if [[ -n ${SUPERVISOR:-} ]]; then
    supervisor_cmd=$SUPERVISOR
elif [[ -f $repo/src/Supervisor.Cli/bin/Debug/net10.0/supervisor.dll ]]; then
    mkdir -p "$tmp/bin"
    printf '#!/bin/sh\nexec dotnet %q "$@"\n' "$repo/src/Supervisor.Cli/bin/Debug/net10.0/supervisor.dll" >"$tmp/bin/supervisor"
    chmod +x "$tmp/bin/supervisor"
    supervisor_cmd=$tmp/bin/supervisor
elif command -v supervisor >/dev/null; then
    supervisor_cmd=$(command -v supervisor)
else
    supervisor_cmd=
    echo "skip: --help drift and daemon checks: no supervisor build (dotnet build src/Supervisor.Cli) and none on PATH"
fi

if [[ -n $supervisor_cmd ]]; then
    # Options as `--help` prints them: "  -n, --lines <n>  how many lines".
    help_options()
    {
        "$supervisor_cmd" "$@" --help | awk '
            /^Options:/ { on = 1; next }
            /^[^ ]/ { on = 0 }
            on && /^  -/ { sub(/^  /, ""); sub(/  .*/, ""); n = split($0, f, ", ");
                           for (i = 1; i <= n; i++) { split(f[i], w, " "); if (w[1] != "-?") print w[1] } }'
    }
    help_valued()
    {
        "$supervisor_cmd" "$@" --help | awk '
            /^Options:/ { on = 1; next }
            /^[^ ]/ { on = 0 }
            on && /^  -.*<[^>]*>/ { sub(/^  /, ""); sub(/  .*/, ""); n = split($0, f, ", ");
                                   for (i = 1; i <= n; i++) { split(f[i], w, " "); print w[1] } }'
    }
    same_set() { [[ $(sorted "$1" | tr ' ' '\n' | sort -u) == "$(sorted "$2" | tr ' ' '\n' | sort -u)" ]]; }

    help_commands=$("$supervisor_cmd" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
    if same_set "$help_commands" "$_supervisor_commands"; then
        passes=$((passes + 1))
    else
        failures=$((failures + 1))
        printf 'FAIL: subcommands differ from supervisor --help\n  --help:     %s\n  completion: %s\n' \
            "$(sorted "$help_commands")" "$_supervisor_commands"
    fi
    all_valued=
    for sub in $help_commands; do
        opts=$(help_options "$sub")
        all_valued+=" $(help_valued "$sub")"
        if same_set "$opts" "${_supervisor_options[$sub]-}"; then
            passes=$((passes + 1))
        else
            failures=$((failures + 1))
            printf 'FAIL: options of %s differ from supervisor %s --help\n  --help:     %s\n  completion: %s\n' \
                "$sub" "$sub" "$(sorted "$opts")" "${_supervisor_options[$sub]-}"
        fi
    done
    if same_set "$all_valued" "$_supervisor_valued_options"; then
        passes=$((passes + 1))
    else
        failures=$((failures + 1))
        printf 'FAIL: options taking a value differ from --help\n  --help:     %s\n  completion: %s\n' \
            "$(sorted "$all_valued" | tr ' ' '\n' | sort -u | tr '\n' ' ')" "$_supervisor_valued_options"
    fi

    if [[ $(id -u) -ne 0 ]]; then
        echo "skip: daemon checks: starting 'supervisor run' needs root (cgroups)"
    else
        # A daemon with units named differently from every unit file above, so a match proves
        # the names came from list-units.
        d=$tmp/daemon
        mkdir -p "$d/units" "$d/state" "$d/run"
        chmod 0755 "$d" "$d/units"
        for u in alpha beta gamma.service; do
            printf '[Service]\nExecStart = ["/bin/sleep", "100000"]\n' >"$d/units/$u.toml"
            chmod 0644 "$d/units/$u.toml"
        done
        cgroup_root=supervisor-completion-test-$$-$RANDOM
        # Only the private socket: no system bus name, no metrics port (if this build has them).
        run_help=$("$supervisor_cmd" run --help)
        only_private=()
        [[ $run_help == *--system-bus* ]] && only_private+=(--system-bus off)
        [[ $run_help == *--metrics-listen* ]] && only_private+=(--metrics-listen off)
        "$supervisor_cmd" run --units "$d/units" --state-dir "$d/state" --runtime-dir "$d/run" \
            --cgroup-root "$cgroup_root" "${only_private[@]}" >"$d/daemon.log" 2>&1 &
        daemon_pid=$!
        for _ in $(seq 300); do
            [[ -S $d/run/private ]] && "$supervisor_cmd" list-units --runtime-dir "$d/run" >/dev/null 2>&1 && break
            kill -0 "$daemon_pid" 2>/dev/null || break
            sleep 0.1
        done
        if ! kill -0 "$daemon_pid" 2>/dev/null; then
            failures=$((failures + 1))
            echo "FAIL: the test daemon did not start; its log:"
            cat "$d/daemon.log"
            daemon_pid=
        else
            # COMP_WORDS[0] is the command the completion runs for list-units.
            check "alpha beta gamma.service" "$supervisor_cmd" status --runtime-dir "$d/run" ''
            check "alpha" "$supervisor_cmd" stop "--runtime-dir=$d/run" a
            check "gamma.service" "$supervisor_cmd" inspect --runtime-dir = "$d/run" --unit g
            # The daemon's list wins over the unit files for daemon commands...
            check "alpha beta gamma.service" "$supervisor_cmd" restart --runtime-dir "$d/run" ''
            _supervisor_default_runtime_dir=$d/run
            check "alpha beta gamma.service" "$supervisor_cmd" reset-failed ''
            # ...and for show and exec, which read the daemon's unit files, unless --units names others.
            check "alpha beta gamma.service" "$supervisor_cmd" show ''
            check "web worker batch.slice" "$supervisor_cmd" exec --units "$units" ''
            check "web worker batch.slice" "$supervisor_cmd" inspect --units "$units" --runtime-dir "$d/run" ''
            _supervisor_default_runtime_dir=$tmp/no-daemon
            _supervisor_default_units_dir=$tmp/default-units

            kill -TERM "$daemon_pid"
            for _ in $(seq 300); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
            if kill -0 "$daemon_pid" 2>/dev/null; then
                echo "warning: the test daemon (pid $daemon_pid) did not exit within 30 s of SIGTERM"
            else
                daemon_pid=
            fi
            # A socket file left behind by a daemon that is gone: back to the unit files.
            check "default1 default2" "$supervisor_cmd" status --runtime-dir "$d/run" ''
        fi
    fi
fi

echo "$passes passed, $failures failed"
((failures == 0))
