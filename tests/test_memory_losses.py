"""A memory collection deleted behind the store's back is noticed, re-created and reported.

Store cases run on embedded Chroma and on a Chroma server (`chroma run` from this venv, as in
test_memory.py); "someone else" is a plain Chroma client on the same folder or server, as a
script, an operator or another process would be. Run cases check that the loss reaches
`RunResult.warnings` and that the run still completes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings
from conftest import task

from podium.memory import (
    CollectionLoss,
    EmbeddingMismatchError,
    MemoryConfig,
    MemoryStore,
    MemoryStoreError,
)
from podium.memory.testing import HashEmbedder
from podium.runtime import ModelRequest, Podium, PodiumConfig, RunEvent, RunResult, TaskCompleted
from podium.runtime.testing import ScriptedModel, Step, plan_reply, reply

LOCALHOST = pytest.mark.allow_hosts(["127.0.0.1"])
DIMENSION = 32
EMBEDDING = f"hash-{DIMENSION}"
KINDS = ("tenant", "run", "agent", "plans")
TENANTS = ("acme", "Globex Corp", "ACME-42", "  spaced  tenant ", "ünïcode-tenant")
RUN, AGENT = "r-7f3a", "writer"


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from test_memory import ChromaServer

    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    yield server
    server.stop()


@dataclass
class Backend:
    """Opens stores on one location, and someone else's plain Chroma client on it."""

    name: str
    settings: dict[str, Any]
    opened: list[Any] = field(default_factory=list)
    """Every store and client it opened, closed when the test ends: each embedded Chroma
    holds ~26 files, and the suite must fit a default limit of 1,024 open files."""

    @property
    def prefix(self) -> str:
        return str(self.settings.get("collection_prefix", "podium"))

    def store(self, embedder: Any = None) -> MemoryStore:
        config = MemoryConfig.model_validate(self.settings)
        store = MemoryStore(config, embedder=embedder or HashEmbedder(DIMENSION))
        self.opened.append(store)
        return store

    def chroma(self) -> ClientAPI:
        # The same settings as the store's: embedded Chroma refuses two systems on one folder.
        settings = Settings(anonymized_telemetry=False, allow_reset=False)
        client: ClientAPI
        if "host" in self.settings:
            client = chromadb.HttpClient(
                host=self.settings["host"], port=self.settings["port"], settings=settings
            )
        else:
            client = chromadb.PersistentClient(path=self.settings["path"], settings=settings)
        self.opened.append(client)
        return client

    def close(self) -> None:
        for opened in reversed(self.opened):
            close = getattr(opened, "close", None)
            if callable(close):
                close()


@pytest.fixture(params=["embedded", pytest.param("server", marks=LOCALHOST)])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, chroma_server: Any
) -> Iterator[Backend]:
    if request.param == "embedded":
        opened = Backend("embedded", {"path": str(tmp_path / "memory")})
    else:
        host, port = chroma_server.address()
        prefix = f"t{uuid.uuid4().hex[:12]}"
        opened = Backend("server", {"host": host, "port": port, "collection_prefix": prefix})
    yield opened
    opened.close()


def label(kind: str) -> str:
    return {"run": f"run:{RUN}", "agent": f"agent:{AGENT}"}.get(kind, kind)


def write(store: MemoryStore, tenant: str, kind: str, text: str) -> None:
    if kind == "plans":
        store.plan_cache(tenant).put(text, json.dumps({"tasks": [{"note": text}]}))
    else:
        store.scope(tenant, run_id=RUN, agent=AGENT).write(text, namespace=kind)  # type: ignore[arg-type]


def found(store: MemoryStore, tenant: str, kind: str, query: str) -> list[str]:
    """What a search of the namespace returns: texts, or the goal of the closest plan."""
    if kind == "plans":
        match = store.plan_cache(tenant).lookup(query, threshold=0.0)
        return [] if match is None else [match.goal]
    scope = store.scope(tenant, run_id=RUN, agent=AGENT)
    return [h.entry.text for h in scope.search(query, k=10, namespaces={kind})]  # type: ignore[arg-type]


