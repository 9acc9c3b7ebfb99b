"""Only Podium's own storage failing is taken for a storage failure: an OSError on a path under
the data folder, a full disk or read-only file system wherever it is met, and what the run
store and its checkpointer raise (their seam says so). A tool's permission error on its own
file, a user's SQLite database failing, or a bug raised while handling a PermissionError are
errors of their own: the run ends "failed" with them and the CLI keeps their traceback. And a
completed run stays completed when shared memory cannot keep its answer afterwards."""

from __future__ import annotations

import asyncio
import errno
import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import task

from podium.memory import MemoryConfig, MemoryStore, MemoryStoreError
from podium.memory.testing import HashEmbedder
from podium.runtime import (
    ModelRequest,
    Podium,
    PodiumConfig,
    RunEvent,
    RunFinished,
    StorageError,
)
from podium.runtime.cli import _main as cli
from podium.runtime.engine._memory import RunMemory
from podium.runtime.storage._store import storage_failure, storing
from podium.runtime.testing import FunctionModel, Reply, ScriptedModel, plan_reply, reply

DATA = Path("/srv/podium-data")


# -- errors met by a tool or a user's code ---------------------------------------------------


def outside_paths() -> list[str | bytes]:
    """Files a tool touches that are not Podium's: absolute, relative, beside the data folder
    (a name that merely starts like it), bytes, home-relative."""
    return [
        "/home/maya/reports/q3.csv",
        "reports/q3.csv",
        "/srv/podium-data-backup/runs/x/run.json",  # a sibling, not under the data folder
        "/srv/podium",
        b"/etc/shadow",
        "~/notes.txt",
    ]


FILE_ERRNOS = [errno.EACCES, errno.EPERM, errno.EEXIST, errno.ENOTDIR, errno.EIO]


@pytest.mark.parametrize("path", outside_paths(), ids=repr)
@pytest.mark.parametrize("code", FILE_ERRNOS, ids=errno.errorcode.get)
@pytest.mark.parametrize("as_second", [False, True], ids=["filename", "filename2"])
def test_a_tools_error_on_a_file_outside_the_data_folder_is_not_storage(
    path: str | bytes, code: int, as_second: bool
) -> None:
    cls = PermissionError if code in (errno.EACCES, errno.EPERM) else OSError
    error = cls(code, "refused", "/tmp/src", path) if as_second else cls(code, "refused", path)
    assert storage_failure(error, DATA) is None
    assert storage_failure(error) is None  # no data folder known: nothing is under it


@pytest.mark.parametrize("code", FILE_ERRNOS, ids=errno.errorcode.get)
@pytest.mark.parametrize(
    "path", ["/srv/podium-data", "/srv/podium-data/runs/r1/run.json", "/srv/podium-data/./chat"]
)
def test_the_same_error_under_the_data_folder_is_storage(code: int, path: str) -> None:
    failure = storage_failure(OSError(code, "refused", path), DATA)
    assert failure is not None and "\n" not in str(failure)
    assert str(failure).startswith("[storage_unavailable] ") and path in str(failure)


def test_a_relative_data_folder_is_matched_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    error = PermissionError(errno.EACCES, "denied", str(tmp_path / "data" / "runs"))
    assert storage_failure(error, Path("data")) is not None
    assert storage_failure(error, Path("elsewhere")) is None


@pytest.mark.parametrize(
    ("code", "says"),
    [(errno.ENOSPC, "no space left"), (errno.EDQUOT, "no space left"), (errno.EROFS, "read-only")],
    ids=["enospc", "edquot", "erofs"],
)
@pytest.mark.parametrize("path", [None, "/home/maya/out.csv", "relative.txt"])
def test_a_full_or_read_only_disk_is_the_machines_whatever_file(
    code: int, says: str, path: str | None
) -> None:
    error = OSError(code, "disk trouble") if path is None else OSError(code, "disk trouble", path)
    failure = storage_failure(error, DATA)
    assert failure is not None and says in str(failure)


