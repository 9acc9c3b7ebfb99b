"""Is the lock (requirements/*.txt) in step with pyproject.toml? Exit 1, saying what to do, if not.

Run by `make` before anything is installed from the lock, and by the test suite. "In step" means:
every requirement pyproject.toml declares for an install (the core dependencies and the extras
that install uses) is in that lock file, at a version its range allows; every pin in
requirements/pins.in holds where the package is locked; the model file packages match
requirements/model.in (a package requirements/run-overrides.in removes from run.txt is checked
there instead). It needs only
the standard library and `packaging` (pip's own copy when `packaging` is not installed), so it
runs in a venv that holds nothing but pip.

    python scripts/check_lock.py [--root DIR]
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

try:
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # a bare venv: pip vendors packaging
    from pip._vendor.packaging.markers import default_environment  # type: ignore[no-redef]
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[no-redef]

LOCKS = {
    # lock file -> the extras of pyproject.toml it must satisfy (besides the core dependencies)
    "run.txt": ("local",),
    "dev.txt": ("local", "ray", "dev"),
}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)", re.M)
# The environment the lock was resolved for (scripts/lock.sh: CPython 3.11, Linux x86_64).
TARGET = {
    **default_environment(),
    "python_version": "3.11",
    "python_full_version": "3.11.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
}
FIX = (
    "Run `make lock` (re-resolves and upgrades, then proves the lock on the embedded model), or "
    "`scripts/lock.sh --keep` to change only what pyproject.toml now asks for; commit "
    "requirements/ together with pyproject.toml."
)


def locked_versions(path: Path) -> dict[str, str]:
    return {canonicalize_name(m[1]): m[3] for m in PIN.finditer(path.read_text(encoding="utf-8"))}


def _problems_for(
    requirements: list[str], locked: dict[str, str], lock_name: str, *, constraints: bool = False
) -> list[str]:
    """What `locked` lacks or holds at the wrong version; `constraints`: absent is fine."""
    problems = []
    for line in requirements:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate(dict(TARGET, extra="")):
            continue
        name = canonicalize_name(req.name)
        version = locked.get(name)
        if version is None:
            if constraints:
                continue
            problems.append(f"{lock_name}: {req.name} is required ({line!r}) but not in the lock")
        elif req.specifier and not req.specifier.contains(version, prereleases=True):
            problems.append(f"{lock_name}: {req.name}=={version} does not satisfy {line!r}")
    return problems


def _requirement_lines(path: Path) -> list[str]:
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def _overridden(path: Path) -> set[str]:
    """The packages an overrides file removes (a requirement whose marker never holds)."""
    if not path.is_file():
        return set()
    removed = set()
    for line in _requirement_lines(path):
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate(dict(TARGET, extra="")):
            removed.add(canonicalize_name(req.name))
    return removed


def check(root: Path) -> list[str]:
    """Every way the lock disagrees with pyproject.toml and requirements/*.in (empty if none)."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras: dict[str, list[str]] = project.get("optional-dependencies", {})
    req = root / "requirements"
    problems: list[str] = []
    for lock_name, wanted in LOCKS.items():
        path = req / lock_name
        if not path.is_file():
            problems.append(f"requirements/{lock_name} is missing")
            continue
        locked = locked_versions(path)
        needed = list(project.get("dependencies", []))
        for extra in wanted:
            if extra not in extras:
                problems.append(f"pyproject.toml has no [project.optional-dependencies] {extra}")
            needed += extras.get(extra, [])
        if lock_name == "run.txt":
            # What run-overrides.in removes from run.txt comes from model.txt (--no-deps).
            removed = _overridden(req / "run-overrides.in")
            needed = [
                line for line in needed if canonicalize_name(Requirement(line).name) not in removed
            ]
        problems += _problems_for(needed, locked, f"requirements/{lock_name}")
        problems += _problems_for(
            _requirement_lines(req / "pins.in"),
            locked,
            f"requirements/{lock_name}",
            constraints=True,
        )
    for lock_name, source in (
        ("model.txt", "model.in"),
        ("build.txt", "build.in"),
        ("bootstrap.txt", "bootstrap.in"),
    ):
        path = req / lock_name
        if not path.is_file():
            problems.append(f"requirements/{lock_name} is missing")
            continue
        problems += _problems_for(
            _requirement_lines(req / source), locked_versions(path), f"requirements/{lock_name}"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    problems = check(args.root)
    if not problems:
        return 0
    print("error: the lock is out of sync with pyproject.toml:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    print(FIX, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