def collections_of(client: ClientAPI, prefix: str, tenant: str, kind: str) -> list[Collection]:
    return [
        c
        for c in client.list_collections()
        if c.name.startswith(f"{prefix}-")
        and (c.metadata or {}).get("tenant") == tenant
        and (c.metadata or {}).get("namespace") == label(kind)
    ]


def collection_of(client: ClientAPI, prefix: str, tenant: str, kind: str) -> Collection:
    (collection,) = collections_of(client, prefix, tenant, kind)
    return collection


def assert_embedding_recorded(metadata: Any) -> None:
    assert (metadata or {}).get("embedding") == EMBEDDING
    assert (metadata or {}).get("dimension") == DIMENSION


def assert_record_intact(client: ClientAPI, prefix: str) -> None:
    record = client.get_collection(f"{prefix}-store", embedding_function=None)
    assert (record.metadata or {}).get("podium") == "store"
    assert_embedding_recorded(record.metadata)


def assert_one_loss(
    losses: list[CollectionLoss], tenant: str, kind: str, name: str, how: str
) -> None:
    assert [(x.tenant, x.namespace, x.collection, x.how) for x in losses] == [
        (tenant, label(kind), name, how)
    ]
    message = losses[0].message
    assert "lost" in message and name in message and repr(tenant) in message
    words = {"run": f"run {RUN}", "agent": f"agent {AGENT}", "plans": "plan cache"}
    assert words.get(kind, "shared memory") in message
    assert "\n" not in message


# Variants: every namespace kind, under tenant names of assorted case, spacing and script.
CASES = list(zip(KINDS * 2, itertools.cycle(TENANTS), strict=False))


@pytest.mark.parametrize(("kind", "tenant"), CASES)
def test_deleted_before_a_write(backend: Backend, kind: str, tenant: str) -> None:
    with backend.store() as store:
        write(store, tenant, kind, "Northwind renewed its contract for two years")
        other = backend.chroma()
        old = collection_of(other, backend.prefix, tenant, kind)
        other.delete_collection(old.name)

        write(store, tenant, kind, "Brightforge signed the order in March")

        assert_one_loss(store.losses_since(0), tenant, kind, old.name, "deleted")
        new = collection_of(other, backend.prefix, tenant, kind)
        assert new.id != old.id and new.count() == 1
        assert_embedding_recorded(new.metadata)
        assert_record_intact(other, backend.prefix)
        assert found(store, tenant, kind, "Brightforge signed the order") == [
            "Brightforge signed the order in March"
        ]
        assert "Northwind renewed its contract for two years" not in found(
            store, tenant, kind, "Northwind renewed its contract"
        )
        write(store, tenant, kind, "Erik prefers email")
        assert len(store.losses_since(0)) == 1  # reported once, not on every use
    with backend.store() as reopened:  # the record knows the new collection: no loss
        assert found(reopened, tenant, kind, "Erik prefers email")
        assert reopened.losses_since(0) == []


@pytest.mark.parametrize(("kind", "tenant"), CASES)
def test_deleted_before_a_search(backend: Backend, kind: str, tenant: str) -> None:
    with backend.store() as store:
        write(store, tenant, kind, "Northwind renewed its contract for two years")
        other = backend.chroma()
        old = collection_of(other, backend.prefix, tenant, kind)
        other.delete_collection(old.name)

        assert found(store, tenant, kind, "Northwind renewed its contract") == []

        assert_one_loss(store.losses_since(0), tenant, kind, old.name, "deleted")
        assert collections_of(other, backend.prefix, tenant, kind) == []  # a read creates nothing
        write(store, tenant, kind, "Brightforge signed the order in March")
        assert len(store.losses_since(0)) == 1
        assert_embedding_recorded(collection_of(other, backend.prefix, tenant, kind).metadata)