def user_database_errors(folder: Path) -> dict[str, sqlite3.Error]:
    """Real errors from a user's own SQLite database (a dataset a tool reads), not Podium's,
    by what SQLite says of them."""
    path = folder / "crm.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE leads (name TEXT UNIQUE)")
        conn.execute("INSERT INTO leads VALUES ('Maya')")
    junk = folder / "notes.sqlite"
    junk.write_bytes(b"this is a text file, not a database" * 100)
    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    holder = sqlite3.connect(path, isolation_level=None)
    waiter = sqlite3.connect(path, timeout=0)
    attempts: dict[str, Callable[[], object]] = {
        "read-only": lambda: read_only.execute("INSERT INTO leads VALUES ('Ann')"),
        "no-such-table": lambda: read_only.execute("SELECT * FROM prospects"),
        "not-a-database": lambda: sqlite3.connect(junk).execute("SELECT 1 FROM sqlite_master"),
        "cannot-open": lambda: sqlite3.connect(folder / "missing" / "x.sqlite"),
        "locked": lambda: (
            holder.execute("BEGIN EXCLUSIVE") and waiter.execute("SELECT 1 FROM leads")
        ),
    }
    errors: dict[str, sqlite3.Error] = {}
    for name, attempt in attempts.items():
        try:
            attempt()
        except sqlite3.Error as exc:
            errors[name] = exc
    for conn in (read_only, holder, waiter):
        conn.close()
    assert list(errors) == list(attempts), errors
    return errors


HAND_MADE = [
    sqlite3.OperationalError("database or disk is full"),
    sqlite3.OperationalError("attempt to write a readonly database"),
    sqlite3.OperationalError("disk I/O error"),
    sqlite3.OperationalError("database is locked"),
    sqlite3.DatabaseError("database disk image is malformed"),
]


def test_a_users_sqlite_database_failing_is_not_storage(tmp_path: Path) -> None:
    for error in [*user_database_errors(tmp_path).values(), *HAND_MADE]:
        assert storage_failure(error, DATA) is None, error
        try:
            raise RuntimeError("the dataset tool failed") from error
        except RuntimeError as wrapped:
            assert storage_failure(wrapped, DATA) is None, error


