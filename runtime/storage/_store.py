"""Run records and the checkpointer they share: files and SQLite by default, or one Postgres database."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ValidationError

from podium.policies import Verdict

from .._errors import ConfigError, RunNotFoundError, StorageError
from ..engine._result import RunResult
from ..engine._status import RunStatus, check_move

if TYPE_CHECKING:
    from .._config_file import StorageConfig
    from ..engine._policy import CheckedGoal  # the listing commands do not load the guards


class RunOwner(BaseModel):
    """The process executing a run, so that another process can tell a live run from one whose
    process is gone (killed, crashed, the machine restarted)."""

    host: str
    """The machine's name: a process on another machine cannot be checked from here."""
    pid_namespace: str | None = None
    """Linux's pid namespace (`/proc/self/ns/pid`): containers sharing a host name and a data
    folder each number their processes apart."""
    pid: int
    started: int | None = None
    """When the process started, in clock ticks since boot (Linux `/proc/PID/stat`): a later
    process given the same pid is not taken for the owner."""

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


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
    owner: RunOwner | None = None
    """The process that set it running (None: records written before owners were kept)."""
    goal_verdict: Verdict | None = None
    """The input guard's verdict on the goal, from the run's one goal check (`Podium.check_goal`,
    when the run was started or queued). None: stored before records kept it."""

    @classmethod
    def begun(
        cls, checked: CheckedGoal, status: RunStatus, *, tenant: str, **fields: Any
    ) -> RunRecord:
        """The first record of a run whose goal `checked` passed: started ("running") by the
        Python API or the CLI, or "queued" by the server; `fields`: its id, owner, profile."""
        now = time.time()
        return cls(
            run_id=fields.pop("run_id", None) or new_run_id(),
            goal=checked.goal,
            goal_verdict=checked.verdict,
            status=status,
            created_at=now,
            updated_at=now,
            tenant=tenant,
            **fields,
        )

    def moved_to(self, status: RunStatus, **changes: Any) -> RunRecord:
        """This record in `status`, with `changes`: every change of a run's status is made so,
        and RunStateError refuses one the status table does not allow (`engine/_status.py`)."""
        check_move(self.run_id, self.status, status)
        return self.model_copy(update={"status": status, "updated_at": time.time(), **changes})


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def this_process() -> RunOwner:
    """The owner this process writes into the records of the runs it executes."""
    return _this_process(os.getpid())  # a forked worker is a process of its own


@functools.cache
def _this_process(pid: int) -> RunOwner:
    return RunOwner(
        host=socket.gethostname(), pid_namespace=_pid_namespace(), pid=pid, started=_started(pid)
    )


