"""One suite over every durable storage backend: SQLite files, and Postgres (records and checkpoints)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import task
from crash_worker import podium as worker_podium
from test_resume import run_and_kill_after

from podium.runtime import (
    ConfigError,
    ModelRequest,
    Podium,
    PodiumConfig,
    RunNotFoundError,
    RunStateError,
    StorageError,
    TaskCompleted,
)
from podium.runtime.testing import FunctionModel, Reply

PLAN = [task("a", "researcher"), task("b", "writer", ["a"])]
STORE_TYPES = {"sqlite": "FileRunStore", "postgres": "PostgresRunStore"}


async def answer(request: ModelRequest) -> Reply:
    """Plans two tasks; each task's output names its run, so runs cannot mix unnoticed."""
    if request.purpose == "plan":
        return {"tasks": PLAN}
    await asyncio.sleep(0.02)
    return f"{request.run_id}:{request.task_id}"


@dataclass
class Backend:
    """A storage backend under test: its config, and the environment a subprocess needs for it."""

    name: str
    data_dir: Path
    env: dict[str, str]
    opened: list[Podium] = field(default_factory=list)

    def config(self) -> PodiumConfig:
        storage: dict[str, Any] = {"data_dir": str(self.data_dir)}
        if self.name == "postgres":
            storage |= {"checkpointer": "postgres", "postgres_url": self.env["PODIUM_POSTGRES_URL"]}
        return PodiumConfig.from_mapping({"storage": storage, "memory": {"enabled": False}})

    def podium(self, model: Any = None) -> Podium:
        opened = Podium(self.config(), model=model or FunctionModel(answer))
        self.opened.append(opened)
        return opened


