# bash completion for supervisor(8).
#
# Install: install -D -m 0644 contrib/completion/supervisor.bash \
#              "$PREFIX/share/bash-completion/completions/supervisor"
# (PREFIX /usr or /usr/local: bash-completion looks in both and loads the file the first time
# `supervisor` is completed), or source it from ~/.bashrc. It needs neither bash-completion's
# helpers nor jq. contrib/completion/test-completion.sh tests it.
#
# Completes subcommands, each subcommand's options (the tables below follow `supervisor SUB
# --help`; contrib/completion/test-completion.sh fails when they drift apart), directories for
# the directory options, groups for --admin-group, files and directories for `check`, `import` and `security`, and unit
# names where a command takes a UNIT (status, start, stop, restart, reload, reset-failed, logs,
# show, exec, inspect, inspect --unit and security): the *.toml files of the --units directory on the line
# if there is one; else the daemon's units (`supervisor list-units --json` over the --bus on the
# line, else at the --runtime-dir on the line or /run/supervisor when its socket exists) if it
# answers within 2 s; else the *.toml files of /etc/supervisor/units. Values for --bus,
# --system-bus, --metrics-listen and --timeout (infinity) are offered too.

_supervisor_commands='check show import run status list-units start stop restart reload reset-failed plan daemon-reload logs exec inspect security'

# Options per subcommand, as `supervisor SUB --help` lists them (without `-?`).
declare -gA _supervisor_options=(
    [check]='--json --bus -h --help'
    [show]='--units --json --runtime-dir --timeout --bus -h --help'
    [import]='--out --check --force --bus -h --help'
    [run]='--units --state-dir --runtime-dir --cgroup-root --admin-group --no-watch --system-bus --metrics-listen --log-max-size --log-files --verify-interval --bus -h --help'
    [status]='--runtime-dir --state-dir -n --lines --json --timeout --bus -h --help'
    [list-units]='--runtime-dir --json --timeout --bus -h --help'
    [start]='--runtime-dir --timeout --bus -h --help'
    [stop]='--runtime-dir --timeout --bus -h --help'
    [restart]='--runtime-dir --timeout --bus -h --help'
    [reload]='--runtime-dir --timeout --bus -h --help'
    [reset-failed]='--runtime-dir --timeout --bus -h --help'
    [plan]='--runtime-dir --json --timeout --bus -h --help'
    [daemon-reload]='--runtime-dir --json --timeout --bus -h --help'
    [logs]='--state-dir -n --lines -f --follow --since --runtime-dir --timeout --bus -h --help'
    [exec]='--units --cgroup-root --runtime-dir --timeout --bus -h --help'
    [inspect]='--units --unit --runtime-dir --json --cgroup-root --timeout --bus -h --help'
    [security]='--json --threshold --suggest --state-dir --units --cgroup-root --runtime-dir --timeout --bus -h --help'
)
_supervisor_global_options='--bus --help -h --version'

# Options that take a value (the `<value>` in --help), so that value is not a positional argument.
_supervisor_valued_options=' --units --out --state-dir --runtime-dir --cgroup-root --admin-group --system-bus --metrics-listen --bus -n --lines --unit --log-max-size --log-files --verify-interval --since --timeout --threshold '

# How many UNIT arguments a subcommand takes (exec: the UNIT, then a command after --).
declare -gA _supervisor_unit_args=(
    [show]=1 [status]=1 [start]=1 [stop]=1 [restart]=1 [reload]=1 [reset-failed]=1
    [logs]=1 [exec]=1 [inspect]=1
)

# The defaults the CLI uses; tests point these elsewhere.
: "${_supervisor_default_units_dir:=/etc/supervisor/units}"
: "${_supervisor_default_runtime_dir:=/run/supervisor}"

