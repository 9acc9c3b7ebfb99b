"""Crash torture: run workflows in a subprocess, SIGKILL it at random points, resume, check.

Each run is started with `podium.evals.bench.torture_worker`; the harness kills the process at a
random moment (planning, mid-task, mid-tool-call, right after a checkpoint write, ...), resumes
it in a fresh process (which may be killed again), and repeats until the run finishes. Checks,
from the worker's log and the outside ledger rather than from Podium's own claims:
- lost_runs: runs that did not finish (completed) within `max_resumes` resumes;
- duplicated_tasks: a task whose result the checkpointer had durably written in one process
  and which then started again in a later one;
- duplicated_side_effects: a booking applied more than once in the ledger (which applies an
  entry once per idempotency key: a key that changed across a crash would show up here);
- wrong_answers: final answers that differ from an uninterrupted run's.
Also reported: tool_reexecutions (a side-effecting tool body that ran again after a kill, with
the same key, absorbed by the ledger), effects_replayed_from_journal, and kills by phase.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WORKER = "podium.evals.bench.torture_worker"
MARKERS = ("plan_created", "tool", "persisted", "task_started", "task_completed")
"""Log kinds the harness may kill on the instant they appear (the other kills are timed)."""


@dataclass
class Torture:
    workdir: Path
    backend: str = "sqlite"
    postgres_url: str | None = None
    seed: int = 0
    max_resumes: int = 12
    kill_resume_p: float = 0.5
    """Chance that a resume is killed too."""
    rng: random.Random = field(init=False)
    report: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ledger = self.workdir / "ledger.sqlite"

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PODIUM_CHECKPOINTER": self.backend}
        if self.postgres_url:
            env["PODIUM_POSTGRES_URL"] = self.postgres_url
        return env

    def start(self, mode: str, run_id: str, log: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                WORKER,
                mode,
                str(self.workdir / "data"),
                run_id,
                str(log),
                str(self.ledger),
            ],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def reference(self) -> tuple[str, float]:
        """An uninterrupted run: its answer, and how long its run phase took."""
        log = self.workdir / "reference.log"
        proc = self.start("run", "reference", log)
        out, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"the reference run failed:\n{err[-3000:]}")
        result = json.loads(out.strip().splitlines()[-1])
        records = _records(log)
        started = next(r["t"] for r in records if r["kind"] == "run_started")
        finished = next(r["t"] for r in records if r["kind"] == "run_finished")
        return result["answer"], finished - started

    def run_one(self, run_id: str, duration_s: float, answer: str) -> dict[str, Any]:
        """One run, killed and resumed until it completes. Returns its tallies."""
        log = self.workdir / f"{run_id}.log"
        kills: list[str] = []
        mode, result = "run", None
        for attempt in range(self.max_resumes + 1):
            proc = self.start(mode, run_id, log)
            kill = attempt == 0 or self.rng.random() < self.kill_resume_p
            phase = self._maybe_kill(proc, log, duration_s) if kill else None
            out, err = proc.communicate(timeout=300)
            if phase is not None:
                kills.append(phase)
            elif proc.returncode == 0:
                result = json.loads(out.strip().splitlines()[-1])
                break
            else:
                raise RuntimeError(
                    f"{run_id}: worker failed (exit {proc.returncode}):\n{err[-3000:]}"
                )
            mode = "resume"
        return {
            "run_id": run_id,
            "kills": kills,
            "result": result,
            "lost": result is None or result["status"] != "completed",
            "wrong": result is not None and result["answer"] != answer,
            "duplicated_tasks": _duplicated_tasks(_records(log)),
        }

    def _maybe_kill(self, proc: subprocess.Popen[str], log: Path, duration_s: float) -> str | None:
        """Kill `proc` at a random point of its run; None when it finished first."""
        pid = proc.pid
        if not _wait(log, pid, lambda r: r["kind"] in ("run_started",), proc, timeout=120):
            return None
        if self.rng.random() < 0.5:
            marker = self.rng.choice(MARKERS)
            skip = self.rng.randrange(3)
            seen = 0

            def hit(r: dict[str, Any]) -> bool:
                nonlocal seen
                if r["kind"] == marker:
                    seen += 1
                return seen > skip

            if not _wait(log, pid, hit, proc, timeout=60, poll=0.002):
                return None
            label = f"at {marker}"
        else:
            time.sleep(self.rng.uniform(0.0, duration_s))
            label = "timed"
        if proc.poll() is not None:
            return None
        phase = _phase(_records(log), pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return f"{label} ({phase})"


def _records(log: Path) -> list[dict[str, Any]]:
    records = []
    if log.exists():
        for line in log.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                records.append(json.loads(line))
    return records


def _wait(
    log: Path,
    pid: int,
    predicate: Any,
    proc: subprocess.Popen[str],
    *,
    timeout: float,
    poll: float = 0.01,
) -> bool:
    deadline = time.monotonic() + timeout
    offset = 0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if log.exists():
            with log.open() as f:
                f.seek(offset)
                chunk = f.read()
            lines = chunk.split("\n")
            offset += len(chunk) - len(lines[-1])
            for line in lines[:-1]:
                with contextlib.suppress(json.JSONDecodeError):
                    record = json.loads(line)
                    if record.get("pid") == pid and predicate(record):
                        return True
        time.sleep(poll)
    return False


def _phase(records: list[dict[str, Any]], pid: int) -> str:
    """Where the process was when killed, from its last log record."""
    mine = [r for r in records if r.get("pid") == pid]
    if not mine:
        return "starting"
    last = mine[-1]
    if last["kind"] in ("run_started", "plan_rejected"):
        return "planning"
    if last["kind"] == "tool":
        return "tool call"
    if last["kind"] == "persisted":
        return "after a checkpoint write"
    return f"after {last['kind']}"


def _duplicated_tasks(records: list[dict[str, Any]]) -> int:
    """Tasks durably checkpointed by one process that started again in a later process."""
    order: list[int] = []
    for r in records:
        if r["pid"] not in order:
            order.append(r["pid"])
    persisted_by: dict[str, int] = {}
    duplicates = 0
    for r in records:
        position = order.index(r["pid"])
        if r["kind"] == "persisted" and r.get("status") == "completed":
            persisted_by.setdefault(r["task_id"], position)
        elif (
            r["kind"] == "task_started"
            and r.get("task_id") in persisted_by
            and persisted_by[r["task_id"]] < position
        ):
            duplicates += 1
    return duplicates


def _ledger_tallies(ledger: Path) -> tuple[int, int]:
    """(bookings applied more than once, tool bodies that ran again under the same key)."""
    with contextlib.closing(sqlite3.connect(ledger)) as db:
        applied = db.execute(
            "SELECT COUNT(*) - COUNT(DISTINCT run_id || '/' || task_id || '/' || entry) FROM applied"
        ).fetchone()[0]
        reruns = db.execute("SELECT COUNT(*) - COUNT(DISTINCT key) FROM attempts").fetchone()[0]
    return int(applied), int(reruns)


def run_torture(
    kills: int,
    *,
    backend: str = "sqlite",
    postgres_url: str | None = None,
    seed: int = 0,
    workdir: Path | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Kill runs until at least `kills` kills have happened; returns the report."""
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="torture-")))
        torture = Torture(workdir, backend=backend, postgres_url=postgres_url, seed=seed)
        started = time.monotonic()
        answer, duration_s = torture.reference()
        runs: list[dict[str, Any]] = []
        total = 0
        while total < kills:
            run = torture.run_one(f"run-{len(runs)}", duration_s, answer)
            runs.append(run)
            total += len(run["kills"])
            if progress:
                progress(run)
        applied_twice, reruns = _ledger_tallies(torture.ledger)
        phases = collections.Counter(
            k.split(" (", 1)[1].rstrip(")") for r in runs for k in r["kills"]
        )
        return {
            "backend": backend,
            "seed": seed,
            "runs": len(runs),
            "kills": total,
            "duplicated_tasks": sum(r["duplicated_tasks"] for r in runs),
            "duplicated_side_effects": applied_twice,
            "lost_runs": sum(r["lost"] for r in runs),
            "wrong_answers": sum(r["wrong"] for r in runs),
            "tool_reexecutions": reruns,
            "kills_by_phase": dict(phases),
            "reference_run_s": round(duration_s, 3),
            "seconds": round(time.monotonic() - started, 1),
        }