@pytest.mark.parametrize("first_use", ["write", "search"])
@pytest.mark.parametrize(("kind", "tenant"), CASES[:4])
def test_deleted_while_no_store_was_open(
    backend: Backend, kind: str, tenant: str, first_use: str
) -> None:
    """Between two runs in two processes: the second store never held the old collection."""
    with backend.store() as store:
        write(store, tenant, kind, "Northwind renewed its contract for two years")
    other = backend.chroma()
    old = collection_of(other, backend.prefix, tenant, kind)
    other.delete_collection(old.name)

    with backend.store() as store:
        if first_use == "write":
            write(store, tenant, kind, "Brightforge signed the order in March")
        else:
            assert found(store, tenant, kind, "Northwind renewed its contract") == []
        assert_one_loss(store.losses_since(0), tenant, kind, old.name, "deleted")
        assert store.losses_since(1) == []


FOREIGN = [
    {"embedding": "openai/text-embedding-3-small", "dimension": 1536},
    {"embedding": EMBEDDING, "dimension": 64},
    {"embedding": "hash-64", "dimension": DIMENSION},
    None,
]


@pytest.mark.parametrize("foreign", FOREIGN)
@pytest.mark.parametrize("kind", KINDS)
def test_replaced_with_another_embedding(
    backend: Backend, kind: str, foreign: dict[str, Any] | None
) -> None:
    tenant = TENANTS[KINDS.index(kind)]
    with backend.store() as store:
        write(store, tenant, kind, "Northwind renewed its contract for two years")
        other = backend.chroma()
        old = collection_of(other, backend.prefix, tenant, kind)
        other.delete_collection(old.name)
        theirs = other.create_collection(old.name, metadata=foreign, embedding_function=None)
        theirs.add(ids=["x"], embeddings=[[0.5] * 8], documents=["someone else's"])

        for _ in range(2):  # refused every time; the loss is reported once
            with pytest.raises(EmbeddingMismatchError, match=old.name):
                write(store, tenant, kind, "Brightforge signed the order in March")
        assert_one_loss(store.losses_since(0), tenant, kind, old.name, "replaced")
        # Their collection is left as they made it; the store's own record is unchanged.
        kept = other.get_collection(old.name, embedding_function=None)
        assert kept.id == theirs.id and kept.metadata == theirs.metadata and kept.count() == 1
        assert_record_intact(other, backend.prefix)


def test_replaced_by_another_store_is_shared_not_refused(backend: Backend) -> None:
    """Another podium process deleted it and wrote again: both see the loss, then one collection."""
    with backend.store() as mine, backend.store() as theirs:
        write(mine, "acme", "run", "Northwind renewed its contract for two years")
        other = backend.chroma()
        old = collection_of(other, backend.prefix, "acme", "run")
        other.delete_collection(old.name)

        write(theirs, "acme", "run", "Brightforge signed the order in March")
        write(mine, "acme", "run", "Erik prefers email")

        assert [x.how for x in theirs.losses_since(0)] == ["deleted"]
        assert [x.how for x in mine.losses_since(0)] == ["replaced"]
        assert collection_of(other, backend.prefix, "acme", "run").count() == 2


@pytest.mark.parametrize("then", ["write", "search", "new namespace"])
def test_the_record_itself_deleted_is_recreated_with_the_embedding(
    backend: Backend, then: str
) -> None:
    with backend.store() as store:
        write(store, "acme", "tenant", "Northwind renewed its contract for two years")
        other = backend.chroma()
        other.delete_collection(f"{backend.prefix}-store")

        if then == "write":
            write(store, "acme", "tenant", "Brightforge signed the order in March")
        elif then == "search":
            found(store, "acme", "run", "Northwind")  # the run's namespace is looked up
        else:
            write(store, "Globex Corp", "agent", "Erik prefers email")

        (loss,) = store.losses_since(0)
        assert (loss.tenant, loss.namespace, loss.how) == (None, "store record", "deleted")
        assert EMBEDDING in loss.message and "re-created" in loss.message
        assert loss.concerns("acme", "any-run") and loss.concerns("globex", None)
        assert_record_intact(other, backend.prefix)


