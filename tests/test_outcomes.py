"""One failure shape: every way a run ends (tests/outcome_support.py's table: completed,
failed in planning, failed in a task, budget exceeded, refused goal, waiting for a human,
cancelled) reads the same on every surface: the Python API, `podium run --json` and the live
view piped, `podium run` in a pseudo-terminal, and the `openai` client against a real
`podium serve`, streaming and not. Same status, same error kind, same words, the exit code and
HTTP answer the table says, usage that counts every token the model was asked for, and no
model-facing text or framework traceback."""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pexpect
import pytest
from outcome_support import OUTCOMES, Outcome, outcome_podium
from test_serve_live import start, stop

from podium.runtime import GoalError, PlanError, RunResult, Usage
from podium.runtime.cli import _main as cli

SUPPORT = Path(__file__).parent / "outcome_support.py"
pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

MODEL_FACING = ("JSON only", "reply with", "Reply with", "Earlier turns of this conversation")
"""Words meant for the model (the planner's feedback, a follow-up's hidden context)."""


@dataclass(frozen=True)
class Reading:
    """How one surface told a run's end: compared across surfaces, run ids aside."""

    status: str | None
    error_kind: str | None
    error: str | None


def read(status: str | None, kind: str | None, error: str | None, run_id: str | None) -> Reading:
    words = error.replace(run_id, "RUN") if error and run_id else error
    return Reading(status, kind, words)


def plain(text: str | None) -> None:
    """A person's words: no model-facing text, no traceback."""
    for words in (*MODEL_FACING, "Traceback", "During task with name"):
        assert words not in (text or ""), text


# -- the Python API ------------------------------------------------------------------------


def python_api(outcome: Outcome, data: Path) -> Reading:
    podium, backend = outcome_podium(data)
    result: RunResult
    if outcome.status is None:
        with pytest.raises(GoalError) as refused:
            podium.run(outcome.goal)
        assert podium.runs() == []
        return Reading(None, "refused", refused.value.message)
    if outcome.error_kind == "plan":
        with pytest.raises(PlanError) as raised:
            podium.run(outcome.goal)
        frames = traceback.extract_tb(raised.value.__traceback__)
        assert not [f for f in frames if "langgraph" in f.filename or "asyncio" in f.filename]
        assert not getattr(raised.value, "__notes__", None)
        assert raised.value.__suppress_context__ and len(raised.value.attempts) == 3
        result = raised.value.result
    else:
        result = podium.run(outcome.goal)
    assert podium.store.get(result.run_id).result == result
    assert result.usage == backend.spent[result.run_id], "usage counts every token spent"
    assert result.usage.calls > 0
    return read(result.status, result.error_kind, result.error, result.run_id)


# -- `podium run`, piped (in this process) and in a pseudo-terminal ---------------------------


