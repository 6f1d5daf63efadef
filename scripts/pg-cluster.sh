#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests.
#
#   scripts/pg-cluster.sh start DIR   create + start a cluster in DIR, create
#                                     database `entrepot`, print its URL
#   scripts/pg-cluster.sh url DIR     print the URL again
#   scripts/pg-cluster.sh stop DIR    stop the server (fast) and remove DIR
#   scripts/pg-cluster.sh halt DIR [fast|immediate]
#                                     stop the server but keep DIR (immediate:
#                                     as if it crashed; it recovers on resume)
#   scripts/pg-cluster.sh resume DIR  start a halted server on the same port
#
# The URL (postgres://postgres@127.0.0.1:PORT/entrepot) is the only line on
# stdout; progress and server output go to stderr and DIR/server.log. The
# server listens on 127.0.0.1 at a free port and on a Unix socket inside DIR,
# trusts local connections (tests only!) and keeps fsync on, so durability
# tests mean something. Run as root, the cluster belongs to the `postgres`
# OS user: DIR is chown'ed to it, or, when a parent of DIR is closed to that
# user, the cluster goes to a private /tmp/entrepot-pg.* directory that DIR
# points to (removed by stop as well).
set -euo pipefail

usage() {
    echo "usage: $0 start|stop|url|halt|resume DIR [fast|immediate]" >&2
    exit 2
}
[ $# -eq 2 ] || { [ $# -eq 3 ] && [ "$1" = halt ]; } || usage
cmd=$1
dir=$2
mode=${3:-fast}

pgbin=${PGBIN:-}
if [ -z "$pgbin" ]; then
    for d in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
        if [ -x "$d/pg_ctl" ]; then
            pgbin=$d
            break
        fi
    done
fi
[ -n "$pgbin" ] || { echo "pg-cluster: PostgreSQL server binaries not found (apt install postgresql)" >&2; exit 1; }

# Runs a server binary as the cluster's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Where the cluster lives: DIR itself, or (when DIR sits under a directory
# the postgres user cannot enter, e.g. root's mktemp -d) a private directory
# under /tmp whose name DIR/cluster records.
home() {
    if [ -f "$dir/cluster" ]; then cat "$dir/cluster"; else echo "$dir"; fi
}

url() {
    echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/entrepot"
}

server_start() { # home port
    as_owner "$pgbin/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -c port=$2 -c unix_socket_directories='$1' -c fsync=on -c max_connections=100" \
        start >&2
}

start() {
    if [ -f "$dir/port" ] && as_owner "$pgbin/pg_ctl" -D "$(home)/data" status >/dev/null 2>&1; then
        url
        return
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    chmod 700 "$dir"
    if [ "$(id -u)" -eq 0 ] && [ ! -f "$dir/cluster" ]; then
        chown postgres:postgres "$dir"
        if ! runuser -u postgres -- test -w "$dir"; then
            local alt
            alt=$(mktemp -d /tmp/entrepot-pg.XXXXXX)
            chown postgres:postgres "$alt"
            echo "$alt" >"$dir/cluster"
        fi
    fi
    local h
    h=$(home)
    if [ ! -f "$h/data/PG_VERSION" ]; then
        # --no-sync only skips flushing initdb's own files: a throwaway
        # cluster need not survive an OS crash during creation. The server
        # itself runs with fsync=on.
        as_owner "$pgbin/initdb" -D "$h/data" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
            --auth=trust --no-sync --no-instructions >"$dir/initdb.log" 2>&1 || {
            cat "$dir/initdb.log" >&2
            exit 1
        }
    fi
    # Pick a free port; if another process takes it first, try another.
    local tries=0 port
    while :; do
        tries=$((tries + 1))
        port=$((20000 + RANDOM % 30000))
        port_in_use "$port" && continue
        if server_start "$h" "$port"; then
            break
        fi
        if [ $tries -ge 5 ]; then
            echo "pg-cluster: server did not start; see $h/server.log" >&2
            tail -n 20 "$h/server.log" >&2 || true
            exit 1
        fi
    done
    echo "$port" >"$dir/port"
    local psql=(as_owner "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres)
    if [ -z "$("${psql[@]}" -tA -c "SELECT 1 FROM pg_database WHERE datname = 'entrepot'")" ]; then
        "${psql[@]}" -c "CREATE DATABASE entrepot" >&2
    fi
    url
}

stop() {
    [ -d "$dir" ] || return 0
    local h
    h=$(home)
    if [ -f "$h/data/postmaster.pid" ]; then
        as_owner "$pgbin/pg_ctl" -D "$h/data" -m fast -w -t 30 stop >&2 || true
        # Never leave a server behind, even if the fast stop failed.
        if [ -f "$h/data/postmaster.pid" ]; then
            pid=$(head -n 1 "$h/data/postmaster.pid")
            if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
                kill -QUIT "$pid" 2>/dev/null || true
                for _ in $(seq 50); do
                    kill -0 "$pid" 2>/dev/null || break
                    sleep 0.1
                done
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
    fi
    [ "$h" = "$dir" ] || rm -rf "$h"
    rm -rf "$dir"
}

halt() {
    case $mode in fast | immediate) ;; *) usage ;; esac
    as_owner "$pgbin/pg_ctl" -D "$(home)/data" -m "$mode" -w -t 30 stop >&2
}

resume() {
    [ -f "$dir/port" ] || { echo "pg-cluster: no cluster in $dir" >&2; exit 1; }
    server_start "$(home)" "$(cat "$dir/port")"
}

case $cmd in
start) start ;;
stop) stop ;;
halt) halt ;;
resume) resume ;;
url)
    [ -f "$dir/port" ] || { echo "pg-cluster: no cluster in $dir" >&2; exit 1; }
    url
    ;;
*) usage ;;
esac