def test_a_reset_reports_each_namespace_in_use_and_the_record(backend: Backend) -> None:
    with backend.store() as store:
        for kind in KINDS:
            write(store, "acme", kind, f"Northwind note for the {kind}")
        other = backend.chroma()
        for collection in other.list_collections():
            if collection.name.startswith(f"{backend.prefix}-"):
                other.delete_collection(collection.name)

        for kind in reversed(KINDS):
            write(store, "acme", kind, f"Brightforge note for the {kind}")

        losses = store.losses_since(0)
        assert sorted(x.namespace for x in losses) == sorted(
            ["store record", *(label(k) for k in KINDS)]
        )
        assert_record_intact(other, backend.prefix)
        for kind in KINDS:
            assert_embedding_recorded(collection_of(other, backend.prefix, "acme", kind).metadata)


@pytest.mark.parametrize(
    "forget",
    [
        {"run_id": RUN},
        {"run_id": RUN, "tenant": "acme"},
        {"tenant": "acme"},
    ],
)
@pytest.mark.parametrize("by", ["this store", "another store"])
def test_what_forget_deletes_is_not_a_loss(
    backend: Backend, forget: dict[str, str], by: str
) -> None:
    with backend.store() as store, backend.store() as another:
        for kind in KINDS:
            write(store, "acme", kind, f"Northwind note for the {kind}")
        (store if by == "this store" else another).forget(**forget)

        for kind in KINDS:
            found(store, "acme", kind, "Northwind note")
            write(store, "acme", kind, f"Brightforge note for the {kind}")
        assert store.losses_since(0) == [] and another.losses_since(0) == []


# -- in runs ---------------------------------------------------------------------------------

TENANT_A, TENANT_B = "acme", "globex"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MemoryStore]:
    config = MemoryConfig(path=tmp_path / "memory", plan_cache=False)
    with MemoryStore(config, embedder=HashEmbedder(DIMENSION)) as opened:
        yield opened


def chroma_on(store: MemoryStore) -> ClientAPI:
    return chromadb.PersistentClient(
        path=str(store.config.path),
        settings=Settings(anonymized_telemetry=False, allow_reset=False),
    )


def podium(tmp_path: Path, store: MemoryStore, steps: list[Step]) -> Podium:
    config = PodiumConfig.from_mapping(
        {"storage": {"data_dir": str(tmp_path / "data"), "checkpointer": "memory"}}
    )
    return Podium(config, model=ScriptedModel(steps), memory=store)


def run(
    runtime: Podium, goal: str, tenant: str, on_event: Callable[[RunEvent], None] | None = None
) -> RunResult:
    return asyncio.run(runtime.arun(goal, tenant=tenant, on_event=on_event))


def chain_steps(when_b: Callable[[ModelRequest], bool] | None = None) -> list[Step]:
    plan = [
        task("a", "researcher", instruction="Look up Northwind's renewal"),
        task("b", "analyst", ["a"], instruction="Assess Northwind's renewal"),
        task("c", "writer", ["b"], instruction="Write up Northwind's renewal"),
    ]
    return [
        plan_reply(plan),
        reply("Northwind renewed for two years.", task="a"),
        Step(reply="A two-year renewal is good news.", task="b", when=when_b),
        reply("Northwind renewed for two years: good news.", task="c"),
        reply("Northwind renewed for two years.", purpose="synthesis"),
    ]


def lost_warnings(result: RunResult) -> list[str]:
    return [w for w in result.warnings if "behind this store's back" in w]


