"""One run-status table and one resume rule (runtime/engine/_status.py), one answer vocabulary
(runtime/engine/_escalation.py): the Python API, HTTP and the CLI agree on every status."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from serve_support import podium_for

from podium.runtime import (
    AnswerError,
    Decision,
    HumanAnswer,
    Podium,
    RunRecord,
    RunResult,
    RunStateError,
    RunStatus,
    create_app,
)
from podium.runtime.cli import _main as cli
from podium.runtime.engine._escalation import recorded_answer
from podium.runtime.engine._status import ENDED, MOVES, check_move
from podium.runtime.storage._store import RunOwner, _started, this_process

GOAL = "Research A and B and sum them up"
EMAIL_GOAL = "Draft an email to Dana and send it"


@dataclass
class Interfaces:
    """Each interface on its own Podium, all over one data folder (as separate processes are)."""

    python: Podium
    cli: Podium
    http: TestClient
    capsys: pytest.CaptureFixture[str]

    def resume(self, interface: str, run_id: str) -> str | None:
        """Resume through `interface`: its refusal's message, or None when the run went on."""
        match interface:
            case "python":
                try:
                    self.python.resume(run_id)
                except RunStateError as exc:
                    return exc.message
                return None
            case "http":
                response = self.http.post(f"/runs/{run_id}/resume")
                if response.status_code == 202:
                    self.settled(run_id)
                    return None
                assert response.status_code == 409, response.text
                assert response.json()["error"]["code"] == "run_state"
                return str(response.json()["error"]["message"])
            case _:
                return self.command(["resume", run_id, "--json"])

    def command(self, argv: list[str]) -> str | None:
        """`podium ARGV`: the message it exits 1 with, or None when it exits 0."""
        self.capsys.readouterr()
        code = cli.main(argv)
        err = self.capsys.readouterr().err
        if code == 0:
            return None
        assert code == 1 and err.startswith("error: ["), err
        return err.split("] ", 1)[1].strip()

    def settled(self, run_id: str) -> str:
        for _ in range(600):
            status = str(self.http.get(f"/runs/{run_id}").json()["status"])
            if status not in ("queued", "running"):
                return status
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} never settled")


@pytest.fixture
def interfaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Interfaces]:
    data = tmp_path / "data"
    on_cli = podium_for(data)
    monkeypatch.setattr(cli, "_podium", lambda args: on_cli)
    monkeypatch.setattr(cli, "_storage", lambda args: on_cli.config.storage)  # its store alone
    app = create_app(podium_for(data), tokens={})
    with TestClient(app) as client:
        yield Interfaces(podium_for(data), on_cli, client, capsys)


@pytest.fixture
def live_process() -> Iterator[RunOwner]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield this_process().model_copy(update={"pid": child.pid, "started": _started(child.pid)})
    child.kill()
    child.wait()


def gone_process() -> RunOwner:
    child = subprocess.Popen(["true"])
    child.wait()
    return this_process().model_copy(update={"pid": child.pid, "started": None})


def store(podium: Podium, run_id: str, status: RunStatus, **fields: Any) -> RunRecord:
    now = time.time()
    record = RunRecord(
        run_id=run_id,
        goal=GOAL,
        status=status,
        created_at=now,
        updated_at=now,
        tenant=podium.config.memory.tenant,
        **fields,
    )
    podium.store.save(record)
    return record


def ended(status: RunStatus) -> dict[str, Any]:
    result = RunResult(run_id="x", goal=GOAL, status=status, started_at=0, error="it stopped")
    return {"result": result, "error": None if status == "completed" else "it stopped"}


INTERFACES = ("python", "http", "cli")


# -- the resume rule, on every interface --------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "fields", "says"),
    [
        ("completed", ended("completed"), "completed and has nothing to resume"),
        (
            "failed",
            ended("failed"),
            "failed and has nothing to resume: fix what failed and start a new run. How it ended: it stopped",
        ),
        ("budget_exceeded", ended("budget_exceeded"), "raise the limit in `[budget]`"),
        ("waiting_for_human", {}, "is waiting for a human to answer"),
        ("running", {"owner": "live"}, "is running in another process (pid"),
    ],
)
def test_every_interface_refuses_the_same_runs_with_the_same_words(
    interfaces: Interfaces,
    live_process: RunOwner,
    status: RunStatus,
    fields: dict[str, Any],
    says: str,
) -> None:
    if fields.get("owner") == "live":
        fields = {"owner": live_process}
    store(interfaces.python, "r", status, **fields)
    refusals = {i: interfaces.resume(i, "r") for i in INTERFACES}
    assert refusals["python"] is not None and says in refusals["python"]
    assert refusals == dict.fromkeys(INTERFACES, refusals["python"])
    assert interfaces.python.store.get("r").status == status  # refused: left as it was


