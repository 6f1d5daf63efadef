# Shared by the embed-* scripts: print a file as a C string literal of hex
# escapes (od is in coreutils, so no extra tool is needed).
c_literal() {
    od -An -v -tx1 "$1" | tr -s ' \n' ' ' | sed -e 's/^ //' -e 's/ $//' |
        fold -w 96 | sed -e 's/ *$//' -e 's/ /\\x/g' -e 's/^/    "\\x/' -e 's/$/"/'
    [ -s "$1" ] || echo '    ""'
}
