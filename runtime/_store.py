"""Run records on disk (`data_dir/runs/<run_id>/run.json`) and the checkpointer they share."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ._errors import RunNotFoundError
from ._result import RunResult, RunStatus


class RunRecord(BaseModel):
    """What is known about a run without opening its checkpoints."""

    run_id: str
    goal: str
    status: RunStatus
    created_at: float
    updated_at: float
    error: str | None = None
    rejected_plans: list[dict[str, Any]] = []
    """Planner answers that were refused, kept when planning fails."""
    result: RunResult | None = None
    tenant: str = "default"
    """Whose run it is: scopes its shared memory (and, served over HTTP, who may see it)."""


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


class RunStore:
    """One folder per run; writes are atomic (write a temp file, then rename)."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir

    @property
    def checkpoint_path(self) -> Path:
        return self.runs_dir / "checkpoints.sqlite"

    def save(self, record: RunRecord) -> None:
        folder = self.runs_dir / record.run_id
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "run.json.tmp"
        tmp.write_text(record.model_dump_json(indent=2), encoding="utf-8")
        os.replace(tmp, folder / "run.json")

    def get(self, run_id: str) -> RunRecord:
        path = self.runs_dir / run_id / "run.json"
        try:
            return RunRecord.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunNotFoundError(
                f"no run {run_id!r} under {self.runs_dir}: list runs with `podium runs`"
            ) from None

    def list(self) -> list[RunRecord]:
        records = []
        for path in self.runs_dir.glob("*/run.json"):
            with contextlib.suppress(ValueError, OSError):
                records.append(
                    RunRecord.model_validate(json.loads(path.read_text(encoding="utf-8")))
                )
        return sorted(records, key=lambda r: r.created_at, reverse=True)


@contextlib.asynccontextmanager
async def sqlite_checkpointer(path: Path) -> AsyncIterator[Any]:
    """LangGraph's SQLite saver on `path`, opened for the length of a run.

    WAL with synchronous=NORMAL: a commit survives the process being killed (the failure
    `resume` exists for) without an fsync per task; only a power cut can lose the last commits.
    """
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path.parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(str(path)) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        yield AsyncSqliteSaver(conn)
