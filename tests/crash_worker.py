"""Runs one Podium goal in a subprocess so a test can kill it mid-way (not a test module)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from podium.runtime import ModelRequest, Podium, PodiumConfig, RunEvent, RunResult, TaskCompleted
from podium.runtime.testing import FunctionModel, Reply

PLAN = [
    {"id": "a", "agent": "researcher", "instruction": "fast a", "inputs": []},
    {"id": "b", "agent": "researcher", "instruction": "slow b", "inputs": []},
    {"id": "c", "agent": "enricher", "instruction": "c after a", "inputs": ["a"]},
    {"id": "d", "agent": "enricher", "instruction": "d after c", "inputs": ["c"]},
    {"id": "e", "agent": "writer", "instruction": "join", "inputs": ["b", "d"]},
]
LATENCY = {"a": 0.05, "b": 3.0, "c": 0.05, "d": 0.05, "e": 0.05}


def assert_resumed_where_it_stopped(
    result: RunResult, log_after: list[str], events: list[RunEvent]
) -> None:
    """A run killed while `b` ran, then resumed: `b` and `e` run once more, nothing else does,
    and a, c, d come back from the checkpoint (`log_after`: the model log since the resume)."""
    assert result.status == "completed", result.error
    assert result.answer == "output of e"
    assert "plan" not in log_after
    for finished in ("a", "c", "d"):
        assert f"start {finished}" not in log_after, f"{finished} ran again after resume"
    assert log_after.count("start b") == 1 and log_after.count("start e") == 1
    restored = {e.task_id for e in events if isinstance(e, TaskCompleted) and e.restored}
    assert restored == {"a", "c", "d"}


def podium(data_dir: Path, log: Path) -> Podium:
    def record(line: str) -> None:
        with log.open("a") as f:
            f.write(line + "\n")

    async def answer(request: ModelRequest) -> Reply:
        if request.purpose == "plan":
            record("plan")
            return {"tasks": PLAN}
        task_id = request.task_id or ""
        record(f"start {task_id}")
        await asyncio.sleep(LATENCY[task_id])
        record(f"done {task_id}")
        return f"output of {task_id}"

    config = PodiumConfig.from_mapping(
        {"storage": {"data_dir": str(data_dir)}, "memory": {"enabled": False}}
    )
    return Podium(config, model=FunctionModel(answer))


if __name__ == "__main__":
    mode, data_dir, log, run_id = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    p = podium(data_dir, log)
    result = p.run("crash me", run_id=run_id) if mode == "run" else p.resume(run_id)
    print(json.dumps({"status": result.status, "answer": result.answer}))
