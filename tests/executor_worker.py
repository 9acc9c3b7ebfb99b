"""Runs one Podium goal in a subprocess on either executor, so a test can kill it mid-way.

Not a test module. Its model double is a stateless, picklable callable: on the Ray executor the
workers each hold a copy (they import this module: the tests put tests/ on their path).
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from crash_worker import PLAN

from podium.runtime import ModelRequest, Podium, PodiumConfig
from podium.runtime.testing import FunctionModel, Reply

LATENCY = {"a": 0.05, "b": 4.0, "c": 0.05, "d": 0.05, "e": 0.05}


@dataclass(frozen=True)
class LoggedModel:
    """Answers every task after its latency, logging "start <id>" and "done <id>" lines."""

    log: str

    async def __call__(self, request: ModelRequest) -> Reply:
        if request.purpose == "plan":
            self.record("plan")
            return {"tasks": PLAN}
        task_id = request.task_id or ""
        self.record(f"start {task_id}")
        await asyncio.sleep(LATENCY[task_id])
        self.record(f"done {task_id}")
        return f"output of {task_id}"

    def record(self, line: str) -> None:
        with Path(self.log).open("a") as f:
            f.write(line + "\n")


def config(data_dir: Path, executor: str, ray_address: str | None = None) -> PodiumConfig:
    run: dict[str, object] = {"executor": executor}
    if ray_address:
        run["ray_address"] = ray_address
    return PodiumConfig.from_mapping(
        {"storage": {"data_dir": str(data_dir)}, "memory": {"enabled": False}, "run": run}
    )


def podium(data_dir: Path, log: Path, executor: str, ray_address: str | None = None) -> Podium:
    return Podium(
        config(data_dir, executor, ray_address), model=FunctionModel(LoggedModel(str(log)))
    )


if __name__ == "__main__":
    data_dir, log, run_id, executor = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    address = sys.argv[5] if len(sys.argv) > 5 else None
    result = podium(data_dir, log, executor, address).run("crash me", run_id=run_id)
    print(json.dumps({"status": result.status, "answer": result.answer}))