def owner_alive(owner: RunOwner) -> bool | None:
    """Whether the process is still there; None when it cannot be told from here (another
    machine or pid namespace): such a run is left as it is."""
    here = this_process()
    if (owner.host, owner.pid_namespace) != (here.host, here.pid_namespace):
        return None
    try:
        os.kill(owner.pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, as another user's process
    stat = _stat(owner.pid)
    if stat is None:
        return True  # no /proc to ask (not Linux): a process with that pid is alive
    state, started = stat
    return state not in ("Z", "X") and (owner.started is None or started == owner.started)


def settle_stale(store: RunStore, record: RunRecord) -> RunRecord:
    """`record`, or, when it says "running" but the process running it is gone, the record
    marked "cancelled": resumable, with an error that says so. A run of a live process, or of
    one that cannot be checked from here (another machine), stays as it is."""
    if record.status != "running" or record.owner is None or owner_alive(record.owner) is not False:
        return record
    current = store.get(record.run_id)  # another process may have taken it up meanwhile
    if current.status != "running" or current.owner != record.owner:
        return current
    marked = current.moved_to(
        "cancelled",
        error=f"interrupted: the process running it ({record.owner.describe()}) is gone; "
        f"`podium resume {record.run_id}` continues it",
    )
    # A read-only or full data folder: shown marked all the same; a later listing saves it.
    with contextlib.suppress(OSError, sqlite3.Error, StorageError):
        store.save(marked)
    return marked


def listed_runs(
    store: RunStore, *, tenant: str | None = None, limit: int | None = None
) -> list[RunRecord]:
    """`store`'s run records, newest first, each settled (`settle_stale`): `Podium.runs` and
    `podium runs`, which reads them without loading what running a goal needs."""
    return [settle_stale(store, r) for r in store.list(tenant=tenant, limit=limit)]


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _started(pid: int) -> int | None:
    stat = _stat(pid)
    return None if stat is None else stat[1]


def _stat(pid: int) -> tuple[str, int] | None:
    """A process's state letter and start time from `/proc/PID/stat` (Linux); None elsewhere.
    Read by hand: psutil is not a dependency, and these are two fields of one line."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: count after its end.
    fields = text[text.rindex(")") + 2 :].split()
    try:
        return fields[0], int(fields[19])  # fields 3 (state) and 22 (starttime)
    except (IndexError, ValueError):
        return None


_MACHINE_WIDE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
"""A full disk, a spent quota, a read-only file system: the machine's, whichever file met it."""


def storage_failure(exc: BaseException, data_dir: Path | None = None) -> StorageError | None:
    """What `exc` means when it is a failure of the disk or database under Podium's data, as
    one line that says what to do; None when it is no such failure.

    It is one when it is a StorageError (the run store's and the checkpointer's errors become
    theirs where they are raised, see `storing`), a full disk or a read-only file system
    wherever it was met, or an OSError on a path under `data_dir`. A permission error on
    another file, or an SQLite error of another database (a tool's, a user's dataset), is not
    Podium's storage failing. Followed through `__cause__` (raised *from* it on purpose), never
    `__context__`: an error raised while another was being handled (a tool's bug in its
    `except PermissionError`) is that error, whatever it met on the way."""
    seen: BaseException | None = exc
    for _ in range(8):  # the error itself, then what it was raised from
        if seen is None:
            return None
        if isinstance(seen, StorageError):
            return seen
        if isinstance(seen, OSError) and (seen.errno in _MACHINE_WIDE or _names(seen, data_dir)):
            return _disk_failure(seen, data_dir)  # None for an error no disk failure explains
        seen = seen.__cause__
    return None


@contextlib.contextmanager
def storing(data_dir: Path | None = None, *, database: Path | None = None) -> Iterator[None]:
    """Around a call into the run store (under `data_dir`) or its checkpointer (`database`):
    an OSError or sqlite3 error raised inside is a failure of that storage, whatever file it
    names, and is raised again as the StorageError that says what to do. An error no disk or
    database failure explains (ENOENT, a constraint) goes through as it is: a bug."""
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        failure = _disk_failure(exc, data_dir, database)
        if failure is None:
            raise
        raise failure from exc


def _names(exc: OSError, folder: Path | None) -> bool:
    """Whether the paths `exc` names lie under `folder` (as written: nothing is resolved, the
    disk may be what failed)."""
    if folder is None:
        return False
    root = Path(os.path.abspath(folder.expanduser()))
    names = [n for n in (exc.filename, exc.filename2) if isinstance(n, str | bytes | os.PathLike)]
    return any(Path(os.path.abspath(os.fsdecode(n))).is_relative_to(root) for n in names)


_SQLITE_KINDS = {
    sqlite3.SQLITE_FULL: "full",
    sqlite3.SQLITE_READONLY: "read-only",
    sqlite3.SQLITE_CANTOPEN: "read-only",
    sqlite3.SQLITE_PERM: "read-only",
    sqlite3.SQLITE_BUSY: "locked",
    sqlite3.SQLITE_LOCKED: "locked",
    sqlite3.SQLITE_CORRUPT: "damaged",
    sqlite3.SQLITE_NOTADB: "damaged",
}


def _sqlite_kind(exc: sqlite3.Error) -> str | None:
    """What went wrong, by SQLite's result code (Python sets `sqlite_errorcode` on what SQLite
    raised), else by the text of an error built by hand; None for an error of the caller's
    making (a constraint, a closed connection: a bug, not the disk)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        kind = _SQLITE_KINDS.get(code & 0xFF)  # the primary code of an extended one
    else:
        text = str(exc).lower()
        kind = next((k for words, k in _SQLITE_TEXTS if any(w in text for w in words)), None)
    if kind is None and type(exc) in (sqlite3.OperationalError, sqlite3.DatabaseError):
        return "other"  # an I/O error, a missing table: the file is not what it should be
    return kind


_SQLITE_TEXTS = (
    (("not a database", "malformed"), "damaged"),
    (("full",), "full"),
    (("readonly", "read-only", "unable to open"), "read-only"),
    (("locked", "busy"), "locked"),
)


def _disk_failure(
    exc: OSError | sqlite3.Error, data_dir: Path | None, database: Path | None = None
) -> StorageError | None:
    """The line that says what to do about `exc`, met by the storage under `data_dir` (or by
    the checkpoint `database`); None when no failure of a disk or database explains it."""
    where = str(data_dir) if data_dir is not None else "Podium's data folder (storage.data_dir)"
    db = f"the database {database}" if database is not None else f"the database under {where}"
    move = "or point storage.data_dir (PODIUM_DATA_DIR) at another disk"
    if isinstance(exc, OSError):
        path = exc.filename or database or where
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StorageError(f"no space left on the disk holding {path}: free space, {move}")
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            reason = "read-only" if exc.errno == errno.EROFS else "not writable by this user"
            return StorageError(
                f"{path} is {reason}: make it writable, or set storage.data_dir "
                "(PODIUM_DATA_DIR) to a folder this user can write"
            )
        if exc.errno in (errno.ENOTDIR, errno.EEXIST):
            return StorageError(
                f"{path} is not a folder (a file stands in its way): set storage.data_dir "
                "(PODIUM_DATA_DIR) to a folder, or move that file"
            )
        if exc.errno == errno.EIO:
            return StorageError(f"the disk holding {path} reported an I/O error: check it")
        return None
    match _sqlite_kind(exc):
        case "damaged":
            return StorageError(
                f"{db} is damaged ({exc}): move runs/checkpoints.sqlite aside (its runs are "
                "then not resumable)"
            )
        case "full":
            return StorageError(f"no space left for {db}: free space, {move}")
        case "read-only":
            return StorageError(
                f"cannot write {db} ({exc}): make the folder writable, or set "
                "storage.data_dir (PODIUM_DATA_DIR) to one this user can write"
            )
        case "locked":
            return StorageError(f"{db} stayed locked by another process: try again")
        case "other":
            return StorageError(f"{db} failed ({exc}): check the disk")
    return None


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
        try:
            tmp.write_text(record.model_dump_json(indent=2), encoding="utf-8")
            os.replace(tmp, folder / "run.json")
        except OSError:
            tmp.unlink(missing_ok=True)  # a full disk: no half-written file left behind
            raise

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

    async with contextlib.AsyncExitStack() as stack:
        with storing(database=path):  # the run's own errors, raised at the yield, stay theirs
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = await stack.enter_async_context(
                aiosqlite.connect(str(path), factory=_CommitEachStatement, timeout=SQLITE_BUSY_S)
            )
            await _switch_to_wal(conn)
            await conn.execute("PRAGMA synchronous=NORMAL")
        yield _checkpoint_saver()(conn, path)


@functools.cache
def _checkpoint_saver() -> type[Any]:
    """LangGraph's SQLite saver, whose every call says its failures are the checkpoint file's:
    the seam that tells them from an SQLite error of a tool's own database met in the same run.
    Made on first use: langgraph is imported only by commands that run something."""
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import (
        ChannelVersions,
        Checkpoint,
        CheckpointMetadata,
        CheckpointTuple,
    )
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    class CheckpointSaver(AsyncSqliteSaver):
        def __init__(self, conn: Any, path: Path) -> None:
            super().__init__(conn)
            self.path = path

        async def setup(self) -> None:
            with storing(database=self.path):
                await super().setup()

        async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
            with storing(database=self.path):
                return await super().aget_tuple(config)

        async def alist(
            self,
            config: RunnableConfig | None,
            *,
            filter: dict[str, Any] | None = None,
            before: RunnableConfig | None = None,
            limit: int | None = None,
        ) -> AsyncIterator[CheckpointTuple]:
            with storing(database=self.path):
                listed = super().alist(config, filter=filter, before=before, limit=limit)
                async for item in listed:
                    yield item

        async def aput(
            self,
            config: RunnableConfig,
            checkpoint: Checkpoint,
            metadata: CheckpointMetadata,
            new_versions: ChannelVersions,
        ) -> RunnableConfig:
            with storing(database=self.path):
                return await super().aput(config, checkpoint, metadata, new_versions)

        async def aput_writes(
            self,
            config: RunnableConfig,
            writes: Sequence[tuple[str, Any]],
            task_id: str,
            task_path: str = "",
        ) -> None:
            with storing(database=self.path):
                await super().aput_writes(config, writes, task_id, task_path)

        async def adelete_thread(self, thread_id: str) -> None:
            with storing(database=self.path):
                await super().adelete_thread(thread_id)

        async def aget_delta_channel_history(
            self, *, config: RunnableConfig, channels: Sequence[str]
        ) -> Mapping[str, Any]:
            with storing(database=self.path):
                return await super().aget_delta_channel_history(config=config, channels=channels)

    return CheckpointSaver


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
    import asyncio  # here: the listing commands read the store without an event loop

    for attempt in range(attempts):
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.05)
