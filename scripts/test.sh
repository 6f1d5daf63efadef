#!/usr/bin/env bash
# Runs the test tiers and prints one closing summary line.
#
#   scripts/test.sh [unit] [api-sqlite] [api-postgres] [e2e] [fuzz] [crash]    (default: all, in that order)
#
# Every tier runs even if an earlier one failed. Each tier's passes and
# failures are counted from its own summary lines (cmocka, tests/api/run.py,
# Playwright); a tier that ends without a summary counts as 1 failure. The
# last line is always `tests: P passed, F failed`; the exit status is non-zero
# when F > 0. BUILD (default build/default) is where the binaries are; tier
# logs are kept in $BUILD/test-logs/. The fuzz tier runs every libFuzzer
# target FUZZ_SECONDS (default 5) seconds, each one pass or failure
# (scripts/fuzz.sh, built into build/fuzz). The crash tier (tests/crash/run.py:
# kills, injected faults, database loss) also needs the fault-injection build
# FAULT_BUILD (default $BUILD-fault, `make FAULT_INJECTION=1`); CRASH_LONG=1
# makes it the long run.
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build/default}
BIN=$BUILD/entrepot
LOGS=$BUILD/test-logs
mkdir -p "$LOGS"

ALL_TIERS=(unit api-sqlite api-postgres e2e fuzz crash)
if (($# == 0)); then
    TIERS=("${ALL_TIERS[@]}")
else
    TIERS=("$@")
fi
for tier in "${TIERS[@]}"; do
    case $tier in
    unit | api-sqlite | api-postgres | e2e | fuzz | crash) ;;
    *)
        echo "test.sh: unknown tier '$tier' (known: ${ALL_TIERS[*]})" >&2
        exit 2
        ;;
    esac
done

declare -A PASS FAIL NOTE
E2E_PID=""
E2E_DIR=""

cleanup() {
    if [[ -n $E2E_PID ]]; then
        kill -TERM "$E2E_PID" 2>/dev/null
        wait "$E2E_PID" 2>/dev/null
        E2E_PID=""
    fi
    if [[ -n $E2E_DIR ]]; then
        rm -rf "$E2E_DIR"
        E2E_DIR=""
    fi
}
trap cleanup EXIT
trap 'cleanup; echo "test.sh: interrupted" >&2; exit 130' INT TERM

# Sums the first capture group of an extended regex over a log.
sum_matches() { # regex file
    local total=0 n
    while read -r n; do
        total=$((total + n))
    done < <(sed -nE "s/$1/\\1/p" "$2")
    echo "$total"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------- tiers

tier_unit() {
    local log=$LOGS/unit.log pass=0 fail=0 found=0 rc p f t src pgdir
    : >"$log"
    # The database tests run on both engines: give them a throwaway cluster.
    pgdir=$(mktemp -d /tmp/entrepot-unit-pg.XXXXXX)
    if ENTREPOT_TEST_PG_URL=$(scripts/pg-cluster.sh start "$pgdir/c" 2>>"$log"); then
        export ENTREPOT_TEST_PG_URL
    else
        echo "test.sh: could not start PostgreSQL for the unit tier" | tee -a "$log"
        fail=$((fail + 1))
    fi
    for src in tests/unit/test_*.c; do
        t=$BUILD/tests/$(basename "$src" .c)
        if [[ ! -x $t ]]; then
            echo "test.sh: $t was not built" | tee -a "$log"
            fail=$((fail + 1))
            continue
        fi
        found=1
        echo "== $t" | tee -a "$log"
        "$t" 2>&1 | tee "$log.one"
        rc=${PIPESTATUS[0]}
        cat "$log.one" >>"$log"
        # cmocka: "[  PASSED  ] 5 test(s)." and "[  FAILED  ] 1 test(s), listed below:"
        p=$(sum_matches '^\[  PASSED  \] ([0-9]+) test\(s\).*' "$log.one")
        f=$(sum_matches '^\[  FAILED  \] ([0-9]+) test\(s\).*' "$log.one")
        if ((rc != 0 && f == 0)); then
            echo "test.sh: $t exited $rc without reporting a failed test (crash?)" | tee -a "$log"
            f=1
        elif ((p + f == 0)); then
            echo "test.sh: $t printed no cmocka summary" | tee -a "$log"
            f=1
        fi
        pass=$((pass + p))
        fail=$((fail + f))
    done
    rm -f "$log.one"
    scripts/pg-cluster.sh stop "$pgdir/c" >/dev/null 2>&1
    rm -rf "$pgdir"
    unset ENTREPOT_TEST_PG_URL
    if ((!found)); then
        echo "test.sh: no unit test binaries in $BUILD/tests (run make first)" | tee -a "$log"
        NOTE[unit]="no binaries"
        fail=1
    fi
    PASS[unit]=$pass
    FAIL[unit]=$fail
}

tier_api() { # sqlite|postgres
    local backend=$1 tier=api-$1 log=$LOGS/api-$1.log rc line
    rm -rf "$LOGS/api-$backend-servers"
    python3 tests/api/run.py --backend "$backend" --bin "$BIN" --log-dir "$LOGS/api-$backend-servers" \
        2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -E "^api\\($backend\\): [0-9]+ passed, [0-9]+ failed$" "$log" | tail -n 1)
    if [[ -z $line ]]; then
        PASS[$tier]=0
        FAIL[$tier]=1
        NOTE[$tier]="no summary (exit $rc)"
        return
    fi
    PASS[$tier]=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
    FAIL[$tier]=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")
    if ((rc != 0 && FAIL[$tier] == 0)); then
        FAIL[$tier]=1
        NOTE[$tier]="exit $rc"
    fi
}

