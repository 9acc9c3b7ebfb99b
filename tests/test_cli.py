"""The `podium` command: --json output, live progress, agents, runs, fast help."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import scripted, task

from podium.runtime import Podium, PodiumConfig, RunResult, cli

PLAN = [task("a", "researcher"), task("b", "researcher"), task("c", "writer", ["a", "b"])]
OUTPUTS = {"a": "alpha", "b": "beta", "c": "the final answer"}


@pytest.fixture
def scripted_cli(config: PodiumConfig, monkeypatch: pytest.MonkeyPatch) -> Podium:
    podium = Podium(config, model=scripted(PLAN, OUTPUTS))
    monkeypatch.setattr(cli, "_podium", lambda args: podium)
    return podium


def test_run_json_prints_the_run_result(
    scripted_cli: Podium, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "--json", "--run-id", "cli-1", "two facts and a summary"]) == 0
    result = RunResult.model_validate(json.loads(capsys.readouterr().out))
    assert result.run_id == "cli-1"
    assert result.status == "completed"
    assert result.answer == "the final answer"
    assert set(result.tasks) == {"a", "b", "c"}
    assert result.usage.calls == 4


def test_run_shows_the_plan_and_the_answer(
    scripted_cli: Podium, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "two facts and a summary"]) == 0
    out = capsys.readouterr().out
    assert "the final answer" in out
    for fragment in ("a [researcher]", "c [writer]", "completed", "← a, b"):
        assert fragment in out


def test_runs_lists_the_run(scripted_cli: Podium, capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["run", "--json", "--run-id", "listed", "goal"])
    capsys.readouterr()
    assert cli.main(["runs"]) == 0
    assert "listed" in capsys.readouterr().out


def test_errors_are_one_clear_line(
    scripted_cli: Podium, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["resume", "missing-run"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: [run_not_found] no run 'missing-run'")


def test_agents_and_help_in_a_real_process() -> None:
    agents = subprocess.run(
        [sys.executable, "-m", "podium.runtime.cli", "agents"],
        capture_output=True,
        text=True,
        check=True,
    )
    for name in (
        "enricher",
        "researcher",
        "analyst",
        "writer",
        "classifier",
        "router",
        "reviewer",
        "synthesizer",
    ):
        assert name in agents.stdout
    shown = subprocess.run(
        [sys.executable, "-m", "podium.runtime.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "run" in shown.stdout and "resume" in shown.stdout


def test_help_does_not_import_the_heavy_libraries() -> None:
    code = (
        "import sys; from podium.runtime import cli; import contextlib, io\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()): cli.main(['--help'])\n"
        "print(sorted(m for m in ('langgraph', 'litellm', 'pydantic', 'rich') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
