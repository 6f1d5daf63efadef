#!/usr/bin/env bash
# bench/run.sh — GET /api/v1/ping on entrepot against nginx serving the
# same bytes as a static file, in the same run, with wrk.
#
# nginx is the yardstick because it is the server people put in front of
# (or instead of) an application server: its static-file path is about the
# fastest HTTP/1.1 a machine can do, and measuring both in one run, round
# by round in alternating order, cancels out most of the noise of a shared
# machine. What we quote is the median of the per-round ratios
# entrepot/nginx (target: at least 0.90).
#
# Both servers listen on 127.0.0.1 only, on free ports, and everything this
# script starts (entrepot, a private nginx with its own config, wrk) and
# every temporary file is removed on exit, ctrl-C included. It reports
# numbers; it never fails on a time.
#
# Environment:
#   DURATION      seconds per measurement           (default 5)
#   ROUNDS        rounds per connection count       (default 8)
#   CONNECTIONS   wrk -c values, space separated    (default "64 16")
#   THREADS       wrk -t                            (default 2)
#   WARMUP        seconds of warm-up per server     (default 2)
#   BUILD         build directory of entrepot       (default build/default)
#   KEEP          if set, keep the temporary folder (logs, raw wrk output)
#   ENTREPOT_ARGS extra flags for entrepot serve, e.g. "--access-log=true"
#   PATHS         GET paths to compare, space separated, each optionally
#                 PATH@TARGET (the ratio to meet; default 0.90)
#                                                   (default /api/v1/ping)
#   DATA_DIR      entrepot's data directory (default: a new, empty one);
#                 bench/community.py points it at a demo community
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-8}
CONNECTIONS=${CONNECTIONS:-64 16}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2}
BIN=$ROOT/${BUILD:-build/default}/entrepot
LUA=$ROOT/bench/wrk/report.lua
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
PATH_LIST=()
TARGET_LIST=()
for item in ${PATHS:-/api/v1/ping}; do
    PATH_LIST+=("${item%@*}")
    [[ $item == *@* ]] && TARGET_LIST+=("${item##*@}") || TARGET_LIST+=(0.90)
done

die() {
    echo "bench: $*" >&2
    exit 1
}

for n in DURATION ROUNDS THREADS WARMUP; do
    [[ ${!n} =~ ^[0-9]+$ ]] || die "$n must be a whole number"
done
((ROUNDS >= 1 && DURATION >= 1)) || die "ROUNDS and DURATION must be at least 1"
for c in $CONNECTIONS; do
    if ! [[ $c =~ ^[0-9]+$ ]] || ((c < THREADS)); then
        die "CONNECTIONS: \"$c\" is not a number >= THREADS"
    fi
done
[[ -x $BIN ]] || die "$BIN is missing: run make first"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
[[ -x $NGINX ]] || die "nginx is not installed (apt-get install nginx-light)"
command -v curl >/dev/null || die "curl is not installed"

# ---------------------------------------------------------------- cleanup

TMP=$(mktemp -d /tmp/entrepot-bench.XXXXXX)
E_PID=
N_PID=

stop_pid() { # pid, seconds to wait before SIGKILL
    local pid=$1 i
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    trap - EXIT INT TERM
    stop_pid "$E_PID" 10
    stop_pid "$N_PID" 5 # TERM = fast shutdown; the workers go with the master
    if [[ -n ${KEEP:-} ]]; then
        echo "bench: logs kept in $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'echo; echo "bench: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers

free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 40000))
        if [[ -z $(ss -Hltn "sport = :$p" 2>/dev/null) ]]; then
            echo "$p"
            return
        fi
    done
    die "no free port found"
}

wait_http() { # url pid name
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        if ! kill -0 "$2" 2>/dev/null; then
            echo "bench: $3 exited during start-up" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "bench: $3 did not answer $1 within 10 s" >&2
    return 1
}

