"""`podium bench peers`: Podium beside langgraph-supervisor, a raw LangGraph graph and a sequential supervisor.

Every system runs the same workloads in one process with the same fixed model latency per call,
so only orchestration differs; every figure is a ratio between systems of the same run.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from podium.runtime import ModelRequest, Podium, PodiumConfig
from podium.runtime.testing import FunctionModel, Reply

from ._report import machine, write_report
from .peer_raw_langgraph import run_raw_langgraph
from .peer_workloads import PeerWorkload, all_workloads

LLMCOMPILER_SPEEDUP = 3.7
"""LLMCompiler (Kim et al., 2024): latency speedup over sequential ReAct on its most parallel benchmark."""
TARGETS = {
    "speedup_vs_sequential_wide": 4.0,
    "makespan_over_critical_path_max": 1.10,
    "calls_ratio_vs_langgraph_supervisor": 1.0,
    "overhead_ratio_vs_raw_langgraph": 2.0,
}
PODIUM_CONCURRENCY = 32
TIMED_RUNS = 3
"""Timed runs per system and workload; the median counts (one run is at the mercy of a hiccup)."""
ZERO_RUNS = 5


@dataclass(frozen=True)
class SystemRun:
    system: str
    workload: str
    makespan_s: float
    critical_path_s: float
    model_calls: int
    total_tokens: int
    overhead_ms_per_task: float
    peak_memory_mb: float
    note: str = ""

    @property
    def over_critical_path(self) -> float:
        return self.makespan_s / self.critical_path_s if self.critical_path_s else 0.0


def _podium_model(workload: PeerWorkload, latency_s: float) -> FunctionModel:
    units = {t.id: t.units for t in workload.tasks}
    plan = workload.plan_json()

    async def answer(request: ModelRequest) -> Reply:
        if latency_s:
            await asyncio.sleep(units.get(request.task_id or "", 1.0) * latency_s)
        return (
            plan if request.purpose == "plan" else f"output of {request.task_id or request.purpose}"
        )

    return FunctionModel(answer)


async def _podium(
    workload: PeerWorkload, latency_s: float, data: Path, concurrency: int
) -> tuple[float, int, int]:
    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(data)},
            "run": {"concurrency": concurrency},
            "planner": {"max_tasks": max(100, len(workload.tasks))},
            # The peers have no shared memory: compare orchestration with orchestration.
            "memory": {"enabled": False},
        }
    )
    podium = Podium(config, model=_podium_model(workload, latency_s))
    started = time.perf_counter()
    result = await podium.arun(f"benchmark {workload.name}")
    makespan = time.perf_counter() - started
    if result.status != "completed":
        raise RuntimeError(f"podium failed on {workload.name}: {result.error}")
    return makespan, result.usage.calls, result.usage.total_tokens


def _podium_critical_units(workload: PeerWorkload) -> float:
    """Planner call + longest chain + a synthesis call when the graph has several final tasks."""
    consumed = {i for t in workload.tasks for i in t.inputs}
    sinks = [t for t in workload.tasks if t.id not in consumed]
    return 1.0 + workload.critical_units() + (1.0 if len(sinks) > 1 else 0.0)


async def _peak_mb(run: Callable[[], Awaitable[Any]]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        await run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


async def _quiet(
    run: Callable[[float, Path], Awaitable[tuple[float, int, int]]], latency_s: float, data: Path
) -> tuple[float, int, int]:
    gc.collect()  # the previous system's garbage must not be collected inside this system's timing
    return await run(latency_s, data)


async def _measure_system(
    system: str,
    workload: PeerWorkload,
    latency_s: float,
    run: Callable[[float, Path], Awaitable[tuple[float, int, int]]],
    critical_units: float,
    tmp: Path,
    note: str = "",
) -> SystemRun:
    timed = [
        await _quiet(run, latency_s, tmp / f"{system}-{workload.name}-timed{i}")
        for i in range(TIMED_RUNS)
    ]
    makespan = statistics.median(t[0] for t in timed)
    _, calls, tokens = timed[0]
    zero = [
        (await _quiet(run, 0.0, tmp / f"{system}-{workload.name}-zero{i}"))[0]
        for i in range(ZERO_RUNS)
    ]
    peak = await _peak_mb(lambda: run(0.0, tmp / f"{system}-{workload.name}-mem"))
    return SystemRun(
        system=system,
        workload=workload.name,
        makespan_s=round(makespan, 4),
        critical_path_s=round(critical_units * latency_s, 4),
        model_calls=calls,
        total_tokens=tokens,
        overhead_ms_per_task=round(statistics.median(zero) / len(workload.tasks) * 1000, 3),
        peak_memory_mb=round(peak, 2),
        note=note,
    )


async def _runs_for(workload: PeerWorkload, latency_s: float, tmp: Path) -> list[SystemRun]:
    async def podium(lat: float, data: Path) -> tuple[float, int, int]:
        return await _podium(workload, lat, data, PODIUM_CONCURRENCY)

    async def sequential(lat: float, data: Path) -> tuple[float, int, int]:
        return await _podium(workload, lat, data, 1)

    async def raw(lat: float, data: Path) -> tuple[float, int, int]:
        await asyncio.to_thread(data.mkdir, parents=True, exist_ok=True)
        r = await run_raw_langgraph(workload, lat, data / "raw.sqlite")
        return r.makespan_s, r.model_calls, r.total_tokens

    podium_critical = _podium_critical_units(workload)
    runs = [
        await _measure_system("podium", workload, latency_s, podium, podium_critical, tmp),
        await _measure_system(
            "podium-sequential",
            workload,
            latency_s,
            sequential,
            podium_critical,
            tmp,
            "Podium with concurrency 1: the sequential supervisor",
        ),
        await _measure_system(
            "raw-langgraph",
            workload,
            latency_s,
            raw,
            workload.critical_units(),
            tmp,
            "hand-built StateGraph, no planner; a task waits for its superstep",
        ),
    ]
    supervisor = await _langgraph_supervisor(workload, latency_s, tmp)
    if supervisor is not None:
        runs.append(supervisor)
    return runs


async def _langgraph_supervisor(
    workload: PeerWorkload, latency_s: float, tmp: Path
) -> SystemRun | None:
    try:
        from .peer_langgraph_supervisor import run_langgraph_supervisor
    except ImportError:  # the `bench` extra is not installed
        return None

    async def run(lat: float, _: Path) -> tuple[float, int, int]:
        r = await run_langgraph_supervisor(workload, lat)
        return r.makespan_s, r.model_calls, r.total_tokens

    probe = await run_langgraph_supervisor(workload, 0.0)
    return await _measure_system(
        "langgraph-supervisor",
        workload,
        latency_s,
        run,
        workload.total_units() + len(workload.tasks) + 1,
        tmp,
        probe.note,
    )


def _cold_start_s(code: list[str], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(code, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 4)


def _summarise(runs: list[SystemRun]) -> dict[str, Any]:
    by = {(r.system, r.workload): r for r in runs}
    names = sorted({r.workload for r in runs}, key=[r.workload for r in runs].index)
    podium = [by["podium", w] for w in names]
    workflow_names = [
        w for w in ("sales", "recruiting", "research", "support", "compliance") if w in names
    ]
    lgs = [(by["podium", w], by.get(("langgraph-supervisor", w))) for w in workflow_names]
    summary: dict[str, Any] = {
        "makespan_over_critical_path_max": round(max(r.over_critical_path for r in podium), 4),
        "overhead_ratio_vs_raw_langgraph": round(
            max(
                by["podium", w].overhead_ms_per_task / by["raw-langgraph", w].overhead_ms_per_task
                for w in names
            ),
            3,
        ),
        "llmcompiler_speedup_line": LLMCOMPILER_SPEEDUP,
    }
    if "wide" in names:
        sequential, parallel = by["podium-sequential", "wide"], by["podium", "wide"]
        summary["speedup_vs_sequential_wide"] = round(
            sequential.makespan_s / parallel.makespan_s, 3
        )
    if lgs and all(s is not None for _, s in lgs):
        summary["calls_ratio_vs_langgraph_supervisor"] = round(
            max(p.model_calls / s.model_calls for p, s in lgs if s is not None), 3
        )
    return summary


def _targets_met(summary: dict[str, Any]) -> dict[str, bool]:
    met = {}
    for key, target in TARGETS.items():
        if key in summary:
            met[key] = (
                summary[key] >= target
                if key == "speedup_vs_sequential_wide"
                else summary[key] <= target
            )
    return met


def markdown(report: dict[str, Any]) -> str:
    """The README's table: one row per workload, Podium's figures as ratios against each peer."""
    rows = [
        "| workload | tasks | Podium makespan / critical path | speedup vs sequential | vs raw LangGraph: makespan, overhead/task, peak mem | vs langgraph-supervisor: makespan, calls, tokens, overhead/task, peak mem |",
        "|---|---|---|---|---|---|",
    ]
    by = {(r["system"], r["workload"]): r for r in report["runs"]}
    for w in report["workloads"]:
        p, seq, raw, lgs = (
            by["podium", w["name"]],
            by["podium-sequential", w["name"]],
            by["raw-langgraph", w["name"]],
            by.get(("langgraph-supervisor", w["name"])),
        )
        versus_lgs = (
            "not run"
            if lgs is None
            else (
                f"{p['makespan_s'] / lgs['makespan_s']:.2f}x, {p['model_calls']}/{lgs['model_calls']} calls, "
                f"{p['total_tokens'] / lgs['total_tokens']:.2f}x, {p['overhead_ms_per_task'] / lgs['overhead_ms_per_task']:.2f}x, "
                f"{p['peak_memory_mb'] / max(lgs['peak_memory_mb'], 0.01):.2f}x"
            )
        )
        rows.append(
            f"| {w['name']} | {w['tasks']} | {p['over_critical_path']:.3f} | {seq['makespan_s'] / p['makespan_s']:.2f}x | "
            f"{p['makespan_s'] / raw['makespan_s']:.2f}x, {p['overhead_ms_per_task'] / raw['overhead_ms_per_task']:.2f}x, "
            f"{p['peak_memory_mb'] / max(raw['peak_memory_mb'], 0.01):.2f}x | {versus_lgs} |"
        )
    s = report["summary"]
    notes = {r["system"]: r["note"] for r in report["runs"] if r["note"]}
    rows.append("")
    rows += [f"- {system}: {note}" for system, note in notes.items()]
    rows.append("")
    rows.append(
        f"Ratios are Podium ÷ peer (below 1 is better for Podium, except speedup). Model latency {report['latency_ms_per_call']:.0f} ms a call; "
        f"Podium concurrency {PODIUM_CONCURRENCY}; SQLite checkpoints for Podium and raw LangGraph. "
        f"Cold start: `podium --help` {report['cold_start_s']['podium_help']:.3f} s, `import podium.runtime` "
        f"{report['cold_start_s']['import_podium_runtime']:.3f} s, `from podium.runtime import Podium` {report['cold_start_s']['import_podium_api']:.3f} s. "
        f"Speedup over the sequential supervisor on the wide fan-out: {s.get('speedup_vs_sequential_wide', 0):.2f}x "
        f"(LLMCompiler's line: {LLMCOMPILER_SPEEDUP}x)."
    )
    return "\n".join(rows) + "\n"


async def _measure(latency_s: float, only: list[str] | None) -> dict[str, Any]:
    workloads = [w for w in all_workloads() if not only or w.name in only]
    runs: list[SystemRun] = []
    with tempfile.TemporaryDirectory(prefix="podium-bench-peers-") as tmp:
        await _podium(
            workloads[0], 0.0, Path(tmp) / "warmup", PODIUM_CONCURRENCY
        )  # imports out of the figures
        for workload in workloads:
            runs += await _runs_for(workload, latency_s, Path(tmp))
    return {
        "workloads": [
            {"name": w.name, "tasks": len(w.tasks), "description": w.description} for w in workloads
        ],
        "runs": [asdict(r) | {"over_critical_path": round(r.over_critical_path, 4)} for r in runs],
        "summary": _summarise(runs),
    }


def run_peers_bench(
    *, json_out: Path, md_out: Path | None, latency_s: float = 0.1, only: list[str] | None = None
) -> dict[str, Any]:
    measured = asyncio.run(_measure(latency_s, only))
    python = sys.executable
    report: dict[str, Any] = {
        "benchmark": "peers",
        "latency_ms_per_call": latency_s * 1000,
        "machine": machine(),
        "cold_start_s": {
            "podium_help": _cold_start_s([python, "-m", "podium.runtime.cli", "--help"]),
            "import_podium_runtime": _cold_start_s([python, "-c", "import podium.runtime"]),
            "import_podium_api": _cold_start_s([python, "-c", "from podium.runtime import Podium"]),
        },
        "targets": TARGETS,
        **measured,
    }
    report.update(report.pop("summary"))
    report["targets_met"] = _targets_met(report)
    report["summary"] = {k: report[k] for k in TARGETS if k in report}
    write_report(json_out, report)
    table = markdown(report)
    if md_out is not None:
        md_out.parent.mkdir(parents=True, exist_ok=True)
        md_out.write_text(table, encoding="utf-8")
    print(table)
    print(
        json.dumps({"summary": report["summary"], "targets_met": report["targets_met"]}, indent=2)
    )
    return report