@pytest.mark.parametrize(
    ("status", "fields"),
    [
        pytest.param("cancelled", {}, id="cancelled"),
        pytest.param("queued", {}, id="queued-by-a-stopped-server"),
        pytest.param("running", {"owner": "gone"}, id="running-in-a-process-that-is-gone"),
    ],
)
def test_every_interface_resumes_the_same_runs(
    interfaces: Interfaces, status: RunStatus, fields: dict[str, Any]
) -> None:
    for interface in INTERFACES:
        run_id = f"r-{interface}"
        owner = {"owner": gone_process()} if fields.get("owner") == "gone" else {}
        store(interfaces.python, run_id, status, **owner)
        assert interfaces.resume(interface, run_id) is None, interface
        assert interfaces.python.store.get(run_id).status == "completed", interface


def test_answers_to_a_run_that_waits_for_none_are_refused_alike(interfaces: Interfaces) -> None:
    store(interfaces.python, "c", "cancelled")
    with pytest.raises(RunStateError) as raised:
        interfaces.python.resume("c", answers={"x": "approve"})
    over_http = interfaces.http.post("/runs/c/escalations/x", json={"decision": "approve"})
    assert over_http.status_code == 409
    by_cli = interfaces.command(["approve", "c", "x"])
    said = raised.value.message
    assert "nothing waits for an answer" in said
    assert over_http.json()["error"]["message"] == by_cli == said


# -- the answer vocabulary, on every interface --------------------------------------------------


def test_an_unknown_decision_is_refused_listing_the_decisions(interfaces: Interfaces) -> None:
    paused = interfaces.python.run(EMAIL_GOAL)
    [escalation] = paused.escalations
    with pytest.raises(
        AnswerError, match="unknown decision 'yes': the decisions are approve, edit"
    ):
        interfaces.python.resume(paused.run_id, answers={escalation.id: "yes"})
    url = f"/runs/{paused.run_id}/escalations/{escalation.id}"
    refused = interfaces.http.post(url, json={"decision": "yes"})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "answer_invalid"
    assert (
        "unknown decision 'yes': the decisions are approve, edit, reject, instruct, answer"
        in (error["message"])
    )
    # A decision the escalation does not take: a tool call is approved or rejected.
    said = interfaces.command(["approve", paused.run_id, "--edit", "other text"])
    assert said is not None and "it takes: approve; reject" in said
    assert interfaces.python.store.get(paused.run_id).status == "waiting_for_human"
    listed = interfaces.http.get(f"/runs/{paused.run_id}").json()["escalations"]
    assert listed[0]["decisions"] == ["approve", "reject"]  # what the web page shows as buttons


def test_a_typed_answer_resumes_the_run(interfaces: Interfaces) -> None:
    paused = interfaces.python.run(EMAIL_GOAL)
    [escalation] = paused.escalations
    answer = HumanAnswer(decision=Decision.REJECT, message="not today")
    interfaces.python.resume(paused.run_id, answers={escalation.id: answer})
    [call] = read_tool_calls(interfaces.python, paused.run_id)
    assert call["decision"] == "rejected" and "(they say: not today)" in call["reason"]


def read_tool_calls(podium: Podium, run_id: str) -> list[dict[str, Any]]:
    from podium.policies import AUDIT_FILE, read_audit

    audit = read_audit(podium.store.run_dir(run_id) / AUDIT_FILE)
    return [r for r in audit if r["kind"] == "tool_called"]


@pytest.mark.parametrize(
    ("recorded", "decision"),
    [
        ("approve", Decision.APPROVE),
        ({"decision": "approve"}, Decision.APPROVE),
        ("yes", Decision.APPROVE),  # older code's words, still in stored checkpoints
        ("Approved", Decision.APPROVE),
        ("true", Decision.APPROVE),
        ("no", Decision.REJECT),  # anything else was, and is, a refusal
        ({"decision": "whatever"}, Decision.REJECT),
    ],
)
def test_answers_kept_in_checkpoints_by_older_code_read_as_then(
    recorded: Any, decision: Decision
) -> None:
    assert recorded_answer(recorded, "approval").decision is decision


# -- the status table ---------------------------------------------------------------------------


def test_an_ended_run_becomes_nothing_else() -> None:
    for status in ENDED:
        assert MOVES[status] == frozenset()
        with pytest.raises(RunStateError, match=f"is {status} and cannot become running"):
            check_move("r", status, "running")
    for before, after in [("queued", "running"), ("waiting_for_human", "cancelled")]:
        check_move("r", before, after)  # allowed: no error


def test_the_store_refuses_a_move_the_table_does_not_allow(tmp_path: Path) -> None:
    podium = podium_for(tmp_path / "data")
    record = store(podium, "r", "completed", **ended("completed"))
    with pytest.raises(RunStateError, match="it can become nothing: it has ended"):
        record.moved_to("cancelled")
    assert podium.store.get("r").status == "completed"
