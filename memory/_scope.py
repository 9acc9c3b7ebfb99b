"""`MemoryScope`: the only way to read and write entries, limited to what one tenant, run and agent may see."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection as AbstractSet, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from ._entry import NAMESPACE_KINDS, MemoryEntry, MemoryHit, NamespaceKind, Source
from ._errors import MemoryLimitError, MemoryScopeError, MemoryWriteRefused
from ._namespace import Namespace, check_name, entry_from_record, entry_metadata
from ._prompt import format_hits, hit_tokens, trim_to_budget

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

    from ._store import MemoryStore

_BATCH = 1_000


class MemoryScope:
    """What one tenant, run and agent may see of the store, and where it may write.

    Reads cover the tenant level, the run's namespace (with `run_id`) and the agent's private
    notes (with `agent`). Another tenant's memory and another agent's notes live in other
    Chroma collections, which this handle never queries.
    """

    def __init__(
        self,
        store: MemoryStore,
        tenant: str,
        *,
        run_id: str | None = None,
        agent: str | None = None,
    ) -> None:
        self._store = store
        self.tenant = check_name("tenant", tenant)
        self.run_id = None if run_id is None else check_name("run id", run_id)
        self.agent = None if agent is None else check_name("agent", agent)

    @property
    def namespaces(self) -> tuple[NamespaceKind, ...]:
        """The namespaces this scope reads and writes."""
        kinds: list[NamespaceKind] = ["tenant"]
        if self.run_id is not None:
            kinds.append("run")
        if self.agent is not None:
            kinds.append("agent")
        return tuple(kinds)

    @property
    def default_namespace(self) -> NamespaceKind:
        """Where `write` puts entries unless told: the run, else the agent's notes, else the tenant."""
        return "run" if self.run_id else "agent" if self.agent else "tenant"

    def write(
        self,
        text: str,
        *,
        namespace: NamespaceKind | None = None,
        source: Source = "model",
        task_id: str | None = None,
        key: str | None = None,
        trusted: bool | None = None,
    ) -> MemoryEntry:
        """Store `text` (redacted first) with this scope's provenance.

        `trusted` defaults to True except for tool output, which is always untrusted. With a
        `key`, the entry replaces the namespace's previous entry of that key, unless that one
        is trusted and this one is not (`MemoryWriteRefused`).
        """
        return self._write([text], namespace, source, task_id, key, trusted)[0]

    def write_many(
        self,
        texts: Sequence[str],
        *,
        namespace: NamespaceKind | None = None,
        source: Source = "model",
        task_id: str | None = None,
        trusted: bool | None = None,
    ) -> list[MemoryEntry]:
        """`write` for many texts at once (one embedding batch, one Chroma call per 1,000)."""
        return self._write(texts, namespace, source, task_id, None, trusted)

    def search(
        self,
        query: str,
        k: int | None = None,
        *,
        max_tokens: int | None = None,
        namespaces: AbstractSet[NamespaceKind] | None = None,
        min_score: float = 0.0,
        run_tasks: AbstractSet[str] | None = None,
    ) -> list[MemoryHit]:
        """The `k` (default `top_k`) entries closest to `query`, best first, with provenance.

        With `max_tokens`, hits are kept in order while their formatted size (`format_hits`)
        fits the budget; one that does not fit is skipped, so a long entry does not crowd out
        shorter ones after it. Expired entries are never returned. With `run_tasks`, only the
        run namespace's entries written by those tasks are searched (the runtime passes a task's
        upstream tasks, so what a task sees never depends on which sibling finished first).
        """
        k = self._store.config.top_k if k is None else k
        kinds = self._readable(namespaces)
        if run_tasks is not None and not run_tasks:
            kinds = [kind for kind in kinds if kind != "run"]
        if k <= 0 or not kinds or not query.strip():
            return []
        store = self._store
        hits: list[MemoryHit] = []
        with store._backend("search"):
            found = [
                (kind, store.collection(self._namespace(kind), create=False)) for kind in kinds
            ]
            existing = [(kind, c) for kind, c in found if c is not None]
            if not existing:  # nothing stored yet: no need to embed (or load the model)
                return []
            vector = store.embed([query])[0]
            for kind, collection in existing:
                where = (
                    {"task_id": {"$in": sorted(run_tasks)}}
                    if kind == "run" and run_tasks is not None
                    else None
                )
                hits += query_hits(store, collection, vector, k, where=where)
        return rank_hits(hits, k, min_score=min_score, max_tokens=max_tokens)

    def context(self, query: str, *, k: int | None = None, max_tokens: int | None = None) -> str:
        """The memory section of a prompt for `query`: `search` within `max_tokens` (default
        `max_context_tokens`), rendered by `format_hits`; "" when nothing is relevant."""
        budget = self._store.config.max_context_tokens if max_tokens is None else max_tokens
        return format_hits(self.search(query, k, max_tokens=budget))

    def get(self, entry_id: str) -> MemoryEntry | None:
        """The entry with this id, if this scope can see it."""

        def fetch(collection: Collection) -> MemoryEntry | None:
            found = collection.get(ids=[entry_id], include=["documents", "metadatas"])
            if not found["ids"]:
                return None
            documents, metadatas = found["documents"], found["metadatas"]
            return entry_from_record(
                entry_id, documents[0] if documents else None, metadatas[0] if metadatas else None
            )

        with self._store._backend("get"):
            for kind in self.namespaces:
                entry = self._store.read_from(self._namespace(kind), fetch, None)
                if entry is not None:
                    return entry
        return None

    def _readable(self, requested: AbstractSet[NamespaceKind] | None) -> list[NamespaceKind]:
        if requested is not None:
            unknown = set(requested) - set(NAMESPACE_KINDS)
            if unknown:
                raise MemoryScopeError(f"unknown namespace kind(s) {sorted(unknown)}")
        return [k for k in self.namespaces if requested is None or k in requested]

    def _namespace(self, kind: NamespaceKind) -> Namespace:
        if kind not in self.namespaces:
            raise MemoryScopeError(
                f"this scope (tenant {self.tenant!r}, run {self.run_id!r}, agent {self.agent!r}) "
                f"has no {kind!r} namespace: open the scope with a "
                f"{'run_id' if kind == 'run' else 'agent'}"
            )
        name = self.run_id if kind == "run" else self.agent if kind == "agent" else None
        return Namespace(self.tenant, kind, name)

    def _write(
        self,
        texts: Sequence[str],
        namespace: NamespaceKind | None,
        source: Source,
        task_id: str | None,
        key: str | None,
        trusted: bool | None,
    ) -> list[MemoryEntry]:
        store = self._store
        kind = namespace or self.default_namespace
        target = self._namespace(kind)
        trusted = _trust(source, trusted)
        limit = store.config.max_entry_chars
        stored = [store.prepare_text(t, limit=limit, what="a memory entry") for t in texts]
        if not stored:
            return []
        created = datetime.fromtimestamp(store.now(), tz=UTC)
        entries = [
            MemoryEntry(
                id=self._entry_id(target, key),
                text=text,
                tenant=self.tenant,
                namespace=kind,
                run_id=self.run_id,
                task_id=task_id,
                agent=self.agent,
                source=source,
                trusted=trusted,
                created_at=created,
                key=key,
            )
            for text in stored
        ]
        vectors = store.embed(stored)

        def upsert(collection: Collection) -> None:
            new = len(entries)
            if key is not None:
                new -= self._check_replace(collection, entries[0])
            self._check_room(collection, target, new)
            for start in range(0, len(entries), _BATCH):
                batch = entries[start : start + _BATCH]
                collection.upsert(
                    ids=[e.id for e in batch],
                    embeddings=as_chroma_vectors(vectors[start : start + _BATCH]),
                    documents=[e.text for e in batch],
                    metadatas=[entry_metadata(e) for e in batch],
                )

        with store._backend("write"):
            store.write_to(target, upsert)
        return entries

    def _entry_id(self, target: Namespace, key: str | None) -> str:
        if key is None:
            return f"m-{uuid.uuid4().hex}"
        digest = hashlib.sha256(f"{self.tenant}\0{target.label}\0{key}".encode()).hexdigest()
        return f"k-{digest[:32]}"

    def _check_replace(self, collection: Collection, entry: MemoryEntry) -> int:
        """1 if the write replaces an existing entry (refused if it is trusted and this is not)."""
        found = collection.get(ids=[entry.id], include=["metadatas"])
        if not found["ids"]:
            return 0
        metadatas = found["metadatas"]
        previous = entry_from_record(entry.id, None, metadatas[0] if metadatas else None)
        if previous.trusted and not entry.trusted:
            raise MemoryWriteRefused(
                f"the {entry.namespace_label} entry with key {entry.key!r} is trusted "
                f"(written by {previous.source}, agent {previous.agent!r}, run {previous.run_id!r}) "
                f"and cannot be replaced by untrusted {entry.source} output: "
                "write it under another key, or without a key"
            )
        return 1

    def _check_room(self, collection: Collection, target: Namespace, new: int) -> None:
        limit = self._store.config.max_namespace_entries
        count = collection.count()
        if count + new > limit:
            raise MemoryLimitError(
                f"namespace {target.label} of tenant {self.tenant!r} holds {count} entries; "
                f"{new} more would pass max_namespace_entries = {limit}: forget old entries "
                "(by run or id), set retention_days, or raise the limit"
            )


