#!/usr/bin/env bash
# Installs what entrepot needs on Debian 12, only when it is missing, so that
# `make run` and `make test` work on a fresh machine and cost ~1 s otherwise.
#   scripts/install-deps.sh         Debian packages, then the web app's npm packages
#   scripts/install-deps.sh --npm   npm packages only
set -euo pipefail
cd "$(dirname "$0")/.."

# Build and runtime libraries, test and benchmark tools. One list, kept here.
PACKAGES=(
    build-essential pkg-config git ca-certificates curl
    libmicrohttpd-dev libjansson-dev libsqlite3-dev sqlite3 libpq-dev libsodium-dev
    libgnutls28-dev libcurl4-gnutls-dev libcmocka-dev
    john-data liboath-dev libvips-dev libzip-dev
    libmd4c-dev libopencc-dev libopencc-data libicu-dev
    postfix
    clang clang-format libclang-rt-14-dev
    postgresql postgresql-contrib
    python3 openssl
    nginx-light wrk
    chromium fonts-noto-cjk
    nodejs npm
)

apt_install() {
    local missing=()
    local status
    for p in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || missing+=("$p")
    done
    # A Node.js that is not Debian's (for example from NodeSource) is fine if
    # it is recent enough for Vite 7; do not replace it.
    if command -v node >/dev/null && command -v npm >/dev/null; then
        missing=("${missing[@]/nodejs/}")
        missing=("${missing[@]/npm/}")
    fi
    local want=()
    for p in "${missing[@]}"; do [[ -n $p ]] && want+=("$p"); done
    ((${#want[@]} == 0)) && return 0
    if [[ $(id -u) != 0 ]]; then
        echo "install-deps: missing Debian packages: ${want[*]}" >&2
        echo "install-deps: run as root, or: sudo apt-get install ${want[*]}" >&2
        exit 1
    fi
    echo "install-deps: installing ${want[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # postfix is only here for its smtp-sink test server: no mail system.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
}

npm_install() {
    [[ -f web/package.json ]] || return 0
    local stamp=web/node_modules/.installed
    if [[ ! -f $stamp || web/package-lock.json -nt $stamp ]]; then
        echo "install-deps: npm ci in web/"
        (cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
        touch "$stamp"
    fi
}

case "${1:-}" in
--npm) npm_install ;;
*) apt_install; npm_install ;;
esac