@pytest.mark.parametrize("point", ["before b's search", "before b's write"])
def test_a_run_warns_when_its_namespace_is_deleted_mid_run(
    tmp_path: Path, store: MemoryStore, point: str
) -> None:
    other = chroma_on(store)
    deleted: list[str] = []

    def delete_run_namespace(run_id: str) -> None:
        if not deleted:
            (collection,) = [
                c
                for c in other.list_collections()
                if (c.metadata or {}).get("namespace") == f"run:{run_id}"
            ]
            other.delete_collection(collection.name)
            deleted.append(collection.name)

    def on_event(event: RunEvent) -> None:
        # task_completed is emitted after the task's output is in memory
        is_a_done = isinstance(event, TaskCompleted) and event.task_id == "a"
        if point == "before b's search" and is_a_done:
            delete_run_namespace(event.run_id)

    def when_b(request: ModelRequest) -> bool:
        if point == "before b's write":  # b has searched; its output is written after this
            delete_run_namespace(request.run_id)
        return True

    result = run(podium(tmp_path, store, chain_steps(when_b)), "Brief me", TENANT_A, on_event)

    assert result.status == "completed" and deleted
    (warning,) = lost_warnings(result)
    assert deleted[0] in warning and f"run {result.run_id}" in warning and "lost" in warning
    (recreated,) = [
        c
        for c in other.list_collections()
        if (c.metadata or {}).get("namespace") == f"run:{result.run_id}"
    ]
    assert_embedding_recorded(recreated.metadata)
    assert_record_intact(other, store.config.collection_prefix)


@pytest.mark.parametrize("same_podium", [True, False])
def test_the_next_run_warns_of_memory_deleted_between_runs(
    tmp_path: Path, store: MemoryStore, same_podium: bool
) -> None:
    def steps(answer: str) -> list[Step]:
        plan = [task("brief", "researcher", instruction="Brief on the Nordlys renewal")]
        return [plan_reply(plan), reply(answer, task="brief")]

    first = podium(tmp_path / "1", store, steps("Nordlys renewed for two years.") * 3)
    assert not run(first, "Brief me on Nordlys", TENANT_A).warnings
    other = chroma_on(store)
    tenant_level = collection_of(other, "podium", TENANT_A, "tenant")
    other.delete_collection(tenant_level.name)

    second = first if same_podium else podium(tmp_path / "2", store, steps("ok"))
    result = run(second, "Brief me on the Nordlys renewal", TENANT_A)
    (warning,) = lost_warnings(result)
    assert result.status == "completed"
    assert tenant_level.name in warning and "shared memory of tenant 'acme'" in warning
    # Another tenant's run never touched it: nothing to tell it.
    third = first if same_podium else podium(tmp_path / "3", store, steps("ok"))
    assert lost_warnings(run(third, "Brief me on the Nordlys renewal", TENANT_B)) == []


def test_a_run_warns_when_memory_was_replaced_with_another_embedding(
    tmp_path: Path, store: MemoryStore
) -> None:
    def steps(answer: str) -> list[Step]:
        plan = [task("brief", "researcher", instruction="Brief on the Nordlys renewal")]
        return [plan_reply(plan), reply(answer, task="brief")]

    first = podium(tmp_path / "1", store, steps("Nordlys renewed for two years.") * 2)
    run(first, "Brief me on Nordlys", TENANT_A)
    other = chroma_on(store)
    name = collection_of(other, "podium", TENANT_A, "tenant").name
    other.delete_collection(name)
    other.create_collection(
        name, metadata={"embedding": "other", "dimension": 8}, embedding_function=None
    )

    result = run(first, "Brief me on the Nordlys renewal", TENANT_A)

    assert result.status == "completed"
    assert any("replaced" in w for w in lost_warnings(result))
    assert any(w.startswith("memory ") and "embedding_mismatch" in w for w in result.warnings)
    with pytest.raises(MemoryStoreError):  # refused, not overwritten
        store.scope(TENANT_A).write("anything", namespace="tenant")
