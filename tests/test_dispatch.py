"""Dispatch follows dependencies: no task waits for a sibling it does not need."""

from __future__ import annotations

import asyncio

from conftest import make, scripted, task

from podium.runtime import ModelRequest, Podium, PodiumConfig
from podium.runtime.testing import FunctionModel, Reply


async def test_two_independent_tasks_overlap_in_time(config: PodiumConfig) -> None:
    plan = [task("a", "researcher"), task("b", "researcher"), task("c", "writer", ["a", "b"])]
    result = await make(config, scripted(plan, {"a": "A", "b": "B", "c": "C"}, latency_s=0.2)).arun(
        "two facts"
    )
    a, b = result.tasks["a"], result.tasks["b"]
    assert a.started_at and b.started_at and a.finished_at and b.finished_at
    assert a.started_at < b.finished_at and b.started_at < a.finished_at


async def test_a_fast_chain_does_not_wait_for_a_slow_sibling(config: PodiumConfig) -> None:
    plan = [
        task("slow", "researcher"),
        task("f1", "enricher"),
        task("f2", "enricher", ["f1"]),
        task("f3", "enricher", ["f2"]),
        task("join", "writer", ["slow", "f3"]),
    ]
    latency = {"slow": 0.6, "f1": 0.05, "f2": 0.05, "f3": 0.05, "join": 0.0}

    async def answer(request: ModelRequest) -> Reply:
        if request.purpose == "plan":
            return {"tasks": plan}
        await asyncio.sleep(latency[request.task_id or ""])
        return f"{request.task_id} done"

    result = await Podium(config, model=FunctionModel(answer)).arun("slow and fast")
    slow = result.tasks["slow"]
    assert slow.finished_at is not None
    # The whole chain finished while the slow task was still running.
    assert all((result.tasks[f].finished_at or 0) < slow.finished_at for f in ("f1", "f2", "f3"))
    assert (result.tasks["join"].started_at or 0) >= slow.finished_at


async def test_concurrency_limit_is_respected(config: PodiumConfig) -> None:
    config = config.model_copy(update={"run": config.run.model_copy(update={"concurrency": 2})})
    plan = [task(f"t{i}", "researcher") for i in range(6)] + [
        task("end", "writer", [f"t{i}" for i in range(6)])
    ]
    running = 0
    peak = 0

    async def answer(request: ModelRequest) -> Reply:
        nonlocal running, peak
        if request.purpose == "plan":
            return {"tasks": plan}
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1
        return "ok"

    result = await Podium(config, model=FunctionModel(answer)).arun("six at most two at a time")
    assert result.status == "completed"
    assert peak == 2