def query_hits(
    store: MemoryStore,
    collection: Collection,
    vector: list[float],
    k: int,
    *,
    where: dict[str, Any] | None = None,
) -> list[MemoryHit]:
    """The collection's `k` nearest unexpired entries to `vector` (matching `where`), as hits."""
    from chromadb.errors import NotFoundError

    try:
        found = collection.query(
            query_embeddings=as_chroma_vectors([vector]),
            n_results=k,
            where=cast(Any, where),
            include=["documents", "metadatas", "distances"],
        )
    except NotFoundError:  # deleted since it was opened: a loss, unless a store forgot it
        store.vanished(collection)
        return []
    cutoff = store.cutoff()
    documents = (found["documents"] or [[]])[0]
    metadatas = (found["metadatas"] or [[]])[0]
    distances = (found["distances"] or [[]])[0]
    hits = []
    for entry_id, text, meta, distance in zip(
        found["ids"][0], documents, metadatas, distances, strict=True
    ):
        entry = entry_from_record(entry_id, text, meta)
        if cutoff is not None and entry.created_at.timestamp() < cutoff:
            continue
        score = min(1.0, max(0.0, 1.0 - float(distance)))
        hits.append(MemoryHit(entry=entry, score=score, tokens=hit_tokens(entry, score)))
    return hits


def as_chroma_vectors(vectors: list[list[float]]) -> list[Sequence[float]]:
    """The same lists, typed as Chroma's `upsert` and `query` declare them."""
    return list(vectors)


def rank_hits(
    hits: list[MemoryHit], k: int, *, min_score: float = 0.0, max_tokens: int | None = None
) -> list[MemoryHit]:
    """Best `k` hits scoring at least `min_score`, then trimmed to `max_tokens` if given."""
    # Equal scores (the same text written twice) are ordered by key and id, not by which was
    # stored first, so the same entries always rank the same way.
    ranked = sorted(
        (h for h in hits if h.score >= min_score),
        key=lambda h: (-round(h.score, 6), h.entry.key or "", h.entry.id),
    )[:k]
    return ranked if max_tokens is None else trim_to_budget(ranked, max_tokens)


def _trust(source: Source, trusted: bool | None) -> bool:
    if source == "tool":
        if trusted:
            raise MemoryWriteRefused(
                "tool output is always untrusted: write it with trusted=False (or leave trusted unset)"
            )
        return False
    return True if trusted is None else trusted
