"""`PlanCache`: goals of successful runs and their plans, looked up by meaning before planning."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ._entry import PlanMatch
from ._errors import MemoryWriteRefused
from ._namespace import Namespace, check_name
from ._scope import as_chroma_vectors

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import QueryResult

    from ._store import MemoryStore


class PlanCache:
    """One tenant's plans, in a collection of its own on the memory store.

    Similarity is the cosine similarity of the two goals' embeddings (the embeddings are
    unit vectors, so it is their dot product), with negative values clamped to 0: 1.0 is the
    same goal, about 0.9 and above a near-duplicate (same task, a word or a name changed),
    below about 0.7 a different task. The same goal stored twice keeps only the newer plan.
    """

    def __init__(self, store: MemoryStore, tenant: str) -> None:
        self._store = store
        self.tenant = check_name("tenant", tenant)
        self._namespace = Namespace(self.tenant, "plans")

    def put(self, goal: str, plan_json: str, *, run_id: str | None = None) -> str:
        """Store the plan of a successful run under its goal (both redacted); returns its id.

        The oldest plan is dropped when the tenant already has `plan_cache_max_entries`.
        """
        store = self._store
        stored_goal = store.prepare_text(goal, limit=store.config.max_entry_chars, what="the goal")
        stored_plan = store.prepare_text(
            plan_json, limit=store.config.max_plan_chars, what="the plan JSON"
        )
        try:
            json.loads(stored_plan)
        except ValueError as exc:
            raise MemoryWriteRefused(
                f"the plan is not valid JSON ({exc}); nothing was stored"
            ) from None
        plan_id = "p-" + hashlib.sha256(_normalised(stored_goal).encode()).hexdigest()[:32]
        meta: dict[str, str | float] = {"goal": stored_goal, "created_at": store.now()}
        if run_id is not None:
            meta["run_id"] = run_id
        vector = store.embed([stored_goal])[0]

        def upsert(collection: Collection) -> None:
            if not collection.get(ids=[plan_id], include=[])["ids"]:
                self._make_room(collection)
            collection.upsert(
                ids=[plan_id],
                embeddings=as_chroma_vectors([vector]),
                documents=[stored_plan],
                metadatas=[meta],
            )

        with store._backend("storing a plan"):
            store.write_to(self._namespace, upsert)
        return plan_id

    def lookup(self, goal: str, threshold: float | None = None) -> PlanMatch | None:
        """The stored plan whose goal is closest to `goal`, if its similarity is at least
        `threshold` (default `plan_cache_threshold`); else None."""
        store = self._store
        threshold = store.config.plan_cache_threshold if threshold is None else threshold
        if not goal.strip() or store.collection(self._namespace, create=False) is None:
            return None  # nothing cached: skip embedding the goal (and loading the model)
        vector = store.embed([goal])[0]

        def query(collection: Collection) -> QueryResult | None:
            return collection.query(
                query_embeddings=as_chroma_vectors([vector]),
                n_results=5,
                include=["documents", "metadatas", "distances"],
            )

        with store._backend("plan lookup"):
            found = store.read_from(self._namespace, query, None)
        if found is None:
            return None
        cutoff = store.cutoff()
        documents = (found["documents"] or [[]])[0]
        metadatas = (found["metadatas"] or [[]])[0]
        distances = (found["distances"] or [[]])[0]
        for plan_id, plan, meta, distance in zip(
            found["ids"][0], documents, metadatas, distances, strict=True
        ):
            created = _timestamp(meta)
            if cutoff is not None and created < cutoff:
                continue
            similarity = min(1.0, max(0.0, 1.0 - float(distance)))
            if similarity < threshold:
                return None
            return PlanMatch(
                id=plan_id,
                goal=str((meta or {}).get("goal", "")),
                plan_json=plan or "",
                similarity=similarity,
                run_id=_optional(meta, "run_id"),
                created_at=datetime.fromtimestamp(created, tz=UTC),
            )
        return None

    def count(self) -> int:
        """Plans stored for this tenant."""
        with self._store._backend("counting plans"):
            return self._store.read_from(self._namespace, lambda c: c.count(), 0)

    def _make_room(self, collection: Collection) -> None:
        limit = self._store.config.plan_cache_max_entries
        count = collection.count()
        if count < limit:
            return
        records = collection.get(include=["metadatas"])
        metadatas = records["metadatas"] or []
        ages = sorted(
            zip(
                [_timestamp(m) for m in metadatas],
                records["ids"],
                strict=True,
            )
        )
        collection.delete(ids=[plan_id for _, plan_id in ages[: count - limit + 1]])


def _normalised(goal: str) -> str:
    return " ".join(goal.lower().split())


def _timestamp(meta: Any) -> float:
    value = (meta or {}).get("created_at")
    return float(value) if isinstance(value, int | float) else 0.0


def _optional(meta: Any, key: str) -> str | None:
    value = (meta or {}).get(key)
    return None if value is None else str(value)
