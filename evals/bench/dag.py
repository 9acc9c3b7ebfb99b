"""`podium bench dag`: does dispatch follow dependencies, and what does Podium cost per task?

Figures are ratios measured in one process, so they hold on a noisy machine:
- makespan_over_critical_path: wall time of a run over the longest dependency chain of model
  latencies (planner + chain + final task). 1.0 is the physical limit; a superstep barrier
  would show up here as a large ratio on the mixed graph.
- overhead_ms_per_task: the same graphs with zero model latency, SQLite checkpointing on,
  wall time divided by the number of tasks: everything Podium itself does per task.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.runtime import ModelRequest, Plan, Podium, PodiumConfig, RunResult
from podium.runtime.testing import FunctionModel, Reply

from ._report import machine, write_report


@dataclass(frozen=True)
class BenchGraph:
    """A plan, and how many model-latency units each task's call takes."""

    name: str
    tasks: list[dict[str, Any]]
    units: Mapping[str, float]

    def plan(self) -> Plan:
        return Plan.model_validate({"tasks": self.tasks})

    def critical_units(self) -> float:
        """Planner call + the longest chain of task calls (a single final task needs no synthesis call)."""
        return 1.0 + self.plan().critical_path(dict(self.units))


def wide_graph(width: int = 20) -> BenchGraph:
    tasks: list[dict[str, Any]] = [
        {"id": f"g{i}", "agent": "researcher", "instruction": f"gather fact {i}", "inputs": []}
        for i in range(1, width + 1)
    ]
    tasks.append(
        {
            "id": "synth",
            "agent": "synthesizer",
            "instruction": "combine the facts",
            "inputs": [t["id"] for t in tasks],
        }
    )
    return BenchGraph("wide", tasks, {t["id"]: 1.0 for t in tasks})


def mixed_graph(chain: int = 5, slow_units: float = 6.0) -> BenchGraph:
    tasks: list[dict[str, Any]] = [
        {"id": "slow", "agent": "researcher", "instruction": "deep dig", "inputs": []}
    ]
    previous: list[str] = []
    for i in range(1, chain + 1):
        tasks.append(
            {
                "id": f"f{i}",
                "agent": "enricher",
                "instruction": f"fast step {i}",
                "inputs": previous,
            }
        )
        previous = [f"f{i}"]
    tasks.append(
        {
            "id": "join",
            "agent": "writer",
            "instruction": "join both branches",
            "inputs": ["slow", *previous],
        }
    )
    units = {t["id"]: 1.0 for t in tasks} | {"slow": slow_units}
    return BenchGraph("mixed", tasks, units)


def superstep_units(graph: BenchGraph) -> float:
    """What a barrier-per-superstep executor would take: each level waits for its slowest task."""
    plan = graph.plan()
    depth: dict[str, int] = {}
    for t in plan.topological_order():
        depth[t.id] = 1 + max((depth[i] for i in t.inputs), default=0)
    levels: dict[int, float] = {}
    for task_id, d in depth.items():
        levels[d] = max(levels.get(d, 0.0), graph.units[task_id])
    return 1.0 + sum(levels.values())


def _model(graph: BenchGraph, unit_s: float) -> FunctionModel:
    plan_json = json.dumps({"tasks": graph.tasks})

    async def answer(request: ModelRequest) -> Reply:
        if request.purpose in ("plan", "replan"):
            units = 1.0
            text = plan_json
        else:
            units = graph.units.get(request.task_id or "", 1.0)
            text = f"output of {request.task_id}"
        if unit_s:
            await asyncio.sleep(units * unit_s)
        return text

    return FunctionModel(answer)


async def _run(graph: BenchGraph, unit_s: float, data_dir: Path) -> tuple[float, RunResult]:
    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(data_dir), "checkpointer": "sqlite"},
            "run": {"concurrency": 64},
            # Dispatch alone: shared memory's cost is measured by `podium bench memory`.
            "memory": {"enabled": False},
        }
    )
    podium = Podium(config, model=_model(graph, unit_s))
    started = time.perf_counter()
    result = await podium.arun(f"benchmark {graph.name}")
    return time.perf_counter() - started, result


async def _measure(latency_s: float, repeat: int) -> dict[str, Any]:
    graphs = [wide_graph(), mixed_graph()]
    report: dict[str, Any] = {"graphs": {}}
    with tempfile.TemporaryDirectory(prefix="podium-bench-") as tmp:
        await _run(
            graphs[0], 0.0, Path(tmp) / "warmup"
        )  # imports and first-use costs out of the figures
        for graph in graphs:
            wall, result = await _run(graph, latency_s, Path(tmp) / f"{graph.name}-latency")
            assert result.status == "completed", result.error
            critical = graph.critical_units() * latency_s
            zero = [
                (await _run(graph, 0.0, Path(tmp) / f"{graph.name}-zero-{i}"))[0]
                for i in range(repeat)
            ]
            n_tasks = len(graph.tasks)
            report["graphs"][graph.name] = {
                "tasks": n_tasks,
                "makespan_s": round(wall, 4),
                "critical_path_s": round(critical, 4),
                "makespan_over_critical_path": round(wall / critical, 4),
                "superstep_barrier_makespan_s": round(superstep_units(graph) * latency_s, 4),
                "zero_latency_wall_s": [round(z, 4) for z in zero],
                "overhead_ms_per_task": round(statistics.median(zero) / n_tasks * 1000, 3),
                "model_calls": result.usage.calls,
            }
    figures = report["graphs"].values()
    report["makespan_over_critical_path"] = max(g["makespan_over_critical_path"] for g in figures)
    report["overhead_ms_per_task"] = max(g["overhead_ms_per_task"] for g in figures)
    return report


def run_dag_bench(*, json_out: Path, latency_s: float = 0.2, repeat: int = 3) -> dict[str, Any]:
    """Run the benchmark, print the figures, write JSON to `json_out`."""
    report = asyncio.run(_measure(latency_s, repeat))
    report = {
        "benchmark": "dag",
        "latency_ms_per_call": latency_s * 1000,
        "targets": {"makespan_over_critical_path": 1.10, "overhead_ms_per_task": 5.0},
        "machine": machine(),
        **report,
    }
    write_report(json_out, report)
    for name, g in report["graphs"].items():
        print(
            f"{name:6} {g['tasks']:3} tasks  makespan {g['makespan_s']:.3f}s  critical path {g['critical_path_s']:.3f}s  "
            f"ratio {g['makespan_over_critical_path']:.3f}  (a superstep barrier: {g['superstep_barrier_makespan_s']:.3f}s)  "
            f"overhead {g['overhead_ms_per_task']:.2f} ms/task"
        )
    print(
        f"makespan_over_critical_path={report['makespan_over_critical_path']:.3f} (target <= 1.10)  "
        f"overhead_ms_per_task={report['overhead_ms_per_task']:.2f} (target <= 5.0)  -> {json_out}"
    )
    return report
