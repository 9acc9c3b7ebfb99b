"""The event-sink seam: every consumer of a run's events (the audit log, the CLI progress view,
the server's event log, a user's own sink) sees the one stream, in order, and none of them can
change the run."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import scripted, task
from rich.console import Console
from serve_support import OUTREACH, ScriptedBackend

from podium.policies import AUDIT_FILE, read_audit
from podium.runtime import (
    ConfigError,
    EventSink,
    Podium,
    PodiumConfig,
    RunEvent,
    RunFinished,
    RunResult,
    RunStarted,
    create_app,
)
from podium.runtime.cli import follow

PLAN = [task("a", "researcher"), task("b", "researcher"), task("c", "writer", ["a", "b"])]
OUTPUTS = {"a": "alpha", "b": "beta", "c": "the final answer"}


class Recorder(EventSink):
    """Keeps what it is given, and where each run call's stream ended."""

    def __init__(self) -> None:
        self.events: list[RunEvent] = []
        self.ended: list[tuple[str, int]] = []
        """(run id, events seen so far) at each `run_ended`."""

    def emit(self, event: RunEvent) -> None:
        self.events.append(event)

    def run_ended(self, run_id: str) -> None:
        self.ended.append((run_id, len(self.events)))


class Broken(EventSink):
    """Raises at every event and at every run's end."""

    def emit(self, event: RunEvent) -> None:
        raise RuntimeError(f"broken sink at {event.kind}")

    def run_ended(self, run_id: str) -> None:
        raise RuntimeError("broken sink at the end")

    def __repr__(self) -> str:
        return "Broken()"


def kinds(events: list[RunEvent]) -> list[str]:
    return [e.kind for e in events]


def served(data_dir: Path, *sinks: EventSink) -> Podium:
    """A Podium on the server tests' scripted model (research goals, emails that wait)."""
    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(data_dir)},
            "tools": {"workspace": str(data_dir)},
            "memory": {"enabled": False},
        }
    )
    return Podium(config, model=ScriptedBackend(), agents=[OUTREACH], sinks=sinks)


# -- one stream, every consumer -----------------------------------------------------------------


async def sse(client: httpx.AsyncClient, run_id: str) -> list[dict[str, Any]]:
    """The run's server-sent events until the run ends, as [{event, data}]."""
    frames: list[dict[str, Any]] = []
    async with client.stream("GET", f"/runs/{run_id}/events") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                frames.append({"event": line[6:].strip()})
            elif line.startswith("data:"):
                frames[-1]["data"] = json.loads(line[5:])
    return frames


async def test_a_sink_sees_what_the_servers_event_log_streams(tmp_path: Path) -> None:
    recorder = Recorder()
    podium = served(tmp_path / "data", recorder)
    app = create_app(podium, tokens={})
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://podium") as client:
            submitted = await client.post("/runs", json={"goal": "Research A and B"})
            run_id = submitted.json()["run_id"]
            frames = await sse(client, run_id)
    queued, *run = frames
    assert queued["event"] == "run_queued"  # the server's own: the run has not started
    assert [f["event"] for f in run] == kinds(recorder.events)
    assert [f["data"] for f in run] == [e.model_dump(mode="json") for e in recorder.events]
    assert kinds(recorder.events)[0] == "run_started"
    assert kinds(recorder.events)[-1] == "run_finished"
    assert recorder.ended == [(run_id, len(recorder.events))]


async def test_a_sink_sees_what_the_cli_progress_view_shows(config: PodiumConfig) -> None:
    recorder = Recorder()
    podium = Podium(config, model=scripted(PLAN, OUTPUTS), sinks=[recorder])
    viewed: list[RunEvent] = []

    async def watched(events: AsyncIterator[RunEvent]) -> AsyncIterator[RunEvent]:
        async for event in events:
            viewed.append(event)
            yield event

    screen = io.StringIO()
    stream = podium.astream("two facts and a summary", run_id="cli")
    code = await follow(watched(stream), Console(file=screen, width=120))
    assert code == 0 and "the final answer" in screen.getvalue()
    assert viewed == recorder.events
    assert {"plan_created", "task_started", "task_completed", "guard_verdict"} <= set(kinds(viewed))


async def test_the_audit_log_is_a_sink_of_the_same_stream(config: PodiumConfig) -> None:
    recorder = Recorder()
    podium = Podium(config, model=scripted(PLAN, OUTPUTS), sinks=[recorder])
    await podium.arun("two facts and a summary", run_id="audited")
    audit = list(read_audit(podium.store.run_dir("audited") / AUDIT_FILE))
    assert [entry["kind"] for entry in audit] == kinds(recorder.events)