# _supervisor_option_value OPTION: prints the value of OPTION given earlier on the line, as
# `--opt VALUE` or `--opt=VALUE`. Reads the caller's `words` and `cword` (see _supervisor).
_supervisor_option_value()
{
    local option=$1 i value=''
    for ((i = 1; i < cword; i++)); do
        if [[ ${words[i]} == "$option" ]]; then
            ((i + 1 < cword)) && value=${words[i + 1]}
        elif [[ ${words[i]} == "$option="* ]]; then
            value=${words[i]#*=}
        fi
    done
    # The shell will have removed simple quotes and expanded ~ by the time the command runs.
    value=${value#[\"\']}
    value=${value%[\"\']}
    [[ $value == \~ || $value == \~/* ]] && value=$HOME${value:1}
    printf '%s' "$value"
}

# Unit names from the *.toml files of the --units directory (or the default one).
_supervisor_file_units()
{
    local dir file
    dir=$(_supervisor_option_value --units)
    dir=${dir:-$_supervisor_default_units_dir}
    [[ -d $dir ]] || return 0
    # compgen -G rather than a glob: unaffected by the user's nullglob/failglob settings.
    while IFS= read -r file; do
        [[ -f $file ]] || continue
        file=${file##*/}
        printf '%s\n' "${file%.toml}"
    done < <(compgen -G "$dir/*.toml")
}

# Unit names the daemon reports, when it answers within 2 s: over the --bus on the line, else
# over its private socket (--runtime-dir on the line, else /run/supervisor) if that exists.
_supervisor_daemon_units()
{
    local cmd=$1 dir bus
    bus=$(_supervisor_option_value --bus)
    if [[ -n $bus ]]; then
        set -- --bus "$bus"
    else
        dir=$(_supervisor_option_value --runtime-dir)
        dir=${dir:-$_supervisor_default_runtime_dir}
        # Checking the socket first spares a .NET start-up per TAB when no daemon runs.
        [[ -S $dir/private ]] || return 0
        set -- --runtime-dir "$dir"
    fi
    timeout 2 "$cmd" list-units --json "$@" 2>/dev/null |
        grep -o '"name": *"[^"]*"' | sed 's/^"name": *"\(.*\)"$/\1/'
}

_supervisor_units()
{
    local cmd=$1 units=''
    # --units on the line names the unit files to use; otherwise the commands read the running
    # daemon's, as they do.
    [[ -n $(_supervisor_option_value --units) ]] && units=$(_supervisor_file_units)
    [[ -n $units ]] || units=$(_supervisor_daemon_units "$cmd")
    [[ -n $units ]] || units=$(_supervisor_file_units)
    printf '%s\n' "$units"
}

# _supervisor_add WORDLIST CUR: appends the words of WORDLIST (one per line) starting with CUR.
_supervisor_add()
{
    local word
    while IFS= read -r word; do
        [[ -n $word && $word == "$2"* ]] && COMPREPLY+=("$word")
    done <<<"$1"
}

_supervisor()
{
    # bash splits words at COMP_WORDBREAKS, so `--units=/x` arrives as `--units` `=` `/x` and
    # `--bus unix:path=/x` as `--bus` `unix` `:` `path` `=` `/x`; join them back (as bash-completion's
    # _get_comp_words_by_ref does). readline still replaces only the part after the last `=` or `:`,
    # so completions are for that part.
    local -a words=()
    local cword=0 i word join=0
    for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
        word=${COMP_WORDS[i]}
        if ((i > 1)) && [[ -n $word && -z ${word//[:=]/} ]]; then
            words[${#words[@]} - 1]+=$word
            join=1
        elif ((join)); then
            words[${#words[@]} - 1]+=$word
            join=0
        else
            words+=("$word")
        fi
        ((i == COMP_CWORD)) && cword=$((${#words[@]} - 1))
    done

    local cmd=${words[0]} cur=${words[cword]-} prev='' sub='' sub_index=0
    COMPREPLY=()
    if [[ $cur == -*=* ]]; then
        # `--opt=VALUE`: complete VALUE as the value of --opt.
        prev=${cur%%=*}
        cur=${cur#*=}
    elif ((cword > 0)); then
        prev=${words[cword - 1]}
    fi

    # The subcommand: the first word that is neither an option nor the value of --bus (the one
    # option that may come before it and takes a value).
    for ((i = 1; i < cword; i++)); do
        word=${words[i]}
        if [[ $word == --bus ]]; then
            ((i++))
        elif [[ $word != -* ]]; then
            sub=$word
            sub_index=$i
            break
        fi
    done

    if [[ -z $sub ]]; then
        if [[ $prev == --bus ]]; then
            mapfile -t COMPREPLY < <(compgen -W system -- "$cur")
        elif [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$_supervisor_global_options" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$_supervisor_commands" -- "$cur")
        fi
        return 0
    fi
    [[ -n ${_supervisor_options[$sub]+set} ]] || return 0

    # The value of an option.
    if [[ $_supervisor_valued_options == *" $prev "* && " ${_supervisor_options[$sub]} " == *" $prev "* ]]; then
        case $prev in
            --units | --state-dir | --runtime-dir | --out)
                compopt -o filenames 2>/dev/null
                mapfile -t COMPREPLY < <(compgen -d -- "$cur")
                ;;
            --bus)
                mapfile -t COMPREPLY < <(compgen -W system -- "$cur")
                ;;
            --system-bus)
                mapfile -t COMPREPLY < <(compgen -W 'auto off' -- "$cur")
                ;;
            --metrics-listen)
                mapfile -t COMPREPLY < <(compgen -W 'off' -- "$cur")
                ;;
            --timeout)
                mapfile -t COMPREPLY < <(compgen -W 'infinity' -- "$cur")
                ;;
            --admin-group)
                mapfile -t COMPREPLY < <(compgen -g -- "$cur")
                ;;
            --unit)
                _supervisor_add "$(_supervisor_units "$cmd")" "$cur"
                ;;
        esac
        return 0
    fi

    # Positional arguments already given (words after the subcommand that are neither options nor
    # their values); exec's command after `--` ends them.
    local positionals=0 after_dashdash=0
    for ((i = sub_index + 1; i < cword; i++)); do
        word=${words[i]}
        if ((after_dashdash)); then
            ((after_dashdash++))
        elif [[ $word == -- ]]; then
            after_dashdash=1
        elif [[ $word == -* ]]; then
            [[ $_supervisor_valued_options == *" $word "* ]] && ((i++))
        else
            ((positionals++))
        fi
    done

    if ((after_dashdash)); then
        # exec UNIT -- COMMAND ARGS...: a command, then files.
        if ((after_dashdash == 1)); then
            mapfile -t COMPREPLY < <(compgen -c -- "$cur" | awk '!seen[$0]++')
        else
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        fi
        return 0
    fi

    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "${_supervisor_options[$sub]}" -- "$cur")
        return 0
    fi

    if [[ $sub == check ]]; then
        # Unit files or directories of them.
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <({
            compgen -d -- "$cur"
            compgen -f -X '!*.toml' -- "$cur"
        } | awk '!seen[$0]++')
        return 0
    fi

    if [[ $sub == import ]]; then
        # systemd unit files or directories of them.
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <({
            compgen -d -- "$cur"
            compgen -f -X '!*.service' -- "$cur"
            compgen -f -X '!*.slice' -- "$cur"
        } | awk '!seen[$0]++')
        return 0
    fi

    if [[ $sub == security ]]; then
        # Any number of unit names, unit files or directories of them.
        compopt -o filenames 2>/dev/null
        _supervisor_add "$(_supervisor_units "$cmd")" "$cur"
        mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <({
            compgen -d -- "$cur"
            compgen -f -X '!*.toml' -- "$cur"
        } | awk '!seen[$0]++')
        return 0
    fi

    if ((positionals < ${_supervisor_unit_args[$sub]:-0})); then
        _supervisor_add "$(_supervisor_units "$cmd")" "$cur"
    fi
    return 0
}

complete -F _supervisor supervisor
