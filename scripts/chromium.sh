#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium for the web tests, installing Debian's
# `chromium` package first when it is missing (Playwright drives it with executable_path:
# no browser download). PODIUM_CHROMIUM names another binary instead.
set -euo pipefail

say() { echo "chromium.sh: $*" >&2; }

if [ -n "${PODIUM_CHROMIUM:-}" ]; then
    [ -x "$PODIUM_CHROMIUM" ] || { say "error: PODIUM_CHROMIUM=$PODIUM_CHROMIUM is not executable"; exit 1; }
    echo "$PODIUM_CHROMIUM"
    exit 0
fi
for candidate in /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -x "$candidate" ]; then
        echo "$candidate"
        exit 0
    fi
done
[ "$(id -u)" = 0 ] || { say "error: Chromium is missing: run 'sudo apt-get install -y chromium'"; exit 1; }
command -v apt-get >/dev/null || { say "error: Chromium is missing and apt-get is not available"; exit 1; }
say "installing Debian's chromium (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >&2
[ -x /usr/bin/chromium ] || { say "error: apt-get installed chromium but /usr/bin/chromium is missing"; exit 1; }
echo /usr/bin/chromium
