"""Durability: a run killed mid-way resumes from its checkpoints and re-runs no completed task."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crash_worker import assert_resumed_where_it_stopped, podium as worker_podium

from podium.runtime import RunEvent, RunNotFoundError, RunStateError

WORKER = Path(__file__).with_name("crash_worker.py")


def wait_for(log: Path, line: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and line in log.read_text().splitlines():
            return
        time.sleep(0.02)
    raise AssertionError(
        f"{line!r} never appeared in {log}: {log.read_text() if log.exists() else '(no log)'}"
    )


def run_and_kill_after(data: Path, log: Path, run_id: str, line: str) -> None:
    """Start a run in a subprocess and SIGKILL it once `line` is logged."""
    env = {**os.environ, "PYTHONPATH": str(WORKER.parent)}
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), "run", str(data), str(log), run_id], env=env
    )
    try:
        wait_for(log, line)
        time.sleep(0.3)  # let that task's result reach the checkpoint; b is still running
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


async def test_a_killed_run_resumes_without_rerunning_completed_tasks(tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "calls.log"
    await asyncio.to_thread(run_and_kill_after, data, log, "r1", "done d")
    before = log.read_text().splitlines()
    assert "done b" not in before and "start e" not in before

    podium = worker_podium(data, log)
    assert podium.store.get("r1").status == "running"
    events: list[RunEvent] = []
    result = await podium.aresume("r1", on_event=events.append)

    assert_resumed_where_it_stopped(result, log.read_text().splitlines()[len(before) :], events)
    assert podium.store.get("r1").status == "completed"


async def test_resuming_a_finished_run_is_refused_without_calls(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    podium = worker_podium(tmp_path / "data", log)
    first = await podium.arun("quick", run_id="done-run")
    calls = len(log.read_text().splitlines())
    with pytest.raises(RunStateError, match="completed and has nothing to resume"):
        await podium.aresume("done-run")
    assert podium.store.get("done-run").result == first  # its result stays readable
    assert len(log.read_text().splitlines()) == calls


async def test_resuming_an_unknown_run_says_how_to_find_runs(tmp_path: Path) -> None:
    podium = worker_podium(tmp_path / "data", tmp_path / "log")
    with pytest.raises(RunNotFoundError, match="podium runs"):
        await podium.aresume("nope")


async def test_a_run_that_failed_planning_cannot_be_resumed(tmp_path: Path) -> None:
    podium = worker_podium(tmp_path / "data", tmp_path / "log")
    from podium.runtime.storage._store import RunRecord

    podium.store.save(
        RunRecord(
            run_id="bad", goal="g", status="failed", created_at=0, updated_at=0, error="no plan"
        )
    )
    with pytest.raises(RunStateError, match="failed and has nothing to resume"):
        await podium.aresume("bad")
