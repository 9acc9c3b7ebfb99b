"""Run records and the checkpointer they share: files and SQLite by default, or one Postgres database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ValidationError

from ._errors import ConfigError, RunNotFoundError
from ._result import RunResult, RunStatus

if TYPE_CHECKING:
    from ._config import StorageConfig


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
    profile: str | None = None
    """The `[server.profiles]` entry a served run executes with (None: the server's own
    configuration); a server restarted later resumes the run with the same one."""


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


@runtime_checkable
class RunStore(Protocol):
    """Where run records live, and the LangGraph checkpointer that makes runs resumable.

    Methods are synchronous (a record is one small write) and safe to call from several
    coroutines or threads of one process at once.
    """

    def save(self, record: RunRecord) -> None:
        """Insert or replace the record of `record.run_id`."""
        ...

    def get(self, run_id: str) -> RunRecord:
        """The record of `run_id`; RunNotFoundError when there is none."""
        ...

    def list(self, *, tenant: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """Records newest first, optionally only one tenant's, at most `limit` of them."""
        ...

    def run_dir(self, run_id: str) -> Path:
        """The run's folder for files beside its record (an audit log), created on first ask."""
        ...

    def checkpointer(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """LangGraph's saver for this store, open for the length of one run."""
        ...

    def close(self) -> None:
        """Release connections (a later call opens them again)."""
        ...


def open_run_store(storage: StorageConfig) -> RunStore:
    """The store `[storage]` asks for: Postgres for `checkpointer = "postgres"`, else files."""
    runs_dir = storage.data_dir / "runs"
    if storage.checkpointer != "postgres":
        return FileRunStore(runs_dir)
    if storage.postgres_url is None:
        raise ConfigError(
            'storage.checkpointer is "postgres" but no database is given: set '
            "storage.postgres_url in podium.toml or the PODIUM_POSTGRES_URL environment variable"
        )
    from ._postgres import PostgresRunStore

    return PostgresRunStore(storage.postgres_url.get_secret_value(), runs_dir)


class FileRunStore:
    """One folder per run (`runs_dir/<run_id>/run.json`); writes are atomic (temp file, then
    rename). Checkpoints go to one SQLite file beside the folders."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir

    @property
    def checkpoint_path(self) -> Path:
        return self.runs_dir / "checkpoints.sqlite"

    def save(self, record: RunRecord) -> None:
        folder = self.run_dir(record.run_id)
        # A temp name per writer: two threads saving one run must not share a temp file.
        tmp = folder / f"run.json.{secrets.token_hex(4)}.tmp"
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

    def list(self, *, tenant: str | None = None, limit: int | None = None) -> list[RunRecord]:
        records = []
        for path in self.runs_dir.glob("*/run.json"):
            with contextlib.suppress(ValidationError, OSError):
                record = RunRecord.model_validate_json(path.read_text(encoding="utf-8"))
                if tenant is None or record.tenant == tenant:
                    records.append(record)
        records.sort(key=lambda r: (r.created_at, r.run_id), reverse=True)
        return records if limit is None else records[:limit]

    def run_dir(self, run_id: str) -> Path:
        folder = self.runs_dir / run_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def checkpointer(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return sqlite_checkpointer(self.checkpoint_path)

    def close(self) -> None:
        return None


@contextlib.asynccontextmanager
async def sqlite_checkpointer(path: Path) -> AsyncIterator[Any]:
    """LangGraph's SQLite saver on `path`, opened for the length of a run.

    WAL with synchronous=NORMAL: a commit survives the process being killed (the failure
    `resume` exists for) without an fsync per task; only a power cut can lose the last commits.
    Each statement commits on the connection's own thread (`_CommitEachStatement`).
    """
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path.parent.mkdir(parents=True, exist_ok=True)
    connect = aiosqlite.connect(str(path), factory=_CommitEachStatement, timeout=SQLITE_BUSY_S)
    async with connect as conn:
        await _switch_to_wal(conn)
        await conn.execute("PRAGMA synchronous=NORMAL")
        yield AsyncSqliteSaver(conn)


SQLITE_BUSY_S = 30.0
"""How long a write waits for another connection's (another run's, another process's) write."""


class _CommitStatements(sqlite3.Cursor):
    """A cursor whose writes commit as soon as the statement is done, on the same thread."""

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        super().execute(sql, parameters)
        if self.connection.in_transaction:
            self.connection.commit()
        return self

    def executemany(self, sql: str, parameters: Any, /) -> Self:
        super().executemany(sql, parameters)  # all rows in one transaction, as before
        if self.connection.in_transaction:
            self.connection.commit()
        return self


class _CommitEachStatement(sqlite3.Connection):
    """A connection whose every write statement is its own transaction, committed on the spot.

    LangGraph's saver writes a statement, then awaits `commit()` as a second call on
    aiosqlite's thread. In between, SQLite's write lock is held while the event loop comes
    round to the commit: with hundreds of runs on a loop (or a starved CPU) that is long
    enough for the writers of other connections and processes to wait out the busy timeout
    and fail "database is locked". Committing in the same call holds the lock only for the
    statement itself; the saver's own `commit()` then finds nothing to do. Each of the saver's
    writes is one statement (`executemany` keeps a task's writes in one transaction), so what
    is atomic stays atomic. A cancelled write can no longer leave a transaction open either.
    """

    def cursor(self, factory: Any = _CommitStatements) -> Any:
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)  # the C shortcut bypasses `cursor()`

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        return self.cursor().executemany(sql, parameters)


async def _switch_to_wal(conn: Any, attempts: int = 100) -> None:
    """Turning WAL on takes an exclusive lock and fails at once, busy timeout or not, when
    another connection (a concurrent run's) holds one: retry for a few seconds."""

    for attempt in range(attempts):
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.05)
