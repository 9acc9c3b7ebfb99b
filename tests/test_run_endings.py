"""Every run reaches an end: failures outside the task graph (a memory server that cannot be
reached, a crash while planning, a full or read-only disk at any stage) leave the record in a
terminal or resumable status with a RunFinished event, and a record left "running" by a
process that is gone is shown as what it is (cancelled, resumable), never one of a live one."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from podium import memory as podium_memory
from podium.runtime import (
    ConfigError,
    ModelRequest,
    Podium,
    PodiumConfig,
    RunEvent,
    RunFinished,
    StorageError,
)
from podium.runtime._errors import RunStateError
from podium.runtime.cli import _main as cli
from podium.runtime.storage._store import (
    FileRunStore,
    RunOwner,
    RunRecord,
    owner_alive,
    settle_stale,
    storage_failure,
    storing,
    this_process,
)
from podium.runtime.testing import FunctionModel, Reply

PLAN = [
    {"id": "a", "agent": "researcher", "instruction": "find a", "inputs": []},
    {"id": "b", "agent": "researcher", "instruction": "find b", "inputs": ["a"]},
    {"id": "c", "agent": "writer", "instruction": "join", "inputs": ["b"]},
]
ENDED = {"completed", "failed", "budget_exceeded", "waiting_for_human", "cancelled"}


class Calls:
    """A FunctionModel's answers: the plan, then 'output of <task>'; counts each task's calls."""

    def __init__(self) -> None:
        self.tasks: list[str] = []

    def __call__(self, request: ModelRequest) -> Reply:
        if request.purpose in ("plan", "replan"):
            return {"tasks": PLAN}
        self.tasks.append(request.task_id or "")
        return f"output of {request.task_id}"


def podium_at(
    config: PodiumConfig, answer: Callable[[ModelRequest], Reply] | None = None
) -> Podium:
    return Podium(config, model=FunctionModel(answer or Calls()))


def finished(events: list[RunEvent]) -> list[RunFinished]:
    return [e for e in events if isinstance(e, RunFinished)]


# -- failures before and around the graph -------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "cannot reach the Chroma server at http://127.0.0.1:9: start it (chroma run) or unset [memory] host",
        "Chroma at chroma.internal:8000 refused the connection",
        "timed out after 5 s waiting for chroma.example:443 (ssl)",
    ],
)
async def test_an_unreachable_memory_server_fails_the_run_with_its_message(
    config: PodiumConfig, monkeypatch: pytest.MonkeyPatch, message: str
) -> None:
    class Unreachable:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise podium_memory.MemoryStoreError(message)

    monkeypatch.setattr(podium_memory, "MemoryStore", Unreachable)
    memory = config.memory.model_copy(update={"enabled": True, "host": "127.0.0.1", "port": 9})
    podium = podium_at(config.model_copy(update={"memory": memory}))
    events: list[RunEvent] = []

    with pytest.raises(ConfigError) as raised:
        await podium.arun("qualify the lead", run_id="no-chroma", on_event=events.append)

    assert message in str(raised.value)
    record = podium.store.get("no-chroma")
    assert record.status == "failed"
    assert record.error is not None and message in record.error
    assert [(e.status, e.error) for e in finished(events)] == [("failed", record.error)]
    assert {r.run_id: r.status for r in podium.runs()} == {"no-chroma": "failed"}


@pytest.mark.parametrize(
    "crash",
    [
        RecursionError("maximum recursion depth exceeded in comparison"),
        KeyError("inputs"),
        RuntimeError("validator blew up"),
        ZeroDivisionError("division by zero"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_a_crash_while_planning_ends_the_run_failed(
    config: PodiumConfig, crash: Exception
) -> None:
    def answer(request: ModelRequest) -> Reply:
        if request.purpose == "plan":
            raise crash
        return "unused"

    podium = podium_at(config, answer)
    events: list[RunEvent] = []
    with pytest.raises(type(crash)):
        await podium.arun("plan this", run_id="crashed-plan", on_event=events.append)

    record = podium.store.get("crashed-plan")
    assert record.status == "failed"
    assert record.error is not None and record.error.startswith(type(crash).__name__)
    assert [e.status for e in finished(events)] == ["failed"]
    with pytest.raises(RunStateError, match="failed"):
        await podium.aresume("crashed-plan")


async def test_a_crash_while_planning_streams_its_end(config: PodiumConfig) -> None:
    def answer(request: ModelRequest) -> Reply:
        raise RuntimeError("planner double exploded")

    podium = podium_at(config, answer)
    seen: list[RunEvent] = []
    with pytest.raises(RuntimeError):
        async for event in podium.astream("plan this", run_id="streamed"):
            seen.append(event)
    assert seen[-1] == finished(seen)[0]
    assert seen[-1].status == "failed" and "planner double exploded" in (seen[-1].error or "")
    assert podium.store.get("streamed").status == "failed"


# -- a full or read-only disk, at each stage of a run --------------------------------------

DISK_ERRORS: dict[str, Callable[[], BaseException]] = {
    "enospc": lambda: OSError(errno.ENOSPC, "No space left on device", "/data/runs/x"),
    "edquot": lambda: OSError(errno.EDQUOT, "Disk quota exceeded"),
    "erofs": lambda: OSError(errno.EROFS, "Read-only file system", "/data/runs"),
    "sqlite-full": lambda: sqlite3.OperationalError("database or disk is full"),
    "sqlite-readonly": lambda: sqlite3.OperationalError("attempt to write a readonly database"),
    "sqlite-io": lambda: sqlite3.OperationalError("disk I/O error"),
}


WHAT_TO_DO = {
    "enospc": "free space",
    "edquot": "free space",
    "erofs": "writable",
    "sqlite-full": "free space",
    "sqlite-readonly": "writable",
    "sqlite-io": "check the disk",
}


class Fault:
    """Raises `error()` from one stage of a run, `times` times, then lets it through."""

    def __init__(self, stage: str, error: Callable[[], BaseException], times: int = 1) -> None:
        self.stage, self.error, self.left = stage, error, times
        self.checkpoints = 0

    def fire(self, stage: str) -> None:
        if stage == self.stage and self.left > 0:
            self.left -= 1
            raise self.error()


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Fault]]:
    """Fault points at the real seams: record saves, the checkpoint file's opening, and
    LangGraph's checkpoint writes."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    from podium.runtime.storage import _store

    armed: list[Fault] = []
    save, switch, put_writes = (
        FileRunStore.save,
        _store._switch_to_wal,
        AsyncSqliteSaver.aput_writes,
    )

    def faulty_save(self: FileRunStore, record: RunRecord) -> None:
        stage = {"running": "record", "completed": "final-record"}.get(record.status, "")
        for fault in armed:
            fault.fire(stage)
        save(self, record)

    async def faulty_switch(conn: Any, attempts: int = 100) -> None:
        for fault in armed:
            fault.fire("checkpointer")
        await switch(conn, attempts)

    async def faulty_put_writes(self: Any, *args: Any, **kwargs: Any) -> Any:
        # One call per finished LangGraph task: the plan, then a, then b (the third) fails.
        for fault in armed:
            fault.checkpoints += 1
            if fault.checkpoints == 3:
                fault.fire("checkpoint-write")
        return await put_writes(self, *args, **kwargs)

    monkeypatch.setattr(FileRunStore, "save", faulty_save)
    monkeypatch.setattr(_store, "_switch_to_wal", faulty_switch)
    monkeypatch.setattr(AsyncSqliteSaver, "aput_writes", faulty_put_writes)
    yield armed