median() { # numbers on stdin -> median
    sort -g | awk '{v[NR] = $1} END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

field() { # key, WRKRESULT line -> value
    tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k {print $2}'
}

rss_kib() { # pid -> "VmRSS VmHWM" in KiB
    awk '/^VmRSS:/ {r = $2} /^VmHWM:/ {h = $2} END {print r + 0, h + 0}' "/proc/$1/status"
}

tree_rss_kib() { # pid -> sum of VmRSS of pid and its children
    local total p
    total=$(rss_kib "$1" | cut -d' ' -f1)
    for p in $(ps -o pid= --ppid "$1"); do
        total=$((total + $(rss_kib "$p" | cut -d' ' -f1)))
    done
    echo "$total"
}

cpu_ns() { # pids... -> CPU time used so far by them and their children, in ns
    local root p t total=0
    for root in "$@"; do
        for p in "$root" $(ps -o pid= --ppid "$root"); do
            for t in /proc/"$p"/task/*/schedstat; do
                [[ -r $t ]] && total=$((total + $(cut -d' ' -f1 "$t" 2>/dev/null || echo 0)))
            done
        done
    done
    echo "$total"
}

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

# ---------------------------------------------------------------- entrepot

maxc=1024
for c in $CONNECTIONS; do ((c + 64 > maxc)) && maxc=$((c + 64)); done

E_PORT=$(free_port)
DATA=${DATA_DIR:-$TMP/data}
mkdir -p "$DATA"
chmod 700 "$DATA"
# The per-address connection cap (default 64) would refuse part of wrk's
# connections, which all come from 127.0.0.1; lift it for the run.
read -r -a extra <<<"${ENTREPOT_ARGS:-}"
"$BIN" serve --listen "127.0.0.1:$E_PORT" --data-dir "$DATA" \
    --access-log=false --log-level warn \
    --max-connections "$maxc" --max-connections-per-ip "$maxc" "${extra[@]}" \
    >"$TMP/entrepot.log" 2>&1 &
E_PID=$!
wait_http "http://127.0.0.1:$E_PORT/healthz" "$E_PID" entrepot || {
    cat "$TMP/entrepot.log" >&2
    exit 1
}
read -r E_RSS0 _ < <(rss_kib "$E_PID")

# ---------------------------------------------------------------- nginx

# The same bytes entrepot returns, as static files (www/1, www/2, ...).
mkdir -p "$TMP/www" "$TMP/nginx-temp"
LOCATIONS=
for i in "${!PATH_LIST[@]}"; do
    curl -fsS -o "$TMP/www/$i" "http://127.0.0.1:$E_PORT${PATH_LIST[$i]}"
    chmod 644 "$TMP/www/$i"
    # The headers entrepot sends on an API answer, so both put about the
    # same bytes on the wire.
    LOCATIONS+="
        location = ${PATH_LIST[$i]} {
            alias $TMP/www/$i;
            add_header X-Content-Type-Options nosniff;
            add_header Referrer-Policy strict-origin-when-cross-origin;
            add_header X-Frame-Options DENY;
            add_header Content-Security-Policy \"default-src 'none'; frame-ancestors 'none'; base-uri 'none'\";
            add_header Cross-Origin-Opener-Policy same-origin;
            add_header X-Request-Id \$request_id;
            add_header Cache-Control no-store;
        }"
done
# Workers run as nobody when we are root: let them read the files.
chmod 755 "$TMP" "$TMP/www"

N_PORT=$(free_port)
while [[ $N_PORT == "$E_PORT" ]]; do N_PORT=$(free_port); done
cat >"$TMP/nginx.conf" <<EOF
# Private nginx for bench/run.sh: loopback only, nothing outside $TMP.
daemon off;
worker_processes auto;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events {
    worker_connections $((maxc * 2));
}
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    # nginx closes a keep-alive connection after 1000 requests by default;
    # entrepot does not, so neither does the yardstick.
    keepalive_requests 1000000;
    server_tokens off;
    types { }
    default_type application/json;
    client_body_temp_path $TMP/nginx-temp/body;
    proxy_temp_path $TMP/nginx-temp/proxy;
    fastcgi_temp_path $TMP/nginx-temp/fastcgi;
    uwsgi_temp_path $TMP/nginx-temp/uwsgi;
    scgi_temp_path $TMP/nginx-temp/scgi;
    server {
        listen 127.0.0.1:$N_PORT;
        root $TMP/www;
        etag off;
        max_ranges 0; # no Accept-Ranges header: entrepot sends none$LOCATIONS
    }
}
EOF
"$NGINX" -t -q -p "$TMP/" -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" 2>"$TMP/nginx-t.log" ||
    { cat "$TMP/nginx-t.log" >&2; die "nginx rejected its config"; }
"$NGINX" -p "$TMP/" -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" 2>"$TMP/nginx-stderr.log" &
N_PID=$!
wait_http "http://127.0.0.1:$N_PORT${PATH_LIST[0]}" "$N_PID" nginx || {
    cat "$TMP/nginx-error.log" "$TMP/nginx-stderr.log" >&2
    exit 1
}

# ---------------------------------------------------------------- runs

NOW=$(date -u '+%Y-%m-%d %H:%M UTC')
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "entrepot vs nginx: GET ${PATH_LIST[*]}, $NOW"
echo "machine: $(nproc) cores, $CPU, Linux $(uname -r)"
echo "versions: $("$NGINX" -v 2>&1 | sed 's/.*version: //'), $(wrk -v 2>&1 | awk 'NR==1 {print $1, $2}')," \
    "libmicrohttpd $(pkg-config --modversion libmicrohttpd 2>/dev/null || echo '?')"
echo "load: wrk -t$THREADS, -c {$CONNECTIONS}, $ROUNDS rounds x ${DURATION}s per server, alternating order," \
    "${WARMUP}s warm-up each"

alive() { # both servers still running?
    if ! kill -0 "$E_PID" 2>/dev/null; then
        wait "$E_PID" && rc=0 || rc=$?
        E_PID=
        tail -20 "$TMP/entrepot.log" >&2
        die "entrepot died during the run (exit status $rc)"
    fi
    if ! kill -0 "$N_PID" 2>/dev/null; then
        N_PID=
        tail -20 "$TMP/nginx-error.log" >&2
        die "nginx died during the run"
    fi
}

run_wrk() { # url connections seconds tag server-pid -> WRKRESULT line + cpu_ns=
    local out=$TMP/wrk.c$2.$4.out c0 c1
    c0=$(cpu_ns "$5")
    wrk -t"$THREADS" -c"$2" -d"$3"s --latency -s "$LUA" "$1" >"$out" 2>&1 || true
    c1=$(cpu_ns "$5")
    alive
    grep '^WRKRESULT' "$out" >/dev/null || {
        cat "$out" >&2
        die "wrk failed"
    }
    echo "$(grep '^WRKRESULT' "$out") server_cpu_ns=$((c1 - c0))"
}

sizes() { curl -fsS -o "$TMP/body.$2" -D "$TMP/head.$2" -w '%{size_header} %{size_download}\n' "$1"; }

# One measurement a path and connection count, paths in the outer order.
RUNS=()
for p in "${!PATH_LIST[@]}"; do
    for c in $CONNECTIONS; do RUNS+=("$p $c"); done
done

SUMMARY=()
declare -A ERR_E ERR_N
us() { awk -v a="$1" 'BEGIN {printf "%.2f", a / 1000}'; } # µs -> ms, or ns -> µs
for run in "${RUNS[@]}"; do
    read -r p c <<<"$run"
    if [[ ${P:-} != "${PATH_LIST[$p]}" ]]; then
        P=${PATH_LIST[$p]}
        TARGET=${TARGET_LIST[$p]}
        E_URL=http://127.0.0.1:$E_PORT$P
        N_URL=http://127.0.0.1:$N_PORT$P
        read -r E_HB E_BB < <(sizes "$E_URL" e)
        read -r N_HB N_BB < <(sizes "$N_URL" n)
        cmp -s "$TMP/body.e" "$TMP/body.n" || die "nginx does not serve the same body as entrepot"
        E_NH=$(($(grep -c ':' "$TMP/head.e")))
        N_NH=$(($(grep -c ':' "$TMP/head.n")))
        echo "GET $P"
        echo "response: entrepot $E_HB B headers ($E_NH fields) + $E_BB B body;" \
            "nginx $N_HB B headers ($N_NH fields) + $N_BB B body"
        echo
        LOAD=-c
        [[ $P != /api/v1/ping ]] && LOAD="$P -c"
    fi
    if ((WARMUP > 0)); then
        run_wrk "$E_URL" "$c" "$WARMUP" warm.entrepot "$E_PID" >/dev/null
        run_wrk "$N_URL" "$c" "$WARMUP" warm.nginx "$N_PID" >/dev/null
    fi
    echo "-c$c   (rates in requests/s; latency p50/p99 in ms; cpu = server CPU µs per request)"
    printf '  %-6s %9s %9s %6s  %13s %13s  %6s %6s %6s\n' round entrepot nginx ratio \
        "entrepot lat" "nginx lat" "e cpu" "n cpu" "ratio"
    rm -f "$TMP"/col.*
    for ((r = 1; r <= ROUNDS; r++)); do
        # Alternate who goes first so a drift in the machine's load does
        # not always favour the same server.
        if ((r % 2)); then
            e=$(run_wrk "$E_URL" "$c" "$DURATION" "r$r.entrepot" "$E_PID")
            n=$(run_wrk "$N_URL" "$c" "$DURATION" "r$r.nginx" "$N_PID")
        else
            n=$(run_wrk "$N_URL" "$c" "$DURATION" "r$r.nginx" "$N_PID")
            e=$(run_wrk "$E_URL" "$c" "$DURATION" "r$r.entrepot" "$E_PID")
        fi
        for k in connect read write status timeout; do
            ERR_E[$k]=$((${ERR_E[$k]:-0} + $(field "err_$k" "$e")))
            ERR_N[$k]=$((${ERR_N[$k]:-0} + $(field "err_$k" "$n")))
        done
        # One row of numbers per round; each column is also kept in a file
        # for the medians.
        row=$(awk -v er="$(field rps "$e")" -v nr="$(field rps "$n")" \
            -v ep50="$(field lat_p50_us "$e")" -v ep99="$(field lat_p99_us "$e")" \
            -v np50="$(field lat_p50_us "$n")" -v np99="$(field lat_p99_us "$n")" \
            -v ecpu="$(field server_cpu_ns "$e")" -v ereq="$(field requests "$e")" \
            -v ncpu="$(field server_cpu_ns "$n")" -v nreq="$(field requests "$n")" \
            'BEGIN {
                ec = ecpu / ereq / 1000; nc = ncpu / nreq / 1000
                printf "%.0f %.0f %.3f %.2f %.2f %.2f %.2f %.2f %.2f %.3f\n",
                    er, nr, er / nr, ep50 / 1000, ep99 / 1000, np50 / 1000, np99 / 1000,
                    ec, nc, nc / ec }')
        read -r -a v <<<"$row"
        for i in "${!v[@]}"; do echo "${v[$i]}" >>"$TMP/col.$i"; done
        printf '  %-6s %9s %9s %6s  %13s %13s  %6s %6s %6s\n' "$r" "${v[0]}" "${v[1]}" "${v[2]}" \
            "${v[3]}/${v[4]}" "${v[5]}/${v[6]}" "${v[7]}" "${v[8]}" "${v[9]}"
    done
    m=()
    for i in $(seq 0 9); do m[i]=$(median <"$TMP/col.$i"); done
    printf '  %-6s %9.0f %9.0f %6.3f  %13s %13s  %6.2f %6.2f %6.3f\n' median "${m[0]}" "${m[1]}" \
        "${m[2]}" "$(printf '%.2f/%.2f' "${m[3]}" "${m[4]}")" "$(printf '%.2f/%.2f' "${m[5]}" "${m[6]}")" \
        "${m[7]}" "${m[8]}" "${m[9]}"
    verdict=$(awk -v r="${m[2]}" -v t="$TARGET" 'BEGIN {print (r >= t) ? "meets" : "is BELOW"}')
    printf '  entrepot/nginx rate = %.3f (median of per-round ratios): %s the target of %s\n' \
        "${m[2]}" "$verdict" "$TARGET"
    printf '  nginx/entrepot CPU per request = %.3f (above 1: entrepot spends less CPU on a request)\n' \
        "${m[9]}"
    echo
    SUMMARY+=("$(printf '| %s | %s | %.0f | %.0f | **%.3f** | %.2f / %.2f | %.2f / %.2f | %.2f | %.2f |' \
        "${NOW%% *}" "$LOAD$c" "${m[@]:0:9}")")
done

read -r E_RSS E_HWM < <(rss_kib "$E_PID")
N_RSS=$(tree_rss_kib "$N_PID")
echo "memory: entrepot RSS $(mib "$E_RSS0") MiB idle at start, $(mib "$E_RSS") MiB after the run" \
    "(peak $(mib "$E_HWM") MiB); nginx master+workers $(mib "$N_RSS") MiB after the run"
errs() { # name of an associative array -> "read 3, status 1" or "none"
    local -n a=$1
    local k out=
    for k in connect read write status timeout; do
        ((${a[$k]:-0} > 0)) && out+="${out:+, }$k ${a[$k]}"
    done
    echo "${out:-none}"
}
echo "wrk errors (socket connect/read/write/timeout, status = non-2xx):" \
    "entrepot $(errs ERR_E); nginx $(errs ERR_N)"
# Connections entrepot closed on its own count as wrk read errors; its
# metrics say why (e.g. the slow-client reaper).
cut=$(curl -fsS "http://127.0.0.1:$E_PORT/metrics" 2>/dev/null |
    awk '/^entrepot_http_slow_clients_cut_total/ {print $2}')
[[ -n $cut ]] && echo "entrepot_http_slow_clients_cut_total after the run: $cut"
echo
echo "markdown rows: date | load | entrepot req/s | nginx req/s | ratio | entrepot p50 / p99 ms |" \
    "nginx p50 / p99 ms | entrepot CPU µs/req | nginx CPU µs/req"
printf '%s\n' "${SUMMARY[@]}"
