"""`podium bench serve`: many concurrent runs submitted to a real `podium serve` over HTTP.

A uvicorn server runs in a subprocess (this module's `serve` entry point: the app
`create_app` builds, on `serve`, as `podium serve` runs it) with a scripted model of fixed
latency per call. The client, in this process, submits N goals at once, one connection each,
and follows each run's events to its end, in two phases of N runs:

- one_request (the headline): `POST /runs` with `Accept: text/event-stream`: the answer is
  the run's SSE stream, starting with run_queued;
- two_requests: `POST /runs` (202 and the run id), then `GET /runs/{id}/events`.

Reported per phase:
- runs_per_s: completed runs / (first submission to last run_finished event);
- first_event_ms: submission start to the first SSE event of the run (run_queued), p50/p99;
- run_started_ms, completion_ms: to the run_started and run_finished events, p50/p99;
- lost_runs: runs submitted that did not end `completed` (a refused submission, a stream
  that broke, a run that failed), also checked against GET /runs; the top-level figure
  counts both phases.

Each run is a 3-task plan (two parallel researchers, then a writer): 4 model calls, 3 on the
critical path. Shared memory is off (its embedding per write has `podium bench memory`);
storage is the default (run records as files, SQLite checkpoints).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ._report import machine, write_report

T = TypeVar("T")
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
    parser = argparse.ArgumentParser(prog="python -m podium.evals.bench.serve serve")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--latency-ms", type=float, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args(argv)
    from podium.evals.bench.serve import scripted_podium as importable  # not __main__'s
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


async def _one(session: Any, base_url: str, *, one_request: bool = True) -> Timing:
    """Submit a goal and follow its events to the end: with one request (`POST /runs` with
    `Accept: text/event-stream`), or as a POST then `GET /runs/{id}/events`."""
    timing = Timing()
    start = time.perf_counter()
    goal = {"goal": "Research A and B and write it up"}
    try:
        async with contextlib.AsyncExitStack() as stack:
            if one_request:
                headers = {"Accept": "text/event-stream"}
                post = session.post(f"{base_url}/runs", json=goal, headers=headers)
                stream = await stack.enter_async_context(post)
                timing.submitted_ms = (time.perf_counter() - start) * 1000
                if stream.status != 200:
                    body = await stream.read()
                    timing.error = f"POST /runs: {stream.status} {body[:200]!r}"
                    return timing
                timing.run_id = stream.headers["X-Podium-Run-Id"]
            else:
                async with session.post(f"{base_url}/runs", json=goal) as response:
                    body = await response.read()
                timing.submitted_ms = (time.perf_counter() - start) * 1000
                if response.status != 202:
                    timing.error = f"POST /runs: {response.status} {body[:200]!r}"
                    return timing
                timing.run_id = json.loads(body)["run_id"]
                get = session.get(f"{base_url}/runs/{timing.run_id}/events")
                stream = await stack.enter_async_context(get)
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


@dataclass
class Phase:
    """N runs submitted at once, one way of following them."""

    timings: list[Timing]
    wall_s: float
    statuses: dict[str, str]
    """Each run's status as GET /runs lists it afterwards."""

    def figures(self) -> dict[str, Any]:
        timings = self.timings
        completed = [t for t in timings if t.status == "completed"]
        lost = [t for t in timings if t.status != "completed"]
        unrecorded = [t for t in completed if self.statuses.get(t.run_id or "") != "completed"]
        submitted = [t.submitted_ms for t in timings if t.submitted_ms is not None]
        first = [t.first_event_ms for t in timings if t.first_event_ms is not None]
        started = [t.started_ms for t in timings if t.started_ms is not None]
        done = [t.completion_ms for t in completed if t.completion_ms is not None]
        wall = self.wall_s
        return {
            "completed_runs": len(completed),
            "lost_runs": len(lost) + len(unrecorded),
            "lost_examples": [t.error or t.status for t in lost[:5]],
            "wall_s": round(wall, 3),
            "runs_per_s": round(len(completed) / wall, 2) if wall else 0.0,
            "p50_submit_ms": round(_pct(submitted, 0.5), 1),
            "p99_submit_ms": round(_pct(submitted, 0.99), 1),
            "p50_first_event_ms": round(_pct(first, 0.5), 1),
            "p99_first_event_ms": round(_pct(first, 0.99), 1),
            "p50_run_started_ms": round(_pct(started, 0.5), 1),
            "p99_run_started_ms": round(_pct(started, 0.99), 1),
            "p50_completion_ms": round(_pct(done, 0.5), 1),
            "p99_completion_ms": round(_pct(done, 0.99), 1),
        }


