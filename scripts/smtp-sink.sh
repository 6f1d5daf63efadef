#!/usr/bin/env bash
# A throwaway SMTP server for tests: Postfix's smtp-sink on 127.0.0.1,
# keeping every message it receives as a file.
#
#   scripts/smtp-sink.sh start DIR [SMTP-SINK OPTIONS...]   start, print the port
#   scripts/smtp-sink.sh port DIR                           print the port again
#   scripts/smtp-sink.sh stop DIR                           stop the server
#
# The port is the only line on stdout. Each message lands in DIR/mail/ as
# one file (smtp-sink's dump format: its own X-Client-Addr, X-Mail-Args,
# X-Rcpt-Args and Received lines, then the message as received with LF line
# ends, dot-stuffing undone). Extra options go to smtp-sink, for example
# `-f RCPT` to refuse recipients with a 5xx reply or `-r RCPT` with a 4xx
# one (see `man smtp-sink`). smtp-sink's output goes to DIR/sink.log.
#
# Run as root, smtp-sink must drop to another user (-u nobody), who needs to
# write the mail directory: DIR/mail is then chown'ed to nobody, or, when
# nobody cannot reach DIR (a parent closed to others, e.g. root's mktemp -d),
# DIR/mail is a symbolic link to a private /tmp/entrepot-smtp.* directory,
# removed by stop. stop leaves DIR itself to its owner.
set -euo pipefail

usage() {
    echo "usage: $0 start DIR [SMTP-SINK OPTIONS...] | port DIR | stop DIR" >&2
    exit 2
}
[ $# -ge 2 ] || usage
cmd=$1
dir=$2
shift 2

sink=${SMTP_SINK:-/usr/sbin/smtp-sink}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# True while pid is a live smtp-sink: not a zombie (an orphan waits for
# init to reap it, which some container inits do late) and not another
# program that got the number later.
alive() {
    local st
    st=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q smtp-sink
}

running() {
    [ -f "$dir/pid" ] && alive "$(cat "$dir/pid")"
}

start() {
    [ -x "$sink" ] || {
        echo "smtp-sink: $sink not found (apt install postfix, or scripts/install-deps.sh)" >&2
        exit 1
    }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if running && [ -f "$dir/port" ]; then
        cat "$dir/port"
        return
    fi
    local user=()
    if [ "$(id -u)" -eq 0 ]; then
        user=(-u nobody)
        if [ ! -e "$dir/mail" ]; then
            mkdir -p "$dir/mail"
            chown nobody "$dir/mail"
            if ! runuser -u nobody -- test -w "$dir/mail" 2>/dev/null; then
                rmdir "$dir/mail"
                local alt
                alt=$(mktemp -d /tmp/entrepot-smtp.XXXXXX)
                chown nobody "$alt"
                chmod 0755 "$alt"
                ln -s "$alt" "$dir/mail"
            fi
        fi
    else
        mkdir -p "$dir/mail"
    fi
    local mail
    mail=$(readlink -f "$dir/mail")
    # Pick a free port; if another process takes it first, try another.
    local tries=0 port pid i
    while :; do
        tries=$((tries + 1))
        if [ $tries -gt 10 ]; then
            echo "smtp-sink: could not start; see $dir/sink.log" >&2
            tail -n 5 "$dir/sink.log" >&2 || true
            exit 1
        fi
        port=$((20000 + RANDOM % 30000))
        port_in_use "$port" && continue
        # -d: one file per message; %s (seconds) keeps names apart from
        # earlier runs, smtp-sink appends a random suffix to each.
        "$sink" "${user[@]}" -d "$mail/%s." "$@" "127.0.0.1:$port" 64 >>"$dir/sink.log" 2>&1 &
        pid=$!
        for ((i = 0; i < 100; i++)); do
            port_in_use "$port" && break
            alive "$pid" || break
            sleep 0.05
        done
        if alive "$pid" && port_in_use "$port"; then
            break
        fi
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    echo "$pid" >"$dir/pid"
    echo "$port" >"$dir/port"
    echo "$port"
}

stop() {
    [ -d "$dir" ] || return 0
    if [ -f "$dir/pid" ]; then
        local pid i
        pid=$(cat "$dir/pid")
        if alive "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            for ((i = 0; i < 100; i++)); do
                alive "$pid" || break
                sleep 0.05
            done
            if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        fi
        rm -f "$dir/pid" "$dir/port"
    fi
    if [ -L "$dir/mail" ]; then
        local alt
        alt=$(readlink "$dir/mail")
        case $alt in
        /tmp/entrepot-smtp.*) rm -rf "$alt" ;;
        esac
        rm -f "$dir/mail"
    fi
}

case $cmd in
start) start "$@" ;;
stop) stop ;;
port)
    running && [ -f "$dir/port" ] || { echo "smtp-sink: not running in $dir" >&2; exit 1; }
    cat "$dir/port"
    ;;
*) usage ;;
esac