def one_line_saying(error: BaseException, kind: str) -> None:
    text = str(error)
    assert "\n" not in text, text
    assert text.startswith("[storage_unavailable] "), text
    assert WHAT_TO_DO[kind] in text, text


@pytest.mark.parametrize("kind", sorted(DISK_ERRORS))
async def test_a_disk_failure_before_the_record_exists_leaves_no_running_record(
    config: PodiumConfig, faults: list[Fault], kind: str
) -> None:
    podium = podium_at(config)
    faults.append(Fault("record", DISK_ERRORS[kind]))
    with pytest.raises(StorageError) as raised:
        await podium.arun("a goal", run_id="never-started")
    one_line_saying(raised.value, kind)
    assert podium.runs() == []
    assert not list((config.storage.data_dir / "runs").glob("*/*.tmp"))  # no half-written file


@pytest.mark.parametrize("stage", ["checkpointer", "checkpoint-write", "final-record"])
@pytest.mark.parametrize("kind", sorted(DISK_ERRORS))
async def test_a_disk_failure_mid_run_ends_it_resumable_and_resume_finishes_it(
    config: PodiumConfig, faults: list[Fault], stage: str, kind: str
) -> None:
    calls = Calls()
    podium = podium_at(config, calls)
    faults.append(Fault(stage, DISK_ERRORS[kind]))
    events: list[RunEvent] = []

    with pytest.raises(StorageError) as raised:
        await podium.arun("a goal", run_id="disk", on_event=events.append)

    one_line_saying(raised.value, kind)
    record = podium.store.get("disk")
    assert record.status == "cancelled", record
    assert record.error is not None and "podium resume disk" in record.error
    assert [(e.status, e.error) for e in finished(events)] == [("cancelled", record.error)]

    before = list(calls.tasks)
    resumed: list[RunEvent] = []
    result = await podium.aresume("disk", on_event=resumed.append)
    assert result.status == "completed" and result.answer == "output of c"
    assert {t: r.output for t, r in result.tasks.items()} == {t: f"output of {t}" for t in "abc"}
    assert podium.store.get("disk").status == "completed"
    again = calls.tasks[len(before) :]
    if stage == "checkpointer":  # nothing had started: every task runs once, after the fix
        assert (before, sorted(again)) == ([], ["a", "b", "c"])
    elif stage == "checkpoint-write":  # the plan and a were checkpointed before the fault
        assert before[:2] == ["a", "b"] and "a" not in again
        assert all((before + again).count(t) <= 2 for t in "abc"), (before, again)
    else:  # every task was checkpointed before the record's save failed: none runs again
        assert (sorted(before), again) == (["a", "b", "c"], [])


