"""The `podium` command: --json output, live progress, agents, runs, fast help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import scripted, task

from podium.runtime import Podium, PodiumConfig, RunResult
from podium.runtime.cli import _main as cli

PLAN = [task("a", "researcher"), task("b", "researcher"), task("c", "writer", ["a", "b"])]
OUTPUTS = {"a": "alpha", "b": "beta", "c": "the final answer"}


@pytest.fixture
def scripted_cli(config: PodiumConfig, monkeypatch: pytest.MonkeyPatch) -> Podium:
    podium = Podium(config, model=scripted(PLAN, OUTPUTS))
    monkeypatch.setattr(cli, "_podium", lambda args: podium)
    monkeypatch.setattr(cli, "_config", lambda args: config)  # agents, runs, audit read it alone
    monkeypatch.setattr(cli, "_storage", lambda args: config.storage)  # runs, show, audit
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


def test_outputs_and_answer_print_brackets_as_written() -> None:
    # rich reads "[user_name]" as markup and swallowed it: an output must print as written.
    import io

    from rich.console import Console

    from podium.runtime.cli._progress import ProgressView
    from podium.runtime.engine._events import PlanCreated, TaskCompleted, ToolCalled
    from podium.runtime.engine._plan import Plan
    from podium.runtime.models._usage import Usage

    plan = Plan.model_validate({"tasks": [{"id": "t1", "agent": "writer", "instruction": "x"}]})
    view = ProgressView()
    view.emit(PlanCreated(run_id="r", plan=plan, revision=0))
    view.emit(
        ToolCalled(
            run_id="r",
            task_id="t1",
            agent="writer",
            tool="query_dataset",
            decision="allowed",
            reason="",
            arguments='{"dataset": "crm_leads"}',
            ok=True,
        )
    )
    view.emit(
        TaskCompleted(
            run_id="r",
            task_id="t1",
            agent="writer",
            output="Dear [user_name] " * 30,
            usage=Usage(),
            duration_s=1.0,
        )
    )
    out = io.StringIO()
    Console(file=out, width=200).print(view.outputs())
    text = out.getvalue()
    assert "Dear [user_name]" in text and "… (+" in text  # cut, and the cut is marked
    assert str(view.sources()) == "sources · t1: query_dataset crm_leads"


def test_eval_and_bench_commands_plug_in_and_record_wraps_run(
    scripted_cli: Podium, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from podium.evals import cli as eval_cli

    recorded: list[tuple[str, Path, str]] = []

    def record(args: Any, goal: str, out: Path, *, workflow: str, show: bool) -> int:
        recorded.append((goal, out, workflow))
        return 0

    monkeypatch.setattr(eval_cli, "_record_run", record)
    assert cli.main(["run", "--record", "s.yaml", "a goal"]) == 0
    assert recorded == [("a goal", Path("s.yaml"), "other")]
    assert cli.main(["run", "--json", "--run-id", "plain", "a goal"]) == 0  # no --record: a run
    assert json.loads(capsys.readouterr().out)["run_id"] == "plain"
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    assert "dag" in capsys.readouterr().out
