"""Cancelling a run: it ends "cancelled", keeps its completed tasks, and resumes from there."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from serve_support import ScriptedBackend, podium_for


async def test_cancel_stops_a_run_and_resume_continues_it(tmp_path: Path) -> None:
    podium = podium_for(tmp_path / "data", latency_s=0.1)
    model: ScriptedBackend = podium.model  # type: ignore[assignment]
    events: list[str] = []
    run = asyncio.create_task(
        podium.arun("Research A and B", run_id="r1", on_event=lambda e: events.append(e.kind))
    )
    assert await asyncio.to_thread(model.started["c"].wait, 10)
    assert podium.cancel("r1") and not podium.cancel("nope")
    result = await run  # the caller gets the cancelled result, not an exception
    assert result.status == "cancelled" and "podium resume r1" in (result.error or "")
    assert set(result.tasks) == {"a", "b"} and events[-1] == "run_finished"
    assert podium.store.get("r1").status == "cancelled"
    assert not podium.cancel("r1")  # no longer running
    # The resumed run writes at once: a write lock kept by the cancelled run (a cancelled
    # checkpoint write outliving its connection) would make this wait and fail "database is
    # locked". Before the fix in runtime/storage/_checkpoints.py this failed 9 runs in 10.
    done = await podium.aresume("r1")
    assert done.status == "completed" and done.answer and done.answer.startswith("Summary")
    assert [c.task_id for c in model.calls].count("a") == 1  # not run again


async def test_cancelling_the_caller_records_the_run_as_cancelled(tmp_path: Path) -> None:
    podium = podium_for(tmp_path / "data", latency_s=0.1)
    model: ScriptedBackend = podium.model  # type: ignore[assignment]
    run = asyncio.create_task(podium.arun("Research A and B", run_id="r2"))
    assert await asyncio.to_thread(model.started["a"].wait, 10)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run  # cancelling the caller still cancels the caller
    assert podium.store.get("r2").status == "cancelled"
    assert (await podium.aresume("r2")).status == "completed"
