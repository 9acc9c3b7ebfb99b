"""`podium doctor`: each check says what is wrong and how to fix it; a crash is a failed check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from podium.runtime import PodiumConfig
from podium.runtime.cli import _doctor as doctor
from podium.runtime.models._local_model import VERIFIED_LLAMA_CPP


def _config(tmp_path: Path, **models: str) -> PodiumConfig:
    return PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(tmp_path / "data")},
            "models": models,
            "memory": {"enabled": False},
        }
    )


def _one(checks: list[doctor.Check], name: str) -> doctor.Check:
    return next(c for c in checks if c.name == name)


def test_an_unwritable_data_dir_fails_with_its_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    check = _one(doctor.run_checks(_config(tmp_path), ["data_dir"]), "data_dir")
    assert check.status == "fail"
    assert str(blocker) in check.summary
    assert "PODIUM_DATA_DIR" in check.fix


@pytest.mark.parametrize("typo", ["opnai/gpt-4o-mini", "antropic/claude-3-5-haiku-latest"])
def test_a_typo_in_a_provider_fails_the_tiers_check_not_the_doctor(
    tmp_path: Path, typo: str
) -> None:
    check = _one(doctor.run_checks(_config(tmp_path, cheap=typo), ["tiers"]), "tiers")
    assert check.status == "fail"
    assert typo in check.summary and "provider" in check.summary
    assert "provider/model" in check.fix


def test_a_missing_key_is_named_and_a_set_key_is_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = _config(tmp_path, cheap="openai/gpt-4o-mini", frontier="openai/gpt-4o")
    missing = _one(doctor.run_checks(config, ["tiers"]), "tiers")
    assert missing.status == "fail"
    assert "OPENAI_API_KEY" in missing.summary and "OPENAI_API_KEY" in missing.fix

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-very-secret-value")
    present = doctor.run_checks(config, ["tiers"])
    assert _one(present, "tiers").status == "ok"
    assert "very-secret" not in json.dumps(doctor.to_json(present))


def _probe(code: str) -> doctor._Probe:
    return doctor._start(["-c", code])


def test_a_model_stack_that_segfaults_is_a_failed_check_naming_the_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    monkeypatch.setattr(doctor, "_start_model_probe", lambda config: _probe(crash))
    monkeypatch.setattr(doctor, "_llama_version", lambda: "0.3.36")
    check = _one(doctor.run_checks(_config(tmp_path), ["embedded_model"]), "embedded_model")
    assert check.status == "fail"
    assert "llama-cpp-python 0.3.36" in check.summary and "SIGSEGV" in check.summary
    assert "known to crash" in check.summary
    assert f"llama-cpp-python=={VERIFIED_LLAMA_CPP}" in check.fix


def test_a_known_bad_release_fails_even_when_the_probe_survives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fine = (
        "import json; print(json.dumps({'load_s': 0.1, 'decode_s': 0.1, 'tokens': 5, "
        "'tokens_per_s': 50.0, 'text': '{\"agent\": \"x\"}'}))"
    )
    monkeypatch.setattr(doctor, "_start_model_probe", lambda config: _probe(fine))
    monkeypatch.setattr(doctor, "_llama_version", lambda: "0.3.36")
    check = _one(doctor.run_checks(_config(tmp_path), ["embedded_model"]), "embedded_model")
    assert check.status == "fail" and "known bad" in check.summary


def test_the_cli_prints_json_and_exits_non_zero_on_a_failure(tmp_path: Path) -> None:
    bad = tmp_path / "data"
    bad.write_text("not a folder")
    (tmp_path / "podium.toml").write_text(f'[storage]\ndata_dir = "{bad}"\n')
    env = {**os.environ, "PODIUM_CONFIG": str(tmp_path / "podium.toml")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "podium.runtime.cli",
            "doctor",
            "--json",
            "--only",
            "python,data_dir",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert report["ok"] is False
    assert [c["name"] for c in report["checks"]] == ["python", "data_dir"]
    assert [c["status"] for c in report["checks"]] == ["ok", "fail"]


def test_an_unknown_check_is_refused_with_the_known_ones() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "podium.runtime.cli", "doctor", "--only", "pyhton"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "pyhton" in run.stderr and "python" in run.stderr


@pytest.mark.integration
def test_doctor_passes_on_this_install(tmp_path: Path) -> None:
    """The real thing: the embedded model decodes, MiniLM embeds, Chroma opens, guards are quiet."""
    env = {**os.environ, "PODIUM_DATA_DIR": str(tmp_path / "data")}
    env.pop("PODIUM_CONFIG", None)
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        env.pop(key, None)
    run = subprocess.run(
        [sys.executable, "-m", "podium.runtime.cli", "doctor", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    report = json.loads(run.stdout)
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert run.returncode == 0 and not failed, failed
    model = next(c for c in report["checks"] if c["name"] == "embedded_model")
    assert model["details"]["tokens"] > 0


def test_the_lock_check_names_a_wrong_version_and_ignores_a_venvs_own_setuptools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.metadata

    pydantic = importlib.metadata.version("pydantic")
    (tmp_path / "run.txt").write_text(f"pydantic=={pydantic} \\\n    --hash=sha256:00\n")
    (tmp_path / "model.txt").write_text("")
    # make run's venv keeps the setuptools `python -m venv` seeded; dev.txt pins another.
    (tmp_path / "dev.txt").write_text("setuptools==0.0.1 \\\n    --hash=sha256:00\n")
    monkeypatch.setattr(doctor, "_LOCK_DIR", tmp_path)
    assert _one(doctor.run_checks(_config(tmp_path), only=["lock"]), "lock").status == "ok"
    (tmp_path / "run.txt").write_text("pydantic==0.0.1 \\\n    --hash=sha256:00\n")
    check = _one(doctor.run_checks(_config(tmp_path), only=["lock"]), "lock")
    assert check.status == "fail"
    assert f"pydantic {pydantic} (lock: 0.0.1)" in check.summary
    assert "make install" in check.fix