@pytest.fixture(params=["sqlite", "postgres"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Backend]:
    env: dict[str, str] = {}
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        _empty_tables(url)
        env = {"PODIUM_CHECKPOINTER": "postgres", "PODIUM_POSTGRES_URL": url}
    for name, value in env.items():  # the crash worker's subprocess reads its storage from here
        monkeypatch.setenv(name, value)
    chosen = Backend(request.param, tmp_path / "data", env)
    yield chosen
    for podium in chosen.opened:
        podium.close()


def _empty_tables(url: str) -> None:
    """Each test starts from no runs; the database (and its tables) lasts the module."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('podium_runs') IS NOT NULL").fetchone()
        if row and row[0]:
            conn.execute("TRUNCATE podium_runs, checkpoints, checkpoint_blobs, checkpoint_writes")


async def test_a_run_keeps_its_record_and_result(backend: Backend) -> None:
    podium = backend.podium()
    assert type(podium.store).__name__ == STORE_TYPES[backend.name]
    result = await podium.arun("two steps", run_id="one", tenant="acme")

    assert result.status == "completed", result.error
    assert result.answer == "one:b"
    record = podium.store.get("one")
    assert (record.status, record.goal, record.tenant) == ("completed", "two steps", "acme")
    assert record.result == result
    assert record.created_at <= record.updated_at


async def test_another_instance_lists_runs_newest_first_by_tenant(backend: Backend) -> None:
    writer = backend.podium()
    for run_id, tenant in [("r1", "acme"), ("r2", "globex"), ("r3", "acme")]:
        await writer.arun(f"goal of {run_id}", run_id=run_id, tenant=tenant)

    reader = backend.podium()  # another process would see the same
    assert [r.run_id for r in reader.runs()] == ["r3", "r2", "r1"]
    assert [r.run_id for r in reader.runs(tenant="acme")] == ["r3", "r1"]
    assert [r.run_id for r in reader.runs(limit=1)] == ["r3"]
    assert reader.runs(tenant="initech") == []
    assert all(r.result is not None and r.result.answer == f"{r.run_id}:b" for r in reader.runs())


async def test_two_concurrent_runs_in_one_process_stay_apart(backend: Backend) -> None:
    podium = backend.podium()
    first, second = await asyncio.gather(
        podium.arun("first", run_id="left"), podium.arun("second", run_id="right")
    )

    assert (first.answer, second.answer) == ("left:b", "right:b")
    assert {t: r.output for t, r in first.tasks.items()} == {"a": "left:a", "b": "left:b"}
    assert {r.run_id: r.status for r in podium.runs()} == {
        "left": "completed",
        "right": "completed",
    }


async def test_a_killed_run_resumes_without_rerunning_completed_tasks(backend: Backend) -> None:
    log = backend.data_dir.parent / "calls.log"
    await asyncio.to_thread(run_and_kill_after, backend.data_dir, log, "crashed", "done d")
    before = log.read_text().splitlines()

    podium = worker_podium(backend.data_dir, log)  # reads its storage from the environment
    backend.opened.append(podium)
    assert type(podium.store).__name__ == STORE_TYPES[backend.name]
    assert podium.store.get("crashed").status == "running"
    events: list[object] = []
    result = await podium.aresume("crashed", on_event=events.append)

    assert result.status == "completed", result.error
    after = log.read_text().splitlines()[len(before) :]
    assert "plan" not in after
    assert not {"start a", "start c", "start d"} & set(after), after
    restored = {e.task_id for e in events if isinstance(e, TaskCompleted) and e.restored}
    assert restored == {"a", "c", "d"}
    assert podium.store.get("crashed").result == result


async def test_resuming_a_finished_run_is_refused_and_its_result_stays(backend: Backend) -> None:
    model = FunctionModel(answer)
    podium = backend.podium(model)
    first = await podium.arun("done already", run_id="finished")
    calls = len(model.calls)

    again = backend.podium(model)
    with pytest.raises(RunStateError, match="completed and has nothing to resume"):
        await again.aresume("finished")
    assert again.store.get("finished").result == first
    assert len(model.calls) == calls


async def test_an_unknown_run_id_says_how_to_find_runs(backend: Backend) -> None:
    podium = backend.podium()
    with pytest.raises(RunNotFoundError, match="podium runs"):
        podium.store.get("nope")
    with pytest.raises(RunNotFoundError, match="'nope'"):
        await podium.aresume("nope")


async def test_a_run_has_a_folder_for_its_files(backend: Backend) -> None:
    podium = backend.podium()
    await podium.arun("with files", run_id="filed")

    folder = podium.store.run_dir("filed")
    assert folder == backend.data_dir / "runs" / "filed"
    assert folder.is_dir()


async def test_an_output_with_a_nul_character_is_stored(backend: Backend) -> None:
    async def nul(request: ModelRequest) -> Reply:
        return {"tasks": [task("a", "researcher")]} if request.purpose == "plan" else "x\x00y"

    podium = backend.podium(FunctionModel(nul))
    result = await podium.arun("binary junk", run_id="nul")

    stored = podium.store.get("nul").result
    assert stored is not None and stored.answer is not None
    # JSONB cannot hold U+0000: Postgres keeps U+FFFD in its place.
    assert stored.answer.replace("\ufffd", "\x00") == result.answer == "x\x00y"


# -- Postgres only: configuration and failures --------------------------------------------


def postgres_config(url: str | None, tmp_path: Path) -> PodiumConfig:
    storage: dict[str, Any] = {"data_dir": str(tmp_path), "checkpointer": "postgres"}
    if url is not None:
        storage["postgres_url"] = url
    return PodiumConfig.from_mapping({"storage": storage, "memory": {"enabled": False}})


def test_postgres_without_a_url_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PODIUM_POSTGRES_URL", raising=False)
    with pytest.raises(ConfigError, match="PODIUM_POSTGRES_URL"):
        postgres_config(None, tmp_path)

    monkeypatch.setenv("PODIUM_POSTGRES_URL", "postgresql://podium:s3cret@db.internal/podium")
    config = postgres_config(None, tmp_path)
    assert config.storage.postgres_url is not None
    assert "s3cret" not in repr(config) and "s3cret" not in str(config.storage)


def test_a_malformed_url_is_a_config_error_without_the_password(tmp_path: Path) -> None:
    config = postgres_config("postgresql://podium:s3cret@db/podium?bogus=1", tmp_path)
    with pytest.raises(ConfigError, match="postgres_url") as caught:
        Podium(config, model=FunctionModel(answer))
    assert "s3cret" not in str(caught.value)


async def test_an_unreachable_database_is_named_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://podium:s3cret@/podium?host={tmp_path / 'no-server'}&port=5999"
    podium = Podium(postgres_config(url, tmp_path), model=FunctionModel(answer))

    with pytest.raises(StorageError, match="cannot reach") as caught:
        podium.runs()
    message = str(caught.value)
    assert str(tmp_path / "no-server") in message and "5999" in message
    assert "scripts/postgres.sh" in message and "s3cret" not in message
    with pytest.raises(StorageError, match="no-server"):
        await podium.arun("goal")


def test_processes_starting_at_once_create_the_tables_once(postgres_server: str) -> None:
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    from podium.runtime.storage._postgres import PostgresRunStore

    name = "podium_setup_race"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = make_conninfo(postgres_server, dbname=name)
        stores = [PostgresRunStore(url, Path("unused")) for _ in range(4)]
        errors: list[BaseException] = []

        def first_use(store: PostgresRunStore) -> None:
            try:
                assert store.list() == []
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=first_use, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for store in stores:
            store.close()
        assert errors == []
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
