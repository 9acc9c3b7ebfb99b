#!/usr/bin/env bash
# What `make run` needs before it installs anything, one clear line for each thing missing.
# (The rest, the model files, the data folder and the stack itself, is `podium doctor`'s.)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
fail=0
say() { echo "preflight: $*" >&2; }

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    say "error: $PYTHON not found: install Python 3.11 or newer (Debian: apt-get install python3 python3-venv)"
    fail=1
elif ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    say "error: Podium needs Python 3.11 or newer; $PYTHON is $("$PYTHON" -V 2>&1): run make with PYTHON=python3.11"
    fail=1
elif ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    say "error: $PYTHON cannot create virtual environments: install python3-venv (Debian: apt-get install python3-venv)"
    fail=1
fi

# llama-cpp-python builds from source unless .venv already has it.
if ! "$ROOT/.venv/bin/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("llama_cpp") is None)' >/dev/null 2>&1; then
    for tool in cc c++; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            say "error: building llama-cpp-python (the embedded model) needs a C and C++ compiler, and '$tool' is missing: install them (Debian: apt-get install build-essential)"
            fail=1
            break
        fi
    done
fi

DATA=${PODIUM_DATA_DIR:-$ROOT/.podium}
if ! { mkdir -p "$DATA" && touch "$DATA/.preflight" && rm -f "$DATA/.preflight"; } 2>/dev/null; then
    say "error: cannot write to the data folder $DATA: set PODIUM_DATA_DIR (or [storage] data_dir in podium.toml) to a folder you can write"
    fail=1
fi
exit $fail
