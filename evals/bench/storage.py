"""What checkpointing costs per task: the same zero-latency run on each storage backend, minus memory.

checkpoint_ms_per_task = (median wall time with the backend - median wall time with LangGraph's
in-memory saver) / tasks. Both runs do everything else alike (planning, dispatch, records), so
the difference is the durable writes. A ratio of two runs in one process holds on a noisy machine.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from podium.runtime import Podium, PodiumConfig

from ._report import machine, write_report
from .dag import BenchGraph, _model, wide_graph

Backend = Literal["memory", "sqlite", "postgres"]


async def _wall_s(
    graph: BenchGraph, backend: Backend, data_dir: Path, postgres_url: str | None
) -> float:
    storage: dict[str, Any] = {"data_dir": str(data_dir), "checkpointer": backend}
    if backend == "postgres":
        storage["postgres_url"] = postgres_url
    config = PodiumConfig.from_mapping(
        {"storage": storage, "run": {"concurrency": 64}, "memory": {"enabled": False}}
    )
    podium = Podium(config, model=_model(graph, 0.0))
    try:
        started = time.perf_counter()
        result = await podium.arun(f"storage benchmark on {backend}")
        wall = time.perf_counter() - started
    finally:
        podium.close()
    assert result.status == "completed", result.error
    return wall


async def measure_checkpoint_overhead(
    backends: list[Backend], *, postgres_url: str | None = None, width: int = 20, repeat: int = 5
) -> dict[str, Any]:
    """Per backend: wall times of `repeat` runs of a `width`-wide graph, and ms per task over memory."""
    graph = wide_graph(width)
    n_tasks = len(graph.tasks)
    walls: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="podium-bench-storage-") as tmp:
        for backend in ["memory", *backends]:  # the first run of each also pays its imports
            await _wall_s(graph, backend, Path(tmp) / f"{backend}-warmup", postgres_url)
        for i in range(repeat):  # interleaved, so drift on the machine hits every backend alike
            for backend in ["memory", *backends]:
                wall = await _wall_s(graph, backend, Path(tmp) / f"{backend}-{i}", postgres_url)
                walls.setdefault(backend, []).append(wall)
    baseline = statistics.median(walls["memory"])
    return {
        "tasks": n_tasks,
        "memory_wall_s": [round(w, 4) for w in walls["memory"]],
        "backends": {
            backend: {
                "wall_s": [round(w, 4) for w in walls[backend]],
                "checkpoint_ms_per_task": round(
                    (statistics.median(walls[backend]) - baseline) / n_tasks * 1000, 3
                ),
                "over_memory": round(statistics.median(walls[backend]) / baseline, 3),
            }
            for backend in backends
        },
    }


def run_storage_bench(
    *, json_out: Path, postgres_url: str | None = None, repeat: int = 5
) -> dict[str, Any]:
    """Measure SQLite, and Postgres when `postgres_url` is given; print and write JSON."""
    backends: list[Backend] = ["sqlite"]
    if postgres_url:
        backends.append("postgres")
    figures = asyncio.run(
        measure_checkpoint_overhead(backends, postgres_url=postgres_url, repeat=repeat)
    )
    report = {"benchmark": "storage", "machine": machine(), **figures}
    write_report(json_out, report)
    for backend, f in figures["backends"].items():
        print(
            f"{backend:8} {f['checkpoint_ms_per_task']:.2f} ms/task of checkpointing "
            f"({f['over_memory']:.2f}x the in-memory run)"
        )
    print(f"-> {json_out}")
    return report


if __name__ == "__main__":
    import os

    run_storage_bench(
        json_out=Path("bench-results/storage.json"),
        postgres_url=os.environ.get("PODIUM_POSTGRES_URL"),
    )
