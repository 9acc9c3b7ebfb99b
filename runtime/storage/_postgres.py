"""Run records and LangGraph checkpoints in one Postgres database (`[storage] checkpointer = "postgres"`)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import TupleRow, dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from .._errors import ConfigError, RunNotFoundError, StorageError
from ._store import RunRecord

CONNECT_TIMEOUT_S = 10
"""How long to wait for a server that does not answer (a TCP host behind a firewall)."""

RUNS_TABLE = (
    """CREATE TABLE IF NOT EXISTS podium_runs (
    run_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    record JSONB NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS podium_runs_created_idx "
    "ON podium_runs (created_at DESC, run_id DESC)",
    "CREATE INDEX IF NOT EXISTS podium_runs_tenant_created_idx "
    "ON podium_runs (tenant, created_at DESC, run_id DESC)",
)
"""The run records: `record` is the whole RunRecord; the other columns are there to query by."""

_SAVE = """
INSERT INTO podium_runs (run_id, tenant, status, created_at, updated_at, record)
VALUES (%s, %s, %s, to_timestamp(%s), to_timestamp(%s), %s::jsonb)
ON CONFLICT (run_id) DO UPDATE SET
    tenant = EXCLUDED.tenant, status = EXCLUDED.status,
    updated_at = EXCLUDED.updated_at, record = EXCLUDED.record
"""
_GET = "SELECT record::text FROM podium_runs WHERE run_id = %s"
# LIMIT NULL is LIMIT ALL.
_LIST = "SELECT record::text FROM podium_runs ORDER BY created_at DESC, run_id DESC LIMIT %s"
_LIST_TENANT = (
    "SELECT record::text FROM podium_runs WHERE tenant = %s "
    "ORDER BY created_at DESC, run_id DESC LIMIT %s"
)

_SETUP_LOCK = int.from_bytes(b"podium", "big")
"""Advisory lock key: processes starting at once create the tables one after the other."""

_URL_PASSWORD = re.compile(r"(://[^:/@?#\s]*:)[^@/?#\s]*@")
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def redact(text: str, password: str | None = None) -> str:
    """`text` with any password in it (URL, key=value, or the known one) replaced by ***."""
    text = _URL_PASSWORD.sub(r"\1***@", text)
    text = _KEYWORD_PASSWORD.sub(r"\1***", text)
    return text.replace(password, "***") if password else text


@dataclass(frozen=True)
class PostgresTarget:
    """A connection string, and how to name its server in messages without its password."""

    url: str = field(repr=False)
    host: str
    port: str
    dbname: str
    user: str
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> PostgresTarget:
        """Read a URL or key=value string; libpq's PG* variables fill what it leaves out."""
        try:
            params = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(
                "storage.postgres_url is neither a Postgres URL "
                "(postgresql://user@host:port/dbname) nor a key=value connection string: "
                + redact(str(exc).strip())
            ) from None
        env = os.environ
        user = str(params.get("user") or env.get("PGUSER") or getpass.getuser())
        password = params.get("password") or env.get("PGPASSWORD")
        return cls(
            url=url,
            host=str(params.get("host") or env.get("PGHOST") or "the default local socket"),
            port=str(params.get("port") or env.get("PGPORT") or "5432"),
            dbname=str(params.get("dbname") or env.get("PGDATABASE") or user),
            user=user,
            password=str(password) if password else None,
        )

    def __str__(self) -> str:
        return f"{self.dbname!r} on {self.host} port {self.port} as {self.user!r}"

    def error(self, doing: str, exc: BaseException, *, unreachable: bool = True) -> StorageError:
        reason = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        message = f"{doing} the Postgres database {self}: "
        message += redact(reason or type(exc).__name__, self.password)
        if unreachable:
            message += (
                (" " if message.endswith(("?", ".")) else ". ")
                + "Check that the server runs and that storage.postgres_url (or "
                "PODIUM_POSTGRES_URL) points at it; for development, scripts/postgres.sh "
                "starts a local server"
            )
        return StorageError(message)