tier_e2e() {
    local log=$LOGS/e2e.log rc port url i p f fl
    : >"$log"
    if [[ ! -f web/dist/index.html ]]; then
        echo "test.sh: web/dist is not built (make web)" | tee -a "$log"
        PASS[e2e]=0 FAIL[e2e]=1 NOTE[e2e]="no web/dist"
        return
    fi
    E2E_DIR=$(mktemp -d -t entrepot-e2e-XXXXXX)
    port=$(free_port)
    url=http://127.0.0.1:$port
    "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$E2E_DIR" \
        --database "sqlite:$E2E_DIR/entrepot.db" --static-dir web/dist \
        --test-mode >"$LOGS/e2e-server.log" 2>&1 & # test mode: the journeys read codes from the outbox
    E2E_PID=$!
    for ((i = 0; i < 200; i++)); do
        if python3 - "$url/healthz" <<'EOF' 2>/dev/null; then break; fi
import sys, urllib.request
sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=1).status == 200 else 1)
EOF
        if ! kill -0 "$E2E_PID" 2>/dev/null; then break; fi
        sleep 0.1
    done
    if ! kill -0 "$E2E_PID" 2>/dev/null; then
        echo "test.sh: the e2e server did not start; log tail:" | tee -a "$log"
        tail -n 20 "$LOGS/e2e-server.log" | tee -a "$log"
        E2E_PID=""
        PASS[e2e]=0 FAIL[e2e]=1 NOTE[e2e]="server did not start"
        cleanup
        return
    fi
    # E2E_BIN/E2E_DATA_DIR/E2E_DATABASE: journeys that need staff run `entrepot user create-admin`.
    (cd web && npm run check:i18n && E2E_BASE_URL=$url E2E_BIN=$(cd .. && realpath "$BIN") \
        E2E_DATA_DIR=$E2E_DIR E2E_DATABASE="sqlite:$E2E_DIR/entrepot.db" npx playwright test) 2>&1 |
        tee -a "$log"
    rc=${PIPESTATUS[0]}
    cleanup
    # Playwright's list/line reporters end with "  N passed (3.1s)", "  N failed", "  N flaky".
    p=$(sum_matches '^[[:space:]]*([0-9]+) passed.*' "$log")
    f=$(sum_matches '^[[:space:]]*([0-9]+) failed.*' "$log")
    fl=$(sum_matches '^[[:space:]]*([0-9]+) flaky.*' "$log")
    if ((p + f + fl == 0)); then
        PASS[e2e]=0 FAIL[e2e]=1 NOTE[e2e]="no summary (exit $rc)"
        return
    fi
    PASS[e2e]=$((p + fl))
    FAIL[e2e]=$f
    ((fl > 0)) && NOTE[e2e]="$fl flaky"
    if ((rc != 0 && f == 0)); then
        FAIL[e2e]=1
        NOTE[e2e]="exit $rc"
    fi
}

# Sets PASS, FAIL and NOTE of a tier from the last "NAME: P passed, F
# failed" line of its log and the exit status of what wrote it.
tier_summary() { # tier name log rc
    local line
    line=$(grep -E "^$2: [0-9]+ passed, [0-9]+ failed\$" "$3" | tail -n 1)
    if [[ -z $line ]]; then
        PASS[$1]=0 FAIL[$1]=1 NOTE[$1]="no summary (exit $4)"
        return
    fi
    PASS[$1]=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
    FAIL[$1]=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")
    if (($4 != 0 && FAIL[$1] == 0)); then
        FAIL[$1]=1 NOTE[$1]="exit $4"
    fi
}

tier_fuzz() {
    scripts/fuzz.sh "${FUZZ_SECONDS:-5}" 2>&1 | tee "$LOGS/fuzz.log"
    tier_summary fuzz fuzz "$LOGS/fuzz.log" "${PIPESTATUS[0]}"
}

tier_crash() {
    local log=$LOGS/crash.log rc line
    python3 tests/crash/run.py --bin "$BIN" --fault-bin "${FAULT_BUILD:-$BUILD-fault}/entrepot" \
        2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^crash: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [[ -z $line ]]; then
        PASS[crash]=0 FAIL[crash]=1 NOTE[crash]="no summary (exit $rc)"
        return
    fi
    PASS[crash]=$(sed -E 's/^crash: ([0-9]+) passed.*/\1/' <<<"$line")
    FAIL[crash]=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")
    NOTE[crash]=$(grep -E '^kills survived' "$log" | tail -n 1)
    if ((rc != 0 && FAIL[crash] == 0)); then
        FAIL[crash]=1 NOTE[crash]="exit $rc"
    fi
}

# ---------------------------------------------------------------- run

for tier in "${TIERS[@]}"; do
    echo "=================================================================== $tier"
    case $tier in
    unit) tier_unit ;;
    api-sqlite) tier_api sqlite ;;
    api-postgres) tier_api postgres ;;
    e2e) tier_e2e ;;
    fuzz) tier_fuzz ;;
    crash) tier_crash ;;
    esac
done

total_pass=0
total_fail=0
echo
printf '%-14s %8s %8s  %s\n' tier passed failed note
for tier in "${TIERS[@]}"; do
    printf '%-14s %8d %8d  %s\n' "$tier" "${PASS[$tier]}" "${FAIL[$tier]}" "${NOTE[$tier]:-}"
    total_pass=$((total_pass + PASS[$tier]))
    total_fail=$((total_fail + FAIL[$tier]))
done
echo "tests: $total_pass passed, $total_fail failed"
((total_fail == 0))
