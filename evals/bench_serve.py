"""`podium bench serve`: many concurrent runs submitted to a real `podium serve` over HTTP.

A uvicorn server runs in a subprocess (this module's `serve` entry point: the app
`create_app` builds, on `serve`, as `podium serve` runs it) with a scripted model of fixed
latency per call. The client, in this process, submits N goals at once (`POST /runs`, one
connection each), follows each run's SSE stream (`GET /runs/{id}/events`) to its end, then
checks every run's record. Reported:

- runs_per_s: N / (first submission to last run_finished event);
- first_event_ms: submission start to the first SSE event of the run (run_started), p50/p99;
- completion_ms: submission start to the run_finished event, p50/p99;
- lost_runs: runs submitted that did not end `completed` (a refused submission, a stream
  that broke, a run that failed), also checked against GET /runs.

Each run is a 3-task plan (two parallel researchers, then a writer): 4 model calls, 3 on the
critical path. Shared memory is off (its embedding per write has `podium bench memory`);
storage is the default (run records as files, SQLite checkpoints).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._report import machine, write_report

PLAN = [
    {"id": "a", "agent": "researcher", "instruction": "Find the facts about A.", "inputs": []},
    {"id": "b", "agent": "researcher", "instruction": "Find the facts about B.", "inputs": []},
    {"id": "c", "agent": "writer", "instruction": "Write them up.", "inputs": ["a", "b"]},
]
TARGET_RUNS = 500
TARGET_P99_FIRST_EVENT_MS = 250.0


def scripted_podium(
    data_dir: Path, latency_s: float, concurrency: int, workers: int = 0, profile: str | None = None
) -> Any:
    """The server's runtime: default storage under `data_dir`, a model that answers in `latency_s`.

    Module-level with plain arguments, so `functools.partial` of it can go to worker processes."""
    from podium.runtime import ModelRequest, Podium, PodiumConfig
    from podium.runtime.testing import FunctionModel, Reply

    def answer(request: ModelRequest) -> Reply:
        if request.purpose in ("plan", "replan"):
            return {"tasks": PLAN}
        return f"Findings for {request.task_id or request.purpose}: all well."

    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(data_dir)},
            "memory": {"enabled": False},
            "server": {"concurrency": concurrency, "queue_size": 10_000, "workers": workers},
        }
    )
    return Podium(config, model=FunctionModel(answer, latency_s=latency_s))


def _serve_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m podium.evals.bench_serve serve")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--latency-ms", type=float, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args(argv)
    from podium.evals.bench_serve import scripted_podium as importable  # not __main__'s
    from podium.runtime import create_app, serve

    factory = functools.partial(
        importable, args.data_dir, args.latency_ms / 1000, args.concurrency, args.workers
    )
    app = create_app(factory)

    def ready(port: int) -> None:
        print(f"PORT {port}", flush=True)

    serve(app, host="127.0.0.1", port=0, access_log=False, on_ready=ready)


@dataclass
class Timing:
    run_id: str | None = None
    submitted_ms: float | None = None
    first_event_ms: float | None = None
    started_ms: float | None = None
    completion_ms: float | None = None
    status: str | None = None
    error: str | None = None


async def _one(session: Any, base_url: str) -> Timing:
    timing = Timing()
    start = time.perf_counter()
    try:
        async with session.post(
            f"{base_url}/runs", json={"goal": "Research A and B and write it up"}
        ) as response:
            body = await response.read()
        timing.submitted_ms = (time.perf_counter() - start) * 1000
        if response.status != 202:
            timing.error = f"POST /runs: {response.status} {body[:200]!r}"
            return timing
        timing.run_id = json.loads(body)["run_id"]
        async with session.get(f"{base_url}/runs/{timing.run_id}/events") as stream:
            kind = ""
            async for raw in stream.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event:"):
                    kind = line[6:].strip()
                    now = (time.perf_counter() - start) * 1000
                    if timing.first_event_ms is None:
                        timing.first_event_ms = now
                    if kind == "run_started" and timing.started_ms is None:
                        timing.started_ms = now
                elif line.startswith("data:") and kind == "run_finished":
                    timing.completion_ms = (time.perf_counter() - start) * 1000
                    timing.status = json.loads(line[5:])["status"]
    except Exception as exc:  # counted as a lost run, with the reason
        timing.error = f"{type(exc).__name__}: {exc}"
    return timing


async def _drive(base_url: str, runs: int) -> tuple[list[Timing], float, dict[str, str]]:
    import aiohttp

    # aiohttp rather than httpx: httpx's connection pool scans every connection per request,
    # and at 500 connections the client spent more CPU than the server it measured.
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for _ in range(3):  # warm-up: first-run imports and guard construction are not measured
            warm = await _one(session, base_url)
            if warm.status != "completed":
                raise RuntimeError(f"warm-up run did not complete: {warm}")
        t0 = time.perf_counter()
        timings = await asyncio.gather(*(_one(session, base_url) for _ in range(runs)))
        wall = time.perf_counter() - t0
        async with session.get(f"{base_url}/runs", params={"limit": "1000"}) as listed:
            statuses = {r["run_id"]: r["status"] for r in await listed.json()}
    return list(timings), wall, statuses


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_serve_bench(
    *,
    json_out: Path,
    runs: int = TARGET_RUNS,
    latency_ms: float = 100.0,
    concurrency: int | None = None,
    workers: int = 2,
) -> dict[str, Any]:
    """Start the server, drive `runs` concurrent runs through it, write the report."""
    concurrency = concurrency or runs
    with tempfile.TemporaryDirectory(prefix="podium-bench-serve-") as tmp:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "podium.evals.bench_serve",
                "serve",
                "--data-dir",
                tmp,
                "--latency-ms",
                str(latency_ms),
                "--concurrency",
                str(concurrency),
                "--workers",
                str(workers),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            port = _wait_for_port(server)
            timings, wall, statuses = asyncio.run(_drive(f"http://127.0.0.1:{port}", runs))
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    completed = [t for t in timings if t.status == "completed"]
    lost = [t for t in timings if t.status != "completed"]
    unrecorded = [t for t in completed if statuses.get(t.run_id or "") != "completed"]
    first = [t.first_event_ms for t in timings if t.first_event_ms is not None]
    done = [t.completion_ms for t in completed if t.completion_ms is not None]
    started = [t.started_ms for t in timings if t.started_ms is not None]
    critical_path_ms = 3 * latency_ms
    report: dict[str, Any] = {
        "benchmark": "serve",
        "runs": runs,
        "concurrency": concurrency,
        "workers": workers,
        "latency_ms_per_call": latency_ms,
        "calls_per_run": 4,
        "critical_path_ms": critical_path_ms,
        "completed_runs": len(completed),
        "lost_runs": len(lost) + len(unrecorded),
        "lost_examples": [t.error or t.status for t in lost[:5]],
        "wall_s": round(wall, 3),
        "runs_per_s": round(len(completed) / wall, 2) if wall else 0.0,
        "p50_submit_ms": round(_pct([t.submitted_ms for t in timings if t.submitted_ms], 0.5), 1),
        "p99_submit_ms": round(_pct([t.submitted_ms for t in timings if t.submitted_ms], 0.99), 1),
        "p50_first_event_ms": round(_pct(first, 0.5), 1),
        "p99_first_event_ms": round(_pct(first, 0.99), 1),
        "p50_run_started_ms": round(_pct(started, 0.5), 1),
        "p99_run_started_ms": round(_pct(started, 0.99), 1),
        "p50_completion_ms": round(_pct(done, 0.5), 1),
        "p99_completion_ms": round(_pct(done, 0.99), 1),
        "targets": {"runs": TARGET_RUNS, "lost_runs": 0, "p99_first_event_ms": 250.0},
        "machine": machine(),
        "storage": "default: run records as files, SQLite checkpoints; shared memory off",
    }
    report["targets_met"] = (
        runs >= TARGET_RUNS
        and report["lost_runs"] == 0
        and report["p99_first_event_ms"] <= TARGET_P99_FIRST_EVENT_MS
    )
    write_report(json_out, report)
    print(
        f"{runs} concurrent runs ({latency_ms:g} ms a call, critical path {critical_path_ms:g} ms): "
        f"{report['runs_per_s']} runs/s, lost {report['lost_runs']}, first event p50 "
        f"{report['p50_first_event_ms']} / p99 {report['p99_first_event_ms']} ms (target <= 250), "
        f"run_started p99 {report['p99_run_started_ms']} ms, "
        f"completion p50 {report['p50_completion_ms']} / p99 {report['p99_completion_ms']} ms "
        f"-> {json_out}"
    )
    return report


def _wait_for_port(server: subprocess.Popen[str], timeout_s: float = 120.0) -> int:
    assert server.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if line.startswith("PORT "):
            return int(line.split()[1])
        if not line and server.poll() is not None:
            raise RuntimeError(f"the benchmark server exited with {server.returncode}")
    raise RuntimeError("the benchmark server did not start in time")


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        _serve_main(sys.argv[2:])
    else:
        parser = argparse.ArgumentParser(prog="python -m podium.evals.bench_serve")
        parser.add_argument("--json-out", type=Path, default=Path("bench-results/serve.json"))
        parser.add_argument("--runs", type=int, default=TARGET_RUNS)
        parser.add_argument("--latency-ms", type=float, default=100.0)
        parser.add_argument("--workers", type=int, default=2)
        args = parser.parse_args()
        run_serve_bench(
            json_out=args.json_out, runs=args.runs, latency_ms=args.latency_ms, workers=args.workers
        )