async def test_a_store_that_stays_full_keeps_the_record_for_a_later_listing(
    config: PodiumConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record cannot be ended while the disk stays full: it keeps this (live) process as
    its owner, so no listing takes it for a dead run; the caller still gets one clear line."""
    podium = podium_at(config)
    save = FileRunStore.save

    def full_once_running(self: FileRunStore, record: RunRecord) -> None:
        if record.status != "running":
            raise OSError(errno.ENOSPC, "No space left on device")
        save(self, record)

    monkeypatch.setattr(FileRunStore, "save", full_once_running)
    with pytest.raises(StorageError, match="no space left"):
        await podium.arun("a goal", run_id="stuck")
    record = podium.store.get("stuck")
    assert record.status == "running" and record.owner == this_process()
    assert [r.status for r in podium.runs()] == ["running"]  # its process is alive: as it is


# -- records left "running" by a process that is gone --------------------------------------


def running_record(store: FileRunStore, run_id: str, owner: RunOwner | None) -> RunRecord:
    record = RunRecord(
        run_id=run_id,
        goal="find a, then b, then join",
        status="running",
        created_at=1.0,
        updated_at=1.0,
        owner=owner,
    )
    store.save(record)
    return record


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def here(pid: int, started: int | None = None) -> RunOwner:
    me = this_process()
    return me.model_copy(update={"pid": pid, "started": started})


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield child
    child.kill()
    child.wait()


def start_ticks(pid: int) -> int | None:
    from podium.runtime.storage._store import _started

    return _started(pid)


async def test_a_record_of_a_dead_process_is_marked_resumable_and_resumes(
    config: PodiumConfig,
) -> None:
    calls = Calls()
    podium = podium_at(config, calls)
    store = podium.store
    assert isinstance(store, FileRunStore)
    running_record(store, "orphan", here(dead_pid()))

    listed = {r.run_id: r for r in podium.runs()}
    assert listed["orphan"].status == "cancelled"
    assert "is gone" in (listed["orphan"].error or "")
    assert "podium resume orphan" in (listed["orphan"].error or "")
    assert store.get("orphan").status == "cancelled"  # marked in the store, not only shown

    result = await podium.aresume("orphan")
    assert result.status == "completed" and result.answer == "output of c"
    assert store.get("orphan").owner == this_process()


@pytest.mark.parametrize(
    "owner_of",
    [
        pytest.param(lambda child: here(dead_pid()), id="exited"),
        pytest.param(
            lambda child: here(child.pid, (start_ticks(child.pid) or 0) + 7), id="pid-reused"
        ),
        pytest.param(lambda child: zombie_owner(), id="zombie"),
    ],
)
def test_records_of_gone_processes_are_marked(
    config: PodiumConfig,
    sleeper: subprocess.Popen[bytes],
    zombies: list[subprocess.Popen[bytes]],
    owner_of: Callable[[subprocess.Popen[bytes]], RunOwner],
) -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("start times and zombies are read from /proc")
    podium = podium_at(config)
    store = podium.store
    assert isinstance(store, FileRunStore)
    owner = owner_of(sleeper)
    assert owner_alive(owner) is False
    running_record(store, "gone", owner)
    assert [r.status for r in podium.runs()] == ["cancelled"]


_ZOMBIES: list[subprocess.Popen[bytes]] = []


@pytest.fixture
def zombies() -> Iterator[list[subprocess.Popen[bytes]]]:
    yield _ZOMBIES
    while _ZOMBIES:
        _ZOMBIES.pop().wait()


def zombie_owner() -> RunOwner:
    """A child that has exited but is not reaped yet: its pid still answers signal 0."""
    child = subprocess.Popen(["true"])
    _ZOMBIES.append(child)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stat = Path(f"/proc/{child.pid}/stat").read_text()
        if stat[stat.rindex(")") + 2] == "Z":
            break
        time.sleep(0.01)
    os.kill(child.pid, 0)  # the zombie is still there for signal 0
    return here(child.pid, start_ticks(child.pid))


@pytest.mark.parametrize(
    "owner_of",
    [
        pytest.param(lambda child: here(child.pid, start_ticks(child.pid)), id="live-process"),
        pytest.param(lambda child: here(child.pid, None), id="live-no-start-time"),
        pytest.param(lambda child: this_process(), id="this-process"),
        pytest.param(
            lambda child: here(dead_pid()).model_copy(update={"host": "another-machine"}),
            id="another-machine",
        ),
        pytest.param(
            lambda child: here(dead_pid()).model_copy(update={"pid_namespace": "pid:[1]"}),
            id="another-container",
        ),
        pytest.param(lambda child: None, id="no-owner-recorded"),
    ],
)
async def test_records_of_live_or_unknown_processes_stay_running(
    config: PodiumConfig,
    sleeper: subprocess.Popen[bytes],
    owner_of: Callable[[subprocess.Popen[bytes]], RunOwner | None],
) -> None:
    podium = podium_at(config)
    store = podium.store
    assert isinstance(store, FileRunStore)
    owner = owner_of(sleeper)
    record = running_record(store, "live", owner)
    assert [r.status for r in podium.runs()] == ["running"]
    assert settle_stale(store, record) == record
    assert store.get("live") == record
    if owner is not None and owner != this_process() and owner_alive(owner):
        with pytest.raises(RunStateError, match="running in another process"):
            await podium.aresume("live")


def test_the_live_owner_is_marked_once_it_dies(
    config: PodiumConfig, sleeper: subprocess.Popen[bytes]
) -> None:
    podium = podium_at(config)
    store = podium.store
    assert isinstance(store, FileRunStore)
    running_record(store, "later", here(sleeper.pid, start_ticks(sleeper.pid)))
    assert [r.status for r in podium.runs()] == ["running"]
    sleeper.kill()
    sleeper.wait()
    assert [r.status for r in podium.runs()] == ["cancelled"]


def test_podium_runs_on_the_cli_shows_a_killed_runs_record_as_cancelled(
    config: PodiumConfig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    podium = podium_at(config)
    store = podium.store
    assert isinstance(store, FileRunStore)
    running_record(store, "killed-run", here(dead_pid()))
    monkeypatch.setattr(cli, "_config", lambda args: config)  # `podium runs` reads it alone
    monkeypatch.setattr(cli, "_storage", lambda args: config.storage)  # runs, show, audit
    assert cli.main(["runs"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "killed-run" in line)
    assert "cancelled" in row and "running" not in row


async def test_a_run_records_its_owner_while_it_runs(config: PodiumConfig) -> None:
    seen: list[RunRecord] = []
    podium: Podium

    def answer(request: ModelRequest) -> Reply:
        if request.task_id == "a":
            seen.append(podium.store.get("owned"))
        return Calls()(request)

    podium = podium_at(config, answer)
    await podium.arun("a goal", run_id="owned")
    assert seen and seen[0].status == "running" and seen[0].owner == this_process()
    assert owner_alive(this_process()) is True


def test_this_process_is_the_owner_a_forked_child_is_not() -> None:
    script = (
        "import json; from podium.runtime.storage._store import this_process;"
        "print(this_process().model_dump_json())"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=os.environ
    ).stdout
    child = RunOwner.model_validate(json.loads(out))
    me = this_process()
    assert child.pid != me.pid and child.host == me.host
    assert owner_alive(child) is False  # that process has exited


# -- what a storage failure means, from the error alone ------------------------------------


@pytest.mark.parametrize("kind", sorted(DISK_ERRORS))
@pytest.mark.parametrize("wrapped", [False, True], ids=["bare", "raised-from"])
def test_storage_failures_are_recognised_through_their_causes(kind: str, wrapped: bool) -> None:
    error = DISK_ERRORS[kind]()
    if kind.startswith("sqlite"):
        # An SQLite error is the storage's only when the checkpointer raised it (its seam says
        # so); the same error from a tool's database is not (tests/test_storage_failures.py).
        try:
            with storing(database=Path("/srv/podium-data/runs/checkpoints.sqlite")):
                raise error
        except StorageError as seam:
            error = seam
    if wrapped:
        try:
            try:
                raise error
            except BaseException as inner:
                raise RuntimeError("langgraph: checkpoint failed") from inner
        except RuntimeError as outer:
            error = outer
    failure = storage_failure(error, Path("/srv/podium-data"))
    assert failure is not None
    one_line_saying(failure, kind)


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOENT, "No such file or directory"),
        OSError(errno.ECONNREFUSED, "Connection refused"),
        sqlite3.IntegrityError("UNIQUE constraint failed"),
        ValueError("not storage"),
        RecursionError(),
    ],
    ids=lambda e: type(e).__name__ + str(getattr(e, "errno", "")),
)
def test_other_errors_are_not_taken_for_storage_failures(error: BaseException) -> None:
    assert storage_failure(error) is None


# -- the same, seen through `podium serve` ---------------------------------------------------


@pytest.mark.parametrize("alive", [False, True], ids=["dead-owner", "live-owner"])
async def test_the_server_shows_a_dead_processs_run_as_resumable(
    tmp_path: Path, sleeper: subprocess.Popen[bytes], alive: bool
) -> None:
    import httpx
    from serve_support import podium_for

    from podium.runtime import create_app

    podium = podium_for(tmp_path / "data")
    store = podium.store
    assert isinstance(store, FileRunStore)
    owner = here(sleeper.pid, start_ticks(sleeper.pid)) if alive else here(dead_pid())
    record = running_record(store, "left-behind", owner)
    record = record.model_copy(update={"tenant": podium.config.memory.tenant})
    store.save(record)

    app = create_app(podium, tokens={})
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://podium") as client:
            shown = (await client.get("/runs/left-behind")).json()
            listed = (await client.get("/runs")).json()
            assert shown["status"] == ("running" if alive else "cancelled")
            assert [r["status"] for r in listed] == [shown["status"]]
            if alive:
                return
            assert "is gone" in shown["error"]
            resumed = await client.post("/runs/left-behind/resume")
            assert resumed.status_code == 202, resumed.text
            for _ in range(600):
                status = (await client.get("/runs/left-behind")).json()["status"]
                if status not in ("queued", "running"):
                    break
                await asyncio.sleep(0.05)
            assert status == "completed"