def test_the_same_sqlite_errors_raised_by_the_checkpointer_are_storage(tmp_path: Path) -> None:
    """At the seam SQLite's own result code says what to do, not the text."""
    checkpoints = DATA / "runs" / "checkpoints.sqlite"
    says = {
        "read-only": "writable",
        "no-such-table": "check the disk",
        "not-a-database": "damaged",
        "cannot-open": "writable",
        "locked": "locked by another process",
    }
    for name, error in user_database_errors(tmp_path).items():
        with pytest.raises(StorageError) as raised, storing(database=checkpoints):
            raise error
        what = says[name]
        assert raised.value.__cause__ is error
        assert what in str(raised.value) and str(checkpoints) in str(raised.value), error
        assert storage_failure(raised.value, DATA) is raised.value


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOENT, "No such file or directory", "/srv/podium-data/runs/x"),
        sqlite3.IntegrityError("UNIQUE constraint failed: leads.name"),
        sqlite3.ProgrammingError("Cannot operate on a closed database."),
        ValueError("not storage"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_the_seam_lets_what_no_disk_explains_through_as_it_is(error: Exception) -> None:
    with pytest.raises(type(error)) as raised, storing(DATA):
        raise error
    assert raised.value is error


CONTEXTS: list[Callable[[], OSError]] = [
    lambda: PermissionError(errno.EACCES, "Permission denied", "/home/maya/q3.csv"),
    lambda: PermissionError(errno.EACCES, "Permission denied", "/srv/podium-data/runs"),
    lambda: PermissionError(errno.EPERM, "Operation not permitted"),
    lambda: OSError(errno.ENOSPC, "No space left on device", "/srv/podium-data/runs/x"),
]
BUGS: list[Callable[[], Exception]] = [
    lambda: KeyError("path"),
    lambda: TypeError("'NoneType' object is not subscriptable"),
    lambda: RuntimeError("fallback failed"),
    lambda: AttributeError("'PosixPath' object has no attribute 'chmodx'"),
]


def raised_while_handling(
    context: Callable[[], OSError], bug: Callable[[], Exception]
) -> Exception:
    try:
        try:
            raise context()
        except OSError:
            raise bug()  # noqa: B904  (the point: raised while handling, not from it)
    except Exception as exc:
        assert exc.__context__ is not None and exc.__cause__ is None
        return exc


@pytest.mark.parametrize("context", CONTEXTS, ids=["outside", "under-data", "no-file", "full"])
@pytest.mark.parametrize("bug", BUGS, ids=["KeyError", "TypeError", "RuntimeError", "Attr"])
def test_a_bug_raised_while_handling_a_permission_error_is_the_bug(
    context: Callable[[], OSError], bug: Callable[[], Exception]
) -> None:
    assert storage_failure(raised_while_handling(context, bug), DATA) is None


# -- the same errors ending a run, and at the CLI ---------------------------------------------


def escaping(error: Callable[[], BaseException]) -> FunctionModel:
    """A run whose own code raises `error` outside any task's handling (planning)."""

    def answer(request: ModelRequest) -> Reply:
        raise error()

    return FunctionModel(answer)


def not_storage(tmp_path: Path) -> dict[str, Callable[[], BaseException]]:
    user_db = user_database_errors(tmp_path)
    cases: dict[str, Callable[[], BaseException]] = {
        "eacces-outside": lambda: PermissionError(errno.EACCES, "denied", "/home/maya/q3.csv"),
        "eexist-outside": lambda: FileExistsError(errno.EEXIST, "exists", str(tmp_path / "x")),
        "user-db-readonly": lambda: user_db["read-only"],
        "user-db-locked": lambda: user_db["locked"],
        "user-db-hand-made-full": lambda: sqlite3.OperationalError("database or disk is full"),
    }
    for where, context in zip(["outside", "under-data"], CONTEXTS[:2], strict=True):
        cases[f"while-handling-{where}"] = functools.partial(
            raised_while_handling, context, BUGS[2]
        )
    return cases


async def test_a_tools_or_users_error_ends_the_run_failed_not_cancelled(
    config: PodiumConfig, tmp_path: Path
) -> None:
    (tmp_path / "db").mkdir()
    for name, error in not_storage(tmp_path / "db").items():
        podium = Podium(config, model=escaping(error))
        events: list[RunEvent] = []
        with pytest.raises(Exception) as raised:
            await podium.arun("qualify the lead", run_id=name, on_event=events.append)
        assert not isinstance(raised.value, StorageError), name
        record = podium.store.get(name)
        assert record.status == "failed", (name, record.error)
        assert record.error is not None and "storage.data_dir" not in record.error
        assert record.error.startswith(type(raised.value).__name__)
        assert [e.status for e in events if isinstance(e, RunFinished)] == ["failed"]


def write_config(tmp_path: Path, data: Path) -> Path:
    path = tmp_path / "podium.toml"
    path.write_text(
        f'[storage]\ndata_dir = "{data}"\n[memory]\nenabled = false\n[planner]\nplaybooks = false\n',
        encoding="utf-8",
    )
    return path


def test_the_cli_keeps_the_traceback_of_errors_that_are_not_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "db").mkdir()
    toml = write_config(tmp_path, tmp_path / "data")
    for name, error in not_storage(tmp_path / "db").items():
        raised = error()

        def handler(args: Any, raised: BaseException = raised) -> int:
            raise raised

        monkeypatch.setattr(cli, "_cmd_runs", handler)
        with pytest.raises(type(raised)) as caught:
            cli.main(["--config", str(toml), "runs"])
        assert caught.value is raised, name