def cli_json(outcome: Outcome, data: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Reading:
    podium, backend = outcome_podium(data)
    monkeypatch.setattr(cli, "_podium", lambda args: podium)
    monkeypatch.setattr(cli, "_storage", lambda args: podium.config.storage)
    code = cli.main(["run", "--json", outcome.goal])
    out, err = capsys.readouterr()
    assert code == outcome.exit_code, err
    printed = json.loads(out)  # always one JSON document on stdout
    if printed["run_id"] is not None:
        spent = backend.spent[printed["run_id"]]
        assert Usage.model_validate(printed["usage"]) == spent
    if outcome.error_kind is not None:
        assert err.count("\n") == 1 and err.startswith("error: "), err
        assert printed["error"] in err
    plain(err)
    return read(printed["status"], printed["error_kind"], printed["error"], printed["run_id"])


def cli_live_piped(
    outcome: Outcome, data: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    podium, _ = outcome_podium(data)
    monkeypatch.setattr(cli, "_podium", lambda args: podium)
    monkeypatch.setattr(cli, "_storage", lambda args: podium.config.storage)
    code = cli.main(["run", outcome.goal])
    out, err = capsys.readouterr()
    assert code == outcome.exit_code, err
    ending(outcome, out + err)
    assert "╯error" not in out + err  # piped, the panel ends its line
    plain(err)


def ending(outcome: Outcome, text: str) -> None:
    """How the terminal tells each end."""
    match outcome.status:
        case "completed":
            assert "Summary of A and B" in text and "answer" in text
        case "waiting_for_human":
            assert "waiting for a human" in text and "wants to send this email" in text
            # the exact commands, the run's and the escalation's ids filled in
            assert re.search(r"podium approve \S+ approval-send-\w+ +# approve", text), text
            assert re.search(r"podium approve \S+ approval-send-\w+ --reject", text), text
        case None:
            assert "error: [goal_invalid]" in text and "planning…" not in text
        case status:
            assert f"error: run {status}" in text
            if outcome.error_kind not in status:
                assert f"({outcome.error_kind})" in text


def cli_in_a_terminal(outcome: Outcome, data: Path) -> None:
    env = {**os.environ, "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}
    command = [str(SUPPORT), "cli", str(data), "run", outcome.goal]
    child = pexpect.spawn(
        sys.executable,
        command,
        env=env,
        encoding="utf-8",
        timeout=120,
        dimensions=(40, 120),
        use_poll=True,  # late in a whole suite run the pty's descriptor can be past select()'s 1024
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == outcome.exit_code, child.before
    ending(outcome, child.before or "")
    plain(child.before)


# -- the OpenAI client against a real `podium serve` ----------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("outcomes")
    process, line = start([sys.executable, str(SUPPORT), "serve", str(data / "data")], "PORT ")
    yield f"http://127.0.0.1:{line.split()[1]}"
    stop(process)


def openai_client(outcome: Outcome, server: str) -> Reading:
    import openai

    client = openai.OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=2)
    messages: Any = [{"role": "user", "content": outcome.goal}]
    if outcome.openai_type is None:
        completion = client.chat.completions.create(model="podium", messages=messages)
        podium = (completion.model_extra or {})["podium"]
        text = completion.choices[0].message.content or ""
        assert completion.usage is not None and completion.usage.total_tokens > 0
        if outcome.status == "waiting_for_human":  # a chat UI shows the question
            assert "waiting for a human" in text and podium["escalations"]
        return server_reading(server, podium["run_id"])
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model="podium", messages=messages)
    error = raised.value
    assert error.status_code == outcome.http_status
    assert error.type == outcome.openai_type
    assert error.response.headers.get("x-should-retry") == "false" or outcome.status is None
    plain(error.message)
    body = error.response.json()
    if outcome.status is None:
        assert error.code == "goal_invalid"
        return Reading(None, "refused", body["error"]["message"])
    assert error.code == outcome.error_kind
    assert body["usage"]["total_tokens"] > 0  # what the failed run spent is not lost
    reading = server_reading(server, body["podium"]["run_id"])
    assert (
        f"{reading.status}: {reading.error}".replace("RUN", body["podium"]["run_id"])
        in (body["error"]["message"])
    )
    return reading


def openai_stream(outcome: Outcome, server: str) -> None:
    """Streamed, a run that ends without an answer ends with its error, never a fake answer."""
    import openai

    client = openai.OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0)
    messages: Any = [{"role": "user", "content": outcome.goal}]
    if outcome.status is None:
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="podium", messages=messages, stream=True)
        return
    stream = client.chat.completions.create(
        model="podium", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    content, usage = "", None
    try:
        for chunk in stream:
            usage = chunk.usage or usage
            content += "".join(c.delta.content or "" for c in chunk.choices)
    except openai.APIError as error:
        assert outcome.openai_type is not None, error
        assert error.code == outcome.error_kind and content == ""
        plain(error.message)
    else:
        assert outcome.openai_type is None
        assert content.strip()
    assert usage is not None and usage.total_tokens > 0


def server_reading(server: str, run_id: str) -> Reading:
    shown = httpx.get(f"{server}/runs/{run_id}/result").json()
    summary = httpx.get(f"{server}/runs/{run_id}").json()
    assert (summary["status"], summary["error_kind"]) == (shown["status"], shown["error_kind"])
    return read(shown["status"], shown["error_kind"], shown["error"], run_id)


# -- the matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", OUTCOMES, ids=[o.name for o in OUTCOMES])
def test_every_surface_tells_the_same_end(
    outcome: Outcome,
    server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    expected = (outcome.status, outcome.error_kind)
    readings = {
        "python": python_api(outcome, tmp_path / "python"),
        "cli --json": cli_json(outcome, tmp_path / "json", monkeypatch, capsys),
        "openai": openai_client(outcome, server),
    }
    cli_live_piped(outcome, tmp_path / "piped", monkeypatch, capsys)
    cli_in_a_terminal(outcome, tmp_path / "pty")
    openai_stream(outcome, server)

    for surface, reading in readings.items():
        assert (reading.status, reading.error_kind) == expected, surface
        plain(reading.error)
    words = {surface: r.error for surface, r in readings.items()}
    assert len(set(words.values())) == 1, words  # the same words everywhere
    if outcome.error_kind is not None:
        assert words["python"], "a run that did not complete says why"
        advice = r"\b(try|resume|raise|give|shorten|reword|rephrase|remove)\b"
        assert re.search(advice, words["python"] or "", re.I), f"what to do: {words['python']}"


# -- the pieces the matrix rests on ----------------------------------------------------------


def test_a_budget_spent_while_planning_keeps_what_planning_spent(tmp_path: Path) -> None:
    from podium.runtime import Podium, PodiumConfig
    from podium.runtime.testing import FunctionModel

    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(tmp_path)},
            "memory": {"enabled": False},
            "planner": {"playbooks": False},
            "budget": {"max_calls": 2},
        }
    )
    model = FunctionModel(lambda request: "not a plan {")
    result = Podium(config, model=model).run("plan this")
    assert (result.status, result.error_kind) == ("budget_exceeded", "budget")
    assert result.usage.calls == 2 == len(model.calls) and result.usage.total_tokens > 0


def test_the_live_view_keeps_the_planners_feedback_and_a_follow_ups_context_to_itself() -> None:
    from rich.console import Console

    from podium.runtime import PlanRejected, RunStarted
    from podium.runtime.cli._progress import ProgressView, goal_title
    from podium.runtime.server._conversation import Turn, goal_with_context

    goal = goal_with_context(
        "And the renewal dates?",
        [Turn(role="user", content="List the EU leads"), Turn(role="assistant", content="3")],
        max_chars=4000,
    )
    view = ProgressView()
    view.emit(RunStarted(run_id="r", goal=goal))
    problems = ("the reply is not a JSON object (x): reply with JSON only",)
    view.emit(PlanRejected(run_id="r", attempt=1, problems=problems))
    console = Console(width=100, record=True)
    console.print(view.render())
    shown = console.export_text()
    assert "And the renewal dates?" in shown
    assert "plan attempt 1 broke 1 plan rule(s): asking the planner again" in shown
    plain(shown)
    title = goal_title("x" * 100)  # a cut title says so, as every cut, and fits with its mark
    assert title.endswith("… (+44 chars)") and len(title) == 70
    words = goal_title("Qualify the lead Maya Chen at Brightforge Analytics and draft " * 3)
    assert len(words) <= 70 and words.endswith(" chars)")