async def test_sinks_come_in_order_instance_then_call_then_callback(
    config: PodiumConfig,
) -> None:
    order: list[str] = []

    class Named(EventSink):
        def __init__(self, name: str) -> None:
            self.name = name

        def emit(self, event: RunEvent) -> None:
            if isinstance(event, RunStarted):
                order.append(self.name)

    podium = Podium(config, model=scripted(PLAN, OUTPUTS), sinks=[Named("mine"), Named("also")])
    await podium.arun(
        "two facts and a summary",
        sinks=[Named("this call")],
        on_event=lambda e: order.append("on_event") if isinstance(e, RunStarted) else None,
    )
    assert order == ["mine", "also", "this call", "on_event"]


async def test_what_is_not_a_sink_is_refused_with_what_to_do(config: PodiumConfig) -> None:
    with pytest.raises(
        ConfigError,
        match=r"sinks\[0\] \(<built-in function print>\) is not an event sink.*on_event=",
    ):
        Podium(config, model=scripted(PLAN, OUTPUTS), sinks=[print])  # type: ignore[list-item]

    class EmitOnly:
        def emit(self, event: RunEvent) -> None: ...

    podium = Podium(config, model=scripted(PLAN, OUTPUTS))
    with pytest.raises(ConfigError, match=r"sinks\[1\].*run_ended"):
        await podium.arun("goal", run_id="refused", sinks=[Recorder(), EmitOnly()])  # type: ignore[list-item]
    assert podium.runs() == []  # refused before a run was recorded


# -- a sink cannot change a run --------------------------------------------------------------


def comparable(result: RunResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "answer": result.answer,
        "outputs": {k: t.output for k, t in result.tasks.items()},
        "usage": result.usage,
        "error": result.error,
        "warnings": result.warnings,
    }


@pytest.mark.parametrize("how", ["sink", "on_event"])
async def test_a_raising_sink_changes_nothing_and_is_logged_once(
    config: PodiumConfig, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    plain = await Podium(config, model=scripted(PLAN, OUTPUTS)).arun("goal", run_id="plain")

    after = Recorder()
    broken = Broken()
    if how == "sink":
        podium = Podium(config, model=scripted(PLAN, OUTPUTS), sinks=[broken, after])
        run = podium.arun("goal", run_id="broken")
    else:
        podium = Podium(config, model=scripted(PLAN, OUTPUTS), sinks=[after])
        run = podium.arun("goal", run_id="broken", on_event=broken.emit)
    with caplog.at_level(logging.WARNING, logger="podium.events"):
        result = await run

    assert comparable(result) == comparable(plain)
    assert result.status == "completed"
    assert kinds(after.events)[0] == "run_started" and kinds(after.events)[-1] == "run_finished"
    assert podium.store.get("broken").status == "completed"
    warnings = [r for r in caplog.records if r.name == "podium.events"]
    assert len(warnings) == 1  # once, though it failed at every event
    assert ("Broken()" if how == "sink" else "on_event=") in warnings[0].getMessage()
    assert "run_started event of run broken" in warnings[0].getMessage()
    assert warnings[0].exc_info is not None


async def test_a_sink_failing_at_the_end_of_a_run_is_logged_too(
    config: PodiumConfig, caplog: pytest.LogCaptureFixture
) -> None:
    class EndsBadly(Recorder):
        def run_ended(self, run_id: str) -> None:
            raise RuntimeError("no exporter to flush to")

        def __repr__(self) -> str:
            return "EndsBadly()"

    podium = Podium(config, model=scripted(PLAN, OUTPUTS), sinks=[EndsBadly()])
    with caplog.at_level(logging.WARNING, logger="podium.events"):
        result = await podium.arun("goal", run_id="ends")
    assert result.status == "completed"
    [warning] = [r for r in caplog.records if r.name == "podium.events"]
    assert "EndsBadly()" in warning.getMessage() and "end of run ends" in warning.getMessage()


# -- resume -----------------------------------------------------------------------------------


async def test_resume_delivers_its_events_to_the_sinks(tmp_path: Path) -> None:
    recorder = Recorder()
    podium = served(tmp_path / "data", recorder)
    waiting = await podium.arun("Draft an email to Dana and send it", run_id="mail")
    assert waiting.status == "waiting_for_human"
    first = len(recorder.events)
    assert recorder.ended == [("mail", first)]
    finished = recorder.events[-1]
    assert isinstance(finished, RunFinished) and finished.status == "waiting_for_human"

    call = Recorder()
    [escalation] = waiting.escalations
    result = await podium.aresume("mail", answers={escalation.id: "approve"}, sinks=[call])
    assert result.status == "completed"
    resumed = recorder.events[first:]
    assert resumed == call.events  # the instance's sink and the call's see the same
    assert isinstance(resumed[0], RunStarted) and resumed[0].resumed
    assert isinstance(resumed[-1], RunFinished) and resumed[-1].status == "completed"
    assert "tool_called" in kinds(resumed)
    assert recorder.ended == [("mail", first), ("mail", len(recorder.events))]
    audit = list(read_audit(podium.store.run_dir("mail") / AUDIT_FILE))
    assert [entry["kind"] for entry in audit] == kinds(recorder.events)
