#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz and runs each for a bounded time.
#
#   scripts/fuzz.sh SECONDS [TARGET...]     (make fuzz-smoke = 20 s, make fuzz = 600 s)
#
# Each target runs with -max_total_time=SECONDS -timeout=5 -rss_limit_mb=2048
# on a working corpus build/fuzz/corpus-<target>, seeded from the committed
# tests/fuzz/corpus/<target> and tests/fuzz/regressions/<target> (so the
# committed seeds never change and every past crash is replayed first). The
# working corpus is kept between runs, so longer runs build on earlier ones.
# A target that finds a crash, leak, timeout or broken property fails; what
# it found is saved under build/fuzz/crashes/<target>/ with the log next to
# it. One line per target, then "fuzz: N passed, M failed"; exit status 1
# when anything failed. build/fuzz/results.tsv keeps the figures for
# docs/reliability.md.
#
# Environment: FUZZ_CC (default clang), FUZZ_PARALLEL (targets run at once,
# default 1), FUZZ_SKIP_BUILD=1 to reuse the binaries.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

secs=${1:-}
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
    echo "usage: scripts/fuzz.sh SECONDS [TARGET...]" >&2
    exit 2
fi
shift
out=build/fuzz
parallel=${FUZZ_PARALLEL:-1}
export FUZZ_CC=${FUZZ_CC:-clang}

if ! command -v "$FUZZ_CC" >/dev/null; then
    echo "fuzz: $FUZZ_CC not found (apt-get install clang libclang-rt-14-dev)" >&2
    exit 2
fi

mkdir -p "$out/crashes"
# Two runs sharing build/fuzz would relink binaries under each other and
# overwrite each other's logs and figures: one at a time.
exec 9>"$out/.lock"
if ! flock -n 9; then
    echo "fuzz: another fuzz run is using $out; waiting for it"
    flock 9
fi
if [ "${FUZZ_SKIP_BUILD:-0}" != 1 ]; then
    echo "fuzz: building with $FUZZ_CC (ASan + UBSan + libFuzzer) into $out"
    # The main Makefile's own rules build the library (see tests/fuzz/fuzz.mk);
    # CC/CFLAGS/SANITIZE go through the environment so its += still applies.
    if ! CC=$FUZZ_CC SANITIZE=address,undefined WERROR=0 CFLAGS='-O1 -g -fsanitize=fuzzer-no-link' \
        make -s -f Makefile -f tests/fuzz/fuzz.mk BUILD="$out" -j"$(nproc)" fuzz-build \
        >"$out/build.log" 2>&1; then
        cat "$out/build.log" >&2
        echo "fuzz: build failed"
        echo "fuzz: 0 passed, 1 failed"
        exit 1
    fi
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for f in tests/fuzz/fuzz_*.c; do
        t=${f#tests/fuzz/fuzz_}
        targets+=("${t%.c}")
    done
fi

# What libFuzzer saved in a crash directory (crash-, leak-, timeout-, oom-).
artifacts() {
    find "$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
        -o -name 'oom-*' \) -printf '%T@ %p\n' | sort -n | cut -d' ' -f2-
}

# Runs one target; writes build/fuzz/status-<t> as
# "pass|fail EXECS CPU_S [rc=N] [ARTIFACT]".
run_target() {
    local t=$1 bin=$out/fuzz_$1 corpus=$out/corpus-$1 crashes=$out/crashes/$1
    local log=$out/log-$1.txt
    if [ ! -x "$bin" ]; then
        echo "fail 0 0 no-such-target" >"$out/status-$t"
        return
    fi
    mkdir -p "$corpus" "$crashes"
    for d in tests/fuzz/corpus/$t tests/fuzz/regressions/$t; do
        [ -d "$d" ] && cp -n "$d"/* "$corpus"/ 2>/dev/null
    done
    local dict=() dname
    case $t in
    json_prescan | validate_body) dname=json ;;
    utf8 | json_escape) dname=utf8 ;;
    validate_query) dname=query ;;
    config_file) dname=config ;;
    cidr_xff) dname=xff ;;
    accept_language) dname=lang ;;
    path_match) dname=path ;;
    *) dname=$t ;;
    esac
    [ -f "tests/fuzz/dict/$dname.dict" ] && dict=(-dict="tests/fuzz/dict/$dname.dict")
    local before
    before=$(artifacts "$crashes" | wc -l)
    local tf
    tf=$(mktemp)
    # bash's time keyword reports the child's user and system CPU seconds.
    (
        TIMEFORMAT='%U %S'
        time "$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$crashes/" "${dict[@]}" "$corpus" \
            >"$log" 2>&1
    ) 2>"$tf"
    local rc=$?
    local cpu execs
    cpu=$(awk 'NF == 2 { printf "%.1f", $1 + $2 }' "$tf")
    rm -f "$tf"
    execs=$(awk '/stat::number_of_executed_units/ { print $NF }' "$log" |
        tail -1)
    local after newest
    after=$(artifacts "$crashes" | wc -l)
    newest=$(artifacts "$crashes" | tail -1)
    if [ $rc -eq 0 ] && [ "$after" -eq "$before" ]; then
        echo "pass ${execs:-0} ${cpu:-0}" >"$out/status-$t"
    else
        cp "$log" "$crashes/log-$(date +%Y%m%d-%H%M%S).txt"
        [ "$after" -gt "$before" ] || newest=
        echo "fail ${execs:-0} ${cpu:-0} rc=$rc $newest" >"$out/status-$t"
    fi
}

echo "fuzz: ${#targets[@]} targets, ${secs}s each, $parallel at a time"
running=0
for t in "${targets[@]}"; do
    rm -f "$out/status-$t"
    run_target "$t" &
    running=$((running + 1))
    if [ $running -ge "$parallel" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

passed=0
failed=0
printf 'target\tresult\texecs\tcpu_s\n' >"$out/results.tsv"
for t in "${targets[@]}"; do
    read -r res execs cpu why artifact <"$out/status-$t" 2>/dev/null ||
        { res=fail execs=0 cpu=0 why=no-status artifact=; }
    printf '%s\t%s\t%s\t%s\n' "$t" "$res" "$execs" "$cpu" >>"$out/results.tsv"
    if [ "$res" = pass ]; then
        passed=$((passed + 1))
        printf 'fuzz: %-18s ok    %12s execs %8s s CPU\n' "$t" "$execs" "$cpu"
    else
        failed=$((failed + 1))
        printf 'fuzz: %-18s FAIL  %12s execs %8s s CPU  %s; log in %s\n' "$t" "$execs" "$cpu" \
            "${why:-}" "$out/crashes/$t/"
        grep -a -m3 -E '^(fuzz: property failed|==[0-9]+==ERROR|SUMMARY)' "$out/log-$t.txt" 2>/dev/null |
            sed 's/^/      /'
        if [ -n "${artifact:-}" ]; then
            echo "      reproduce: $out/fuzz_$t $artifact"
            echo "      keep it:   cp $artifact tests/fuzz/regressions/$t/NAME"
        fi
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
