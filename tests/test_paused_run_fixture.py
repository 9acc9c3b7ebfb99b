"""Stored runs keep working: a run checkpointed by older code resumes without redoing finished
work (the fixture and how it was made: tests/paused_run_fixture.py)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from paused_run_fixture import FINISHED, FIXTURE, RUN_ID, podium, second_part

from podium.runtime import RunEvent, TaskStarted
from podium.runtime.testing import ScriptedModel


def test_the_stored_paused_run_resumes_and_finishes_without_rerunning_finished_tasks(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    shutil.copytree(FIXTURE / "data", data)
    model = ScriptedModel(second_part())
    stored = podium(data, tmp_path / "workspace", model)
    record = stored.store.get(RUN_ID)
    assert record.status == "waiting_for_human" and record.result is not None
    # One approval is pending; the record that code wrote lists it twice, so it is read as a set.
    [pending] = {e.id for e in record.result.escalations}

    events: list[RunEvent] = []
    done = asyncio.run(stored.aresume(RUN_ID, answers={pending: "approve"}, on_event=events.append))

    assert done.status == "completed", done.error
    assert {task_id: done.tasks[task_id].output for task_id in FINISHED} == FINISHED
    assert done.tasks["send"].output == "Sent."
    assert done.answer == "Researched, noted and emailed Dana."
    model.assert_complete()  # every step used, none missing: no finished task asked again
    assert {c.task_id for c in model.calls} == {"send", "summary"}
    started = [e.task_id for e in events if isinstance(e, TaskStarted)]
    assert started == ["send", "summary"]  # the finished ones are replayed, not started
    assert len(list((data / "outbox").glob("*.eml"))) == 1
    assert stored.store.get(RUN_ID).status == "completed"
