"""`MemoryStore`: Chroma (embedded or a server) holding every tenant's namespaces and plan caches."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ._config import MemoryConfig
from ._embedding import Embedder, embedder_for
from ._entry import MemoryStats, NamespaceStats, TenantStats
from ._errors import (
    EmbeddingError,
    EmbeddingMismatchError,
    MemoryBackendError,
    MemoryConfigError,
    MemoryLimitError,
    MemoryStoreError,
)
from ._namespace import SCHEMA_VERSION, Namespace
from ._record import RECORD, CollectionLoss, StoreRecord

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from ._plans import PlanCache
    from ._scope import MemoryScope

log = logging.getLogger("podium.memory")
Redact = Callable[[str], str]
T = TypeVar("T")
_DAY_S = 86_400.0
_PAGE = 1_000


class MemoryStore:
    """Shared memory for every tenant, on Chroma.

    Embedded (`chromadb.PersistentClient` in `config.path`, else `data_dir/memory`) unless
    `config.host` names a Chroma server (`chromadb.HttpClient`). Chroma's telemetry is off;
    the embedded store opens no network socket.

    Read and write through `scope(...)`, which sees only what its tenant, run and agent may
    see; look plans up through `plan_cache(tenant)`. `forget`, `prune_expired` and `stats`
    are the operator's side (the CLI's `podium memory ...`).

    The embedding is fixed when the store is created and recorded in it (and in each of its
    collections); opening it with another raises `EmbeddingMismatchError`.

    A collection deleted behind the store's back (by another process, a script, a Chroma
    reset) is noticed on the store's next use of it, in this process or a later one (the
    store's record lists the id of every collection it made: `_record.py`): the store
    re-creates it with its embedding record when next written, and keeps a `CollectionLoss`
    that `losses_since` hands out (the runtime turns them into run warnings). So does the
    record itself, deleted. What `forget` deletes is not a loss.

    Thread-safe within a process. An embedded store belongs to one process at a time (Chroma's
    rule for PersistentClient); processes that share memory concurrently use a server.
    """

    def __init__(
        self,
        config: MemoryConfig | None = None,
        *,
        data_dir: Path | None = None,
        embedder: Embedder | None = None,
        redact: Redact | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or MemoryConfig()
        self.embedder = embedder or embedder_for(self.config)
        self.redact = redact
        """Applied to every text before it is written (the policies package's redactor)."""
        self.location = self.config.store_location(data_dir)
        self._disk_path = None if self.config.host else self.config.store_path(data_dir)
        self._clock = clock
        self._lock = threading.RLock()
        self._collections: dict[str, Collection] = {}
        self._generations: dict[str, int] = {}
        """The record's generation when each cached collection was opened."""
        self._pruned: set[str] = set()
        self._losses: list[CollectionLoss] = []
        with self._backend("opening the store"):
            self._client = self._connect()
            # The store records its embedding once, in a collection of its own.
            self._record = StoreRecord(
                self._client,
                f"{self.config.collection_prefix}-store",
                {"podium": "store", **self._embedding_metadata()},
                lambda metadata: self._check_embedding(metadata, "this memory store"),
                self._record_lost,
            )

    def scope(
        self,
        tenant: str | None = None,
        run_id: str | None = None,
        agent: str | None = None,
    ) -> MemoryScope:
        """A handle that reads the tenant level, plus the run's namespace when `run_id` is
        given, plus the agent's private notes when `agent` is given, and nothing else."""
        from ._scope import MemoryScope

        return MemoryScope(self, tenant or self.config.tenant, run_id=run_id, agent=agent)

    def plan_cache(self, tenant: str | None = None) -> PlanCache:
        """The tenant's plan cache, on this store."""
        from ._plans import PlanCache

        return PlanCache(self, tenant or self.config.tenant)

    def tenants(self) -> list[str]:
        """Tenants that have anything stored."""
        with self._backend("listing tenants"):
            return sorted({str((c.metadata or {}).get("tenant")) for c in self._listed()})

    def forget(
        self,
        *,
        tenant: str | None = None,
        run_id: str | None = None,
        entry_id: str | None = None,
    ) -> int:
        """Delete entries; returns how many.

        - `entry_id`: that entry (in `tenant`, else wherever it is);
        - `run_id`: the run's namespace and every entry or plan the run wrote anywhere
          (in `tenant`, else in every tenant);
        - `tenant` alone: everything the tenant has, plans included.
        """
        if entry_id is None and run_id is None and tenant is None:
            raise MemoryConfigError("forget needs an entry id, a run id or a tenant")
        with self._lock, self._backend("forget"):
            collections = self._listed(tenant)
            if entry_id is not None:
                return sum(self._delete_id(c, entry_id) for c in collections)
            if run_id is not None:
                return sum(self._forget_run(c, run_id) for c in collections)
            return sum(self._drop(c) for c in collections)

    def prune_expired(self, tenant: str | None = None) -> int:
        """Delete entries and plans older than `retention_days`; returns how many."""
        cutoff = self.cutoff()
        if cutoff is None:
            return 0
        with self._lock, self._backend("pruning expired entries"):
            return sum(
                self._delete(c, where={"created_at": {"$lt": cutoff}}) for c in self._listed(tenant)
            )

    def stats(self, tenant: str | None = None, *, sizes: bool = True) -> MemoryStats:
        """Entries per namespace and tenant; with `sizes`, characters stored (reads every text)."""
        by_tenant: dict[str, list[NamespaceStats]] = {}
        with self._backend("reading stats"):
            for collection in self._listed(tenant):
                meta = collection.metadata or {}
                name = str(meta.get("tenant"))
                by_tenant.setdefault(name, []).append(
                    NamespaceStats(
                        tenant=name,
                        namespace=str(meta.get("namespace")),
                        collection=collection.name,
                        entries=collection.count(),
                        chars=_chars(collection) if sizes else None,
                    )
                )
        tenants = [
            TenantStats(
                tenant=name,
                entries=sum(n.entries for n in spaces if n.namespace != "plans"),
                plans=sum(n.entries for n in spaces if n.namespace == "plans"),
                namespaces=sorted(spaces, key=lambda n: n.namespace),
            )
            for name, spaces in sorted(by_tenant.items())
        ]
        return MemoryStats(
            location=self.location,
            embedding=self.embedder.name,
            dimension=self.embedder.dimension,
            tenants=tenants,
            disk_bytes=_folder_bytes(self._disk_path) if self._disk_path else None,
        )

    def losses_since(self, seen: int) -> list[CollectionLoss]:
        """Collections this store found lost, from the `seen`-th on (0: all of them). Losses
        are only ever appended: a reader starts from `loss_count()` and adds what it got."""
        with self._lock:
            return self._losses[seen:]

    def loss_count(self) -> int:
        """How many losses this store has found so far (a reader starting now passes it to
        `losses_since`)."""
        with self._lock:
            return len(self._losses)

    def close(self) -> None:
        """Release the Chroma client. Stores on the same folder or server share one Chroma
        system per process, which stops when the last of them closes."""
        with self._lock:
            self._collections.clear()
            self._generations.clear()
            close = getattr(self._client, "close", None)
            if callable(close):
                close()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The rest is shared with MemoryScope and PlanCache.

    def now(self) -> float:
        return self._clock()

    def cutoff(self) -> float | None:
        """Entries created before this (epoch seconds) are expired; None when nothing expires."""
        days = self.config.retention_days
        return None if days is None else self.now() - days * _DAY_S

    def prepare_text(self, text: str, *, limit: int, what: str) -> str:
        """Redacted text, refused if still over `limit` characters."""
        stored = self.redact(text) if self.redact else text
        if len(stored) > limit:
            raise MemoryLimitError(
                f"{what} has {len(stored)} characters, over the limit of {limit}: "
                "store a summary, or raise the limit in [memory]"
            )
        return stored

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self.embedder.embed(texts)
        expected = self.embedder.dimension
        if len(vectors) != len(texts) or any(len(v) != expected for v in vectors):
            raise EmbeddingError(
                f"embedder {self.embedder.name} returned vectors of the wrong number or size "
                f"(expected {len(texts)} of {expected} dimensions)"
            )
        return vectors

    def collection(self, namespace: Namespace, *, create: bool) -> Collection | None:
        """The namespace's collection; None if it does not exist and `create` is false.

        Opening one checks it against the store's record: missing, or under another id than
        the one the store gave it, it was deleted behind the store's back (a `CollectionLoss`).
        """
        name = namespace.collection_name(self.config.collection_prefix)
        with self._lock:
            cached = self._collections.get(name)
            if cached is not None:
                return cached
            collection = self._found(name)
            known = self._record.collection_id(name)
            if known is not None and (collection is None or str(collection.id) != known):
                how: Literal["deleted", "replaced"] = (
                    "deleted" if collection is None else "replaced"
                )
                self._lost(name, namespace.tenant, namespace.label, how)
            if collection is None and create:
                collection = self._client.get_or_create_collection(
                    name,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata=self._collection_metadata(namespace),
                )
            if collection is None:
                return None
            self._check_embedding(collection.metadata, f"collection {name} ({namespace.label})")
            if str(collection.id) != known:
                self._record.register(collection, namespace.label)
            self._collections[name] = collection
            self._generations[name] = self._record.generation
            self._prune_once(collection)
        return collection

    def write_to(self, namespace: Namespace, action: Callable[[Collection], T]) -> T:
        """`action` on the namespace's collection (created if need be), under the store's lock;
        run again on a new collection if the old one was deleted behind this store's back."""
        from chromadb.errors import NotFoundError

        with self._lock:
            # Nothing is written under a store record that is gone: it pins the embedding.
            self._record.check()
            for _ in range(2):
                collection = self.collection(namespace, create=True)
                assert collection is not None
                try:
                    return action(collection)
                except NotFoundError:
                    self.vanished(collection)
        raise MemoryBackendError(f"the collection of {namespace.label} keeps disappearing")

    def read_from(self, namespace: Namespace, action: Callable[[Collection], T], default: T) -> T:
        """`action` on the namespace's collection, or `default` if it does not exist (any more)."""
        from chromadb.errors import NotFoundError

        collection = self.collection(namespace, create=False)
        if collection is None:
            return default
        try:
            return action(collection)
        except NotFoundError:
            self.vanished(collection)
            return default

    def vanished(self, collection: Collection) -> None:
        """A handle from `collection` got NotFoundError: drop it, and keep a `CollectionLoss`
        unless a store forgot the collection on purpose (`forget` takes it off the record)."""
        with self._lock:
            name = collection.name
            if self._collections.get(name) is not collection:
                return  # another thread got there first, and reported it if need be
            del self._collections[name]
            opened_in = self._generations.pop(name, None)
            known = self._record.collection_id(name)
            # Off the record with the record intact: forgotten. (A record re-created since the
            # handle was opened cannot say, so that is reported.)
            if known is None and opened_in == self._record.generation:
                return
            how: Literal["deleted", "replaced"] = (
                "deleted" if self._found(name) is None else "replaced"
            )
            meta = collection.metadata or {}
            self._lost(name, str(meta.get("tenant")), str(meta.get("namespace")), how)

    def _found(self, name: str) -> Collection | None:
        from chromadb.errors import NotFoundError

        try:
            return self._client.get_collection(name, embedding_function=None)
        except NotFoundError:
            return None

    @contextmanager
    def _backend(self, action: str) -> Iterator[None]:
        """Chroma's and the network's exceptions become MemoryBackendError, with where and what."""
        try:
            yield
        except MemoryStoreError:
            raise
        except Exception as exc:
            hint = ""
            if self.config.host:
                hint = (
                    f" (is the Chroma server running? `chroma run --path DIR "
                    f"--host {self.config.host} --port {self.config.port}`)"
                )
            raise MemoryBackendError(
                f"{action} failed on {self.location}: {type(exc).__name__}: {exc}{hint}"
            ) from exc

    def _connect(self) -> ClientAPI:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False, allow_reset=False)
        if self.config.host:
            headers: dict[str, str] = {}
            if self.config.auth_token_env:
                token = os.environ.get(self.config.auth_token_env)
                if not token:
                    raise MemoryConfigError(
                        f"[memory] auth_token_env names {self.config.auth_token_env}, which is not set"
                    )
                headers["x-chroma-token"] = token
            return chromadb.HttpClient(
                host=self.config.host,
                port=self.config.port,
                ssl=self.config.ssl,
                headers=headers or None,
                settings=settings,
            )
        assert self._disk_path is not None
        self._disk_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=self._disk_path, settings=settings)

    def _embedding_metadata(self) -> dict[str, str | int]:
        return {
            "embedding": self.embedder.name,
            "dimension": self.embedder.dimension,
            "schema": SCHEMA_VERSION,
        }

    def _collection_metadata(self, namespace: Namespace) -> dict[str, str | int | float]:
        return {
            "podium": namespace.collection_kind,
            "tenant": namespace.tenant,
            "namespace": namespace.label,
            "created_at": self.now(),
            **self._embedding_metadata(),
        }

    def _lost(
        self, name: str, tenant: str, label: str, how: Literal["deleted", "replaced"]
    ) -> None:
        """Keep (and log) the loss of a namespace's collection, and take it off the record."""
        done, now = (
            ("was deleted", "it is re-created empty when next written")
            if how == "deleted"
            else (
                "was replaced by another collection of that name",
                "the store uses the new one only if it has the same embedding",
            )
        )
        self._keep(
            CollectionLoss(
                collection=name,
                tenant=tenant,
                namespace=label,
                how=how,
                message=(
                    f"memory collection {name} ({_described(label)} of tenant {tenant!r}) {done} "
                    f"behind this store's back: the entries written to it earlier are lost, and "
                    f"{now}. Re-run what wrote them if they are still needed, and find what "
                    f"deletes collections on {self.location} (another process or script, "
                    "a Chroma reset)"
                ),
            )
        )
        self._record.unregister(name)

    def _record_lost(self) -> None:
        self._keep(
            CollectionLoss(
                collection=self._record.name,
                tenant=None,
                namespace=RECORD,
                how="deleted",
                message=(
                    f"the memory store's record on {self.location} (it pins the embedding "
                    f"{self.embedder.name} and lists the store's collections) was deleted behind "
                    "its back and is re-created: collections deleted with it cannot be told from "
                    "new ones, so their lost entries go unreported. Find what deletes collections "
                    "there (another process or script, a Chroma reset)"
                ),
            )
        )

    def _keep(self, loss: CollectionLoss) -> None:
        self._losses.append(loss)
        log.warning("%s", loss.message)

    def _check_embedding(self, metadata: dict[str, Any] | None, what: str) -> None:
        meta = metadata or {}
        recorded_name, recorded_dim = meta.get("embedding"), meta.get("dimension")
        name, dimension = self.embedder.name, self.embedder.dimension
        if recorded_name == name and recorded_dim == dimension:
            return
        recorded = f"{recorded_name!r} ({recorded_dim} dimensions)"
        requested = f"{name!r} ({dimension} dimensions)"
        where = (
            f"use another collection_prefix on the server {self.location}"
            if self.config.host
            else f"point [memory] path away from {self.location}"
        )
        raise EmbeddingMismatchError(
            f"{what} was written with embedding {recorded}, but it was opened with {requested}; "
            "vectors from different embeddings cannot be compared. "
            f'Set [memory] embedding = "{recorded_name}" to use it, or {where} to start a new store.',
            recorded=recorded,
            requested=requested,
        )

    def _prune_once(self, collection: Collection) -> None:
        """Retention is applied the first time this store touches a collection."""
        cutoff = self.cutoff()
        if cutoff is None or collection.name in self._pruned:
            return
        self._pruned.add(collection.name)
        self._delete(collection, where={"created_at": {"$lt": cutoff}})

    def _listed(self, tenant: str | None = None) -> list[Collection]:
        """This store's memory and plan collections, of one tenant or all."""
        prefix = f"{self.config.collection_prefix}-"
        found: list[Collection] = []
        offset = 0
        while True:
            page = self._client.list_collections(limit=_PAGE, offset=offset)
            for collection in page:
                meta = collection.metadata or {}
                if (
                    collection.name.startswith(prefix)
                    and meta.get("podium") in ("memory", "plans")
                    and (tenant is None or meta.get("tenant") == tenant)
                ):
                    found.append(collection)
            if len(page) < _PAGE:
                return found
            offset += _PAGE

    def _delete(self, collection: Collection, **selector: Any) -> int:
        result = collection.delete(**selector)
        return int(result["deleted"]) if result else 0

    def _delete_id(self, collection: Collection, entry_id: str) -> int:
        # Chroma counts the ids it was asked to delete, found or not; so look first.
        if not collection.get(ids=[entry_id], include=[])["ids"]:
            return 0
        collection.delete(ids=[entry_id])
        return 1

    def _forget_run(self, collection: Collection, run_id: str) -> int:
        if (collection.metadata or {}).get("namespace") == f"run:{run_id}":
            return self._drop(collection)
        return self._delete(collection, where={"run_id": run_id})

    def _drop(self, collection: Collection) -> int:
        count = collection.count()
        # Off the record first, so no store reports what is forgotten on purpose as a loss.
        self._record.unregister(collection.name)
        self._client.delete_collection(collection.name)
        self._collections.pop(collection.name, None)
        self._generations.pop(collection.name, None)
        return count


def _described(label: str) -> str:
    kind, _, name = label.partition(":")
    if kind == "run":
        return f"the memory of run {name}"
    if kind == "agent":
        return f"the private notes of agent {name}"
    return "the plan cache" if kind == "plans" else "the shared memory"


def _chars(collection: Collection) -> int:
    total, offset = 0, 0
    while True:
        page = collection.get(limit=_PAGE, offset=offset, include=["documents"])
        documents = page["documents"] or []
        total += sum(len(d or "") for d in documents)
        if len(page["ids"]) < _PAGE:
            return total
        offset += _PAGE


def _folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
