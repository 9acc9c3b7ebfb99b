"""`podium bench ray`: a wide CPU-bound task graph on the asyncio executor and on a local Ray.

Every task of the graph is independent and calls one tool that burns a fixed amount of
pure-Python CPU (holding the GIL; calibrated to about `task_cpu_s` on this machine). On the
asyncio executor the tasks share the supervisor's process, so they run one after another
whatever the concurrency; on Ray each attempt runs in a worker process, `workers` at a time.

- asyncio_s / ray_s: wall time of the same run (plan, tasks, guards, checkpoints) on each
  executor; speedup = asyncio_s / ray_s (the ideal is `workers`, less the driver's share).
- ray_start_s: starting the local Ray (once per process); ray_cold_s: the first run on it,
  while its workers import Podium. Neither is in the speedup.
- load_avg_1m_before: the machine's load when the benchmark started. Workers need free cores:
  the speedup falls when other processes keep the machine's cores busy.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from podium.agents import AgentSpec
from podium.runtime import AssistantMessage, ModelRequest, Podium, PodiumConfig, ToolCall
from podium.runtime.testing import FunctionModel, Reply
from podium.tools import JSONValue, ToolContext, tool

from ._report import machine, write_report

SPEEDUP_TARGET = 0.75
"""Of the ideal speedup (one per worker): what is left after the driver's share and Ray's overhead."""


class BurnArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rounds: int = Field(ge=1)


def burn(rounds: int) -> int:
    """Pure-Python work: no I/O, no C extension releasing the GIL."""
    total = 0
    for i in range(rounds):
        total = (total + i * i) % 1_000_003
    return total


@tool(name="burn_cpu", scopes=("compute",))
async def burn_cpu(args: BurnArgs, ctx: ToolContext) -> JSONValue:
    """Crunch numbers for a while (CPU-bound)."""
    return burn(args.rounds)


CRUNCHER = AgentSpec(
    name="cruncher",
    description="Crunches numbers with burn_cpu.",
    system_prompt="Call burn_cpu once, then report its result.",
    tools=("burn_cpu",),
    scopes=("compute",),
)


@dataclass(frozen=True)
class CrunchModel:
    """The model double: plans `width` independent tasks; each calls burn_cpu once, then answers.

    Stateless and module-level, so each Ray worker imports it and holds its own copy."""

    width: int
    rounds: int

    def __call__(self, request: ModelRequest) -> Reply:
        if request.purpose == "plan":
            return {
                "tasks": [
                    {"id": f"t{i}", "agent": "cruncher", "instruction": f"crunch {i}", "inputs": []}
                    for i in range(self.width)
                ]
            }
        results = [m for m in request.messages if m["role"] == "tool"]
        if results:
            # The result as a model would quote it: the data, not the prompt's fence around it.
            lines = str(results[-1]["content"]).splitlines()
            data = lines[1] if lines and lines[0].startswith("<tool_result") else lines[0]
            return f"{request.task_id} crunched: {data}"
        call = ToolCall(id="burn", name="burn_cpu", arguments=f'{{"rounds": {self.rounds}}}')
        return AssistantMessage(tool_calls=(call,))


def calibrate(task_cpu_s: float) -> int:
    """Rounds of `burn` that take about `task_cpu_s` here."""
    rounds = 100_000
    while True:
        started = time.process_time()
        burn(rounds)
        took = time.process_time() - started
        if took >= 0.05:
            return max(1, int(rounds * task_cpu_s / took))
        rounds *= 4


def _config(data_dir: Path, executor: str, width: int, workers: int) -> PodiumConfig:
    return PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(data_dir)},
            "memory": {"enabled": False},
            "policies": {"escalation": "fail", "audit": False},
            "run": {
                "executor": executor,
                "concurrency": width,
                "synthesis": "last_task",
                "ray_num_cpus": workers,
            },
        }
    )


def _timed_run(podium: Podium, goal: str) -> float:
    started = time.perf_counter()
    result = asyncio.run(podium.arun(goal))
    took = time.perf_counter() - started
    if result.status != "completed":
        raise RuntimeError(f"the benchmark run did not complete: {result.status}: {result.error}")
    return took


def run_ray_bench(
    json_out: Path, *, width: int = 24, task_cpu_s: float = 0.5, workers: int = 2
) -> dict[str, Any]:
    """Run the benchmark, print the figures, write JSON to `json_out`."""
    load_before = os.getloadavg()[0]  # other work on the machine takes cores from the workers
    rounds = calibrate(task_cpu_s)
    model = FunctionModel(CrunchModel(width, rounds))
    with tempfile.TemporaryDirectory(prefix="podium-bench-ray-") as tmp:
        data = Path(tmp)

        def podium(executor: str) -> Podium:
            config = _config(data / executor, executor, width, workers)
            return Podium(config, model=model, agents=[CRUNCHER], tools=[burn_cpu])

        asyncio_s = _timed_run(podium("asyncio"), "crunch on asyncio")
        on_ray = podium("ray")
        started = time.perf_counter()
        asyncio.run(on_ray.executor.start())
        ray_start_s = time.perf_counter() - started
        ray_cold_s = _timed_run(on_ray, "crunch on a cold Ray")
        ray_s = _timed_run(on_ray, "crunch on Ray")
    report: dict[str, Any] = {
        "benchmark": "ray",
        "machine": machine(),
        "tasks": width,
        "task_cpu_s": task_cpu_s,
        "burn_rounds": rounds,
        "ray_workers": workers,
        "ray_version": importlib.metadata.version("ray"),
        "asyncio_s": round(asyncio_s, 3),
        "ray_s": round(ray_s, 3),
        "speedup": round(asyncio_s / ray_s, 3),
        "ray_start_s": round(ray_start_s, 3),
        "ray_cold_s": round(ray_cold_s, 3),
        "speedup_cold": round(asyncio_s / ray_cold_s, 3),
        "serial_cpu_s": round(width * task_cpu_s, 3),
        "load_avg_1m_before": round(load_before, 2),
        "target_speedup": SPEEDUP_TARGET * workers,
    }
    report["target_met"] = report["speedup"] >= report["target_speedup"]
    write_report(json_out, report)
    print(
        f"{width} CPU-bound tasks of ~{task_cpu_s:g}s: asyncio {asyncio_s:.2f}s, "
        f"Ray with {workers} workers {ray_s:.2f}s -> speedup {report['speedup']:.2f}x "
        f"(cold workers {ray_cold_s:.2f}s, {report['speedup_cold']:.2f}x; "
        f"Ray start {ray_start_s:.1f}s) -> {json_out}",
        file=sys.stderr,
    )
    return report