@pytest.mark.parametrize(
    "error",
    [
        lambda data: PermissionError(errno.EACCES, "Permission denied", str(data / "chat")),
        lambda data: NotADirectoryError(errno.ENOTDIR, "Not a directory", str(data / "outbox")),
        lambda data: OSError(errno.ENOSPC, "No space left on device", "/home/maya/out.csv"),
    ],
    ids=["eacces-under-data", "enotdir-under-data", "enospc-anywhere"],
)
def test_the_cli_says_storage_errors_met_outside_the_seams_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: Callable[[Path], OSError],
) -> None:
    data = tmp_path / "data"
    toml = write_config(tmp_path, data)

    def handler(args: Any) -> int:
        raise error(data)

    monkeypatch.setattr(cli, "_cmd_runs", handler)
    assert cli.main(["--config", str(toml), "runs"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: [storage_unavailable] "), err


# -- memory failing after the answer -----------------------------------------------------------


FINAL_WRITE_ERRORS: list[Callable[[Path], BaseException]] = [
    lambda data: ConnectionError("Chroma at chroma.internal:8000 refused the connection"),
    lambda data: MemoryStoreError("the Chroma server went away"),
    lambda data: TimeoutError("timed out after 5 s"),
    lambda data: sqlite3.OperationalError("database or disk is full"),
    lambda data: PermissionError(errno.EACCES, "Permission denied", str(data / "memory")),
    lambda data: OSError(errno.ENOSPC, "No space left on device", str(data / "memory")),
    lambda data: RuntimeError("chromadb: collection vanished"),
]
IDS = ["connection", "memory-store", "timeout", "sqlite-full", "eacces", "enospc", "runtime"]


class FailsAfterTheLastTask(MemoryStore):
    """A real store whose writes at the tenant level (the run's answer) and plan cache (its
    plan) fail, as when the memory server goes down after the last task."""

    error: BaseException | None = None

    def scope(self, **kwargs: Any) -> Any:
        scope = super().scope(**kwargs)
        store = self

        class Failing:
            def __getattr__(self, name: str) -> Any:
                return getattr(scope, name)

            def write(self, text: str, **kw: Any) -> Any:
                if kw.get("namespace") == "tenant" and store.error is not None:
                    raise store.error
                return scope.write(text, **kw)

        return Failing()

    def plan_cache(self, tenant: str) -> Any:
        if self.error is not None:
            raise self.error
        return super().plan_cache(tenant)


def memory_podium(tmp_path: Path, store: MemoryStore) -> Podium:
    config = PodiumConfig.from_mapping(
        {"storage": {"data_dir": str(tmp_path / "data")}, "planner": {"playbooks": False}}
    )
    plan = [task("a", "researcher"), task("b", "writer", ["a"])]
    model = ScriptedModel([plan_reply(plan), reply("alpha", task="a"), reply("done", task="b")])
    return Podium(config, model=model, memory=store)


def assert_completed_and_saved(podium: Podium, result: Any, says: str) -> None:
    assert result.status == "completed" and result.answer == "done", result.error
    assert any(says in w for w in result.warnings), result.warnings
    record = podium.store.get(result.run_id)
    assert record.status == "completed" and record.error is None
    assert record.result is not None and record.result.answer == "done"
    assert record.result.warnings == result.warnings


@pytest.mark.parametrize("error", FINAL_WRITE_ERRORS, ids=IDS)
def test_a_memory_store_failing_after_the_last_task_leaves_the_run_completed(
    tmp_path: Path, error: Callable[[Path], BaseException]
) -> None:
    config = MemoryConfig(path=tmp_path / "memory")
    with FailsAfterTheLastTask(config, embedder=HashEmbedder(64)) as store:
        podium = memory_podium(tmp_path, store)
        store.error = error(tmp_path / "data")
        result = podium.run("Qualify the lead Maya Chen")
        assert_completed_and_saved(podium, result, str(store.error))


@pytest.mark.parametrize("error", FINAL_WRITE_ERRORS, ids=IDS)
def test_the_final_memory_write_raising_leaves_the_run_completed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Callable[[Path], BaseException]
) -> None:
    """Whatever escapes memory's own guard (a bug in it, an error past it): the answer stands."""
    raised = error(tmp_path / "data")

    async def run_done(self: RunMemory, *args: Any) -> None:
        raise raised

    monkeypatch.setattr(RunMemory, "run_done", run_done)
    with MemoryStore(MemoryConfig(path=tmp_path / "memory"), embedder=HashEmbedder(64)) as store:
        podium = memory_podium(tmp_path, store)
        events: list[RunEvent] = []
        result = asyncio.run(podium.arun("Qualify the lead Maya Chen", on_event=events.append))
        assert_completed_and_saved(podium, result, f"{type(raised).__name__}: {raised}")
        assert [e.status for e in events if isinstance(e, RunFinished)] == ["completed"]