class PostgresRunStore:
    """Run records in the `podium_runs` table, checkpoints in LangGraph's tables, one database.

    Records go through a small thread-safe pool of synchronous connections, so `Podium.runs()`
    and the async run path share it; each run's checkpointer has a connection of its own on
    the run's event loop. Tables are created on first use, once per store.
    """

    def __init__(self, url: str, runs_dir: Path) -> None:
        self.target = PostgresTarget.parse(url)
        self.runs_dir = runs_dir
        self._pool: ConnectionPool[psycopg.Connection[TupleRow]] | None = None
        self._opening = threading.Lock()

    def __repr__(self) -> str:
        return f"PostgresRunStore({self.target})"

    def save(self, record: RunRecord) -> None:
        with self._connection() as conn:
            conn.execute(
                _SAVE,
                (
                    record.run_id,
                    record.tenant,
                    record.status,
                    record.created_at,
                    record.updated_at,
                    _jsonb_safe(record.model_dump_json()),
                ),
            )

    def get(self, run_id: str) -> RunRecord:
        with self._connection() as conn:
            row = conn.execute(_GET, (run_id,)).fetchone()
        if row is None:
            raise RunNotFoundError(
                f"no run {run_id!r} in the Postgres database {self.target}: "
                "list runs with `podium runs`"
            )
        return RunRecord.model_validate_json(row[0])

    def list(self, *, tenant: str | None = None, limit: int | None = None) -> list[RunRecord]:
        with self._connection() as conn:
            if tenant is None:
                rows = conn.execute(_LIST, (limit,)).fetchall()
            else:
                rows = conn.execute(_LIST_TENANT, (tenant, limit)).fetchall()
        return [RunRecord.model_validate_json(text) for (text,) in rows]

    def run_dir(self, run_id: str) -> Path:
        folder = self.runs_dir / run_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @contextlib.asynccontextmanager
    async def checkpointer(self) -> AsyncIterator[Any]:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        await asyncio.to_thread(self._open)  # the tables exist once this returns
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.target.url,
                autocommit=True,
                prepare_threshold=0,
                row_factory=dict_row,
                connect_timeout=CONNECT_TIMEOUT_S,
            )
            # As SQLite's synchronous=NORMAL: a commit survives this process being killed (what
            # `resume` is for) without waiting on a WAL flush per task; only the server crashing
            # can lose its last commits, which a resume then runs again. Run records stay synchronous.
            await conn.execute("SET synchronous_commit = off")
        except psycopg.OperationalError as exc:
            raise self.target.error("cannot reach", exc) from None
        async with conn:
            try:
                yield AsyncPostgresSaver(conn)
            except psycopg.OperationalError as exc:
                # The run ends "cancelled" (resumable) when its record can still be written;
                # else its record says "running" until a listing finds its process gone.
                raise self.target.error("lost the connection to", exc) from None

    def close(self) -> None:
        with self._opening:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    # -- internals ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[TupleRow]]:
        pool = self._open()
        try:
            with pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise self.target.error("lost the connection to", exc) from None

    def _open(self) -> ConnectionPool[psycopg.Connection[TupleRow]]:
        with self._opening:
            if self._pool is None:
                self._create_tables()
                pool: ConnectionPool[psycopg.Connection[TupleRow]] = ConnectionPool(
                    self.target.url,
                    min_size=1,
                    max_size=4,
                    kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
                    open=False,
                    timeout=CONNECT_TIMEOUT_S,
                    check=ConnectionPool.check_connection,
                    name="podium-runs",
                )
                try:
                    pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
                except PoolTimeout as exc:
                    pool.close()
                    raise self.target.error("cannot reach", exc) from None
                self._pool = pool
            return self._pool

    def _create_tables(self) -> None:
        """`podium_runs` and LangGraph's checkpoint tables (its `setup()`), under a lock.

        The lock is polled rather than waited on: LangGraph's migrations build indexes
        CONCURRENTLY, which would wait for a session blocked on the lock, and so deadlock.
        """
        from langgraph.checkpoint.postgres import PostgresSaver

        try:
            conn = psycopg.connect(
                self.target.url,
                autocommit=True,
                prepare_threshold=0,
                row_factory=dict_row,
                connect_timeout=CONNECT_TIMEOUT_S,
            )
        except psycopg.OperationalError as exc:
            raise self.target.error("cannot reach", exc) from None
        with conn:
            try:
                deadline = time.monotonic() + 120
                while not _try_lock(conn):
                    if time.monotonic() > deadline:
                        raise StorageError(
                            f"another process has been creating Podium's tables in {self.target} "
                            "for two minutes: look for a stuck `podium` process"
                        )
                    time.sleep(0.05)
                try:
                    for statement in RUNS_TABLE:
                        conn.execute(statement)
                    PostgresSaver(conn).setup()
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))
            except psycopg.OperationalError as exc:
                raise self.target.error("lost the connection to", exc) from None
            except psycopg.Error as exc:
                raise self.target.error(
                    "cannot create Podium's tables in", exc, unreachable=False
                ) from None


def _try_lock(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s) AS locked", (_SETUP_LOCK,)).fetchone()
    return bool(row and row["locked"])


def _jsonb_safe(text: str) -> str:
    """JSONB refuses the NUL character (\\u0000), which a tool's output may hold: store U+FFFD."""
    return _NUL_ESCAPE.sub(r"\1\\ufffd", text) if "\\u0000" in text else text
