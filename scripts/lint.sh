#!/usr/bin/env bash
# House rules a compiler does not check (DESIGN.md):
#  1. no strcpy, strcat, sprintf, vsprintf, strtok, atoi, atol, gets;
#  2. only src/http includes libmicrohttpd; in domain folders only the
#     module's *_api.c files may include the HTTP layer.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0
files=$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 2>/dev/null; git ls-files -o --exclude-standard 'src/*.c' 'src/*.h' 'tests/*.c' 2>/dev/null)
[ -n "$files" ] || { echo "lint: no files"; exit 1; }

banned=$(grep -nE '(^|[^_[:alnum:]])(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets)[[:space:]]*\(' $files)
if [ -n "$banned" ]; then
    echo "lint: banned functions (use snprintf, memcpy, the buf type, parse_int64):"
    echo "$banned"
    fail=1
fi

mhd=$(grep -lE '#include[[:space:]]*[<"]microhttpd\.h[>"]' $files | grep -v '^src/http/')
if [ -n "$mhd" ]; then
    echo "lint: only src/http may include microhttpd.h:"
    echo "$mhd"
    fail=1
fi

for f in $files; do
    case $f in
    src/http/* | src/cmd/* | tests/*) continue ;;
    src/*_api.c) continue ;;
    esac
    if grep -qE '#include[[:space:]]*"(\.\./)?(http/)?http(_int)?\.h"' "$f"; then
        echo "lint: $f is domain code and includes the HTTP layer (move it to a *_api.c file)"
        fail=1
    fi
done

[ $fail = 0 ] && echo "lint: ok"
exit $fail