async def _drive(base_url: str, runs: int) -> dict[str, Phase]:
    """Warm up, then two phases of `runs` at once: followed on the submitting request
    (`one_request`), then by POST and a separate GET of the events (`two_requests`)."""
    import aiohttp

    # aiohttp rather than httpx: httpx's connection pool scans every connection per request,
    # and at 500 connections the client spent more CPU than the server it measured.
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=600)
    phases: dict[str, Phase] = {}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for _ in range(3):  # warm-up: first-run imports and guard construction are not measured
            warm = await _one(session, base_url)
            if warm.status != "completed":
                raise RuntimeError(f"warm-up run did not complete: {warm}")
        for name, one_request in (("one_request", True), ("two_requests", False)):
            t0 = time.perf_counter()
            timings = await asyncio.gather(
                *(_one(session, base_url, one_request=one_request) for _ in range(runs))
            )
            wall = time.perf_counter() - t0
            limit = {"limit": str(min(1000, runs))}
            async with session.get(f"{base_url}/runs", params=limit) as listed:
                statuses = {r["run_id"]: r["status"] for r in await listed.json()}
            phases[name] = Phase(list(timings), wall, statuses)
    return phases


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
    """Start the server, drive `runs` concurrent runs through it (twice: see `_drive`), write
    the report. The headline figures are the one-request phase's; `two_requests` has the other."""
    concurrency = concurrency or runs
    with tempfile.TemporaryDirectory(prefix="podium-bench-serve-") as tmp:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "podium.evals.bench.serve",
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
            phases = _run_client(_drive(f"http://127.0.0.1:{port}", runs))
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    critical_path_ms = 3 * latency_ms
    headline = phases["one_request"].figures()
    report: dict[str, Any] = {
        "benchmark": "serve",
        "runs": runs,
        "concurrency": concurrency,
        "workers": workers,
        "latency_ms_per_call": latency_ms,
        "calls_per_run": 4,
        "critical_path_ms": critical_path_ms,
        "submission": "POST /runs with Accept: text/event-stream (submit and follow, one request)",
        **headline,
        "two_requests": {
            "submission": "POST /runs, then GET /runs/{id}/events",
            **phases["two_requests"].figures(),
        },
        "targets": {"runs": TARGET_RUNS, "lost_runs": 0, "p99_first_event_ms": 250.0},
        "machine": machine(),
        "storage": "default: run records as files, SQLite checkpoints; shared memory off",
    }
    report["lost_runs"] += report["two_requests"]["lost_runs"]
    report["targets_met"] = (
        runs >= TARGET_RUNS
        and report["lost_runs"] == 0
        and report["p99_first_event_ms"] <= TARGET_P99_FIRST_EVENT_MS
    )
    write_report(json_out, report)
    two = report["two_requests"]
    print(
        f"{runs} concurrent runs ({latency_ms:g} ms a call, critical path {critical_path_ms:g} ms), "
        f"{workers} worker processes: {report['runs_per_s']} runs/s, lost {report['lost_runs']}, "
        f"first event p50 {report['p50_first_event_ms']} / p99 {report['p99_first_event_ms']} ms "
        f"(target <= 250), run_started p99 {report['p99_run_started_ms']} ms, completion p50 "
        f"{report['p50_completion_ms']} / p99 {report['p99_completion_ms']} ms; "
        f"as POST then GET: first event p50 {two['p50_first_event_ms']} / p99 "
        f"{two['p99_first_event_ms']} ms -> {json_out}"
    )
    return report


def _run_client(main: Coroutine[Any, Any, T]) -> T:
    """On uvloop when installed (it is with uvicorn[standard]): the client shares the machine's
    two cores with the server it measures, and should take as little of them as it can."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


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
        parser = argparse.ArgumentParser(prog="python -m podium.evals.bench.serve")
        parser.add_argument("--json-out", type=Path, default=Path("bench-results/serve.json"))
        parser.add_argument("--runs", type=int, default=TARGET_RUNS)
        parser.add_argument("--latency-ms", type=float, default=100.0)
        parser.add_argument("--workers", type=int, default=2)
        args = parser.parse_args()
        run_serve_bench(
            json_out=args.json_out, runs=args.runs, latency_ms=args.latency_ms, workers=args.workers
        )
