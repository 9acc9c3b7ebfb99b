#!/usr/bin/env bash
# Proof from scratch: what a new user meets. Clones this repository's committed HEAD into a
# temporary folder (with ../shared beside it, as CI has), installs with every cache empty, runs
# `make run` then `make test`, then a second fresh clone's `make run` with the caches the first
# one filled ("warm"), and prints the time of each step (also as JSON, in the last line).
#
#   scripts/fresh-check.sh [--no-test] [--no-warm] [--keep]
#
# Uncommitted changes are not in the clone: commit first. Package downloads come from the
# registries (nothing is reused from this machine's caches: uv's cache is a new empty folder and
# pip's is off); the local CPU torch wheel folder (TORCH_WHEELS) is used, as on every machine here.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEST=1
WARM=1
KEEP=0
for arg in "$@"; do
    case $arg in
    --no-test) TEST=0 ;;
    --no-warm) WARM=0 ;;
    --keep) KEEP=1 ;;
    *) echo "fresh-check: unknown option $arg (known: --no-test --no-warm --keep)" >&2; exit 2 ;;
    esac
done

WORK=$(mktemp -d /tmp/podium-fresh.XXXXXX)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD)
[ $KEEP = 1 ] || trap 'rm -rf "$WORK"' EXIT
export UV_CACHE_DIR=$WORK/uv-cache PIP_NO_CACHE_DIR=1 XDG_CACHE_HOME=$WORK/xdg-cache
unset VIRTUAL_ENV PODIUM_CONFIG PODIUM_DATA_DIR
declare -A SECONDS_OF CODE_OF
ORDER=()

step() {  # step NAME DIR COMMAND...
    local name=$1 dir=$2
    shift 2
    ORDER+=("$name")
    echo "fresh-check: [$name] $* (in $dir) ..." >&2
    local start=$(date +%s.%N)
    (cd "$dir" && "$@") >"$WORK/$name.log" 2>&1
    CODE_OF[$name]=$?
    SECONDS_OF[$name]=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")
    echo "fresh-check: [$name] exit ${CODE_OF[$name]} in ${SECONDS_OF[$name]} s (log: $WORK/$name.log)" >&2
    if [ "${CODE_OF[$name]}" != 0 ]; then tail -n 30 "$WORK/$name.log" >&2; fi
    return "${CODE_OF[$name]}"
}

clone() {  # clone DIR
    git clone -q "$ROOT" "$1/main" && if [ -d "$ROOT/../shared" ]; then cp -r "$ROOT/../shared" "$1/shared"; fi
}

mkdir -p "$WORK/cold" "$WORK/warm"
echo "fresh-check: commit $COMMIT; work in $WORK" >&2
[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ] || echo "fresh-check: note: uncommitted changes are not checked" >&2
ok=1
step clone "$WORK" clone "$WORK/cold" || ok=0
[ $ok = 1 ] && { step make_run_cold "$WORK/cold/main" make run || ok=0; }
if [ $ok = 1 ] && [ $TEST = 1 ]; then step make_test "$WORK/cold/main" env CI=true make test || ok=0; fi
if [ $ok = 1 ] && [ $WARM = 1 ]; then
    clone "$WORK/warm" && step make_run_warm "$WORK/warm/main" make run || ok=0
fi

echo >&2
printf '%-16s %8s %6s\n' step seconds exit >&2
json="{"
for name in "${ORDER[@]}"; do
    printf '%-16s %8s %6s\n' "$name" "${SECONDS_OF[$name]}" "${CODE_OF[$name]}" >&2
    json+="\"$name\": {\"seconds\": ${SECONDS_OF[$name]}, \"exit\": ${CODE_OF[$name]}}, "
done
json+="\"commit\": \"$COMMIT\", \"ok\": $([ $ok = 1 ] && echo true || echo false)}"
echo "$json"
[ $ok = 1 ]
