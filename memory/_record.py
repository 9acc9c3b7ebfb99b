"""The store's record in Chroma: its embedding, and the collections it made, to notice a lost one.

Chroma gives a re-created collection a new id, and a handle on the old id gets `NotFoundError`.
A process holding such a handle can tell that its collection was deleted; a process that never
held one (the next `podium run`) cannot tell a collection deleted and re-created from a new one.
The record can: it lists the id of every collection the store made, so a collection found
missing, or under another id, was deleted behind the store's back and its entries are lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ._scope import as_chroma_vectors

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

T = TypeVar("T")
RECORD = "store record"
"""The `namespace` of a loss of the record itself."""
_PLACEHOLDER = [1.0]
"""Chroma keeps no row without a vector; the record's rows are only ever read by id."""


@dataclass(frozen=True)
class CollectionLoss:
    """A collection of the store deleted (or replaced) behind its back: its entries are gone."""

    collection: str
    tenant: str | None
    """None for the store's own record, which every tenant shares."""
    namespace: str
    """ "tenant", "run:<id>", "agent:<name>", "plans", or "store record"."""
    how: Literal["deleted", "replaced"]
    """deleted: no collection of that name any more; replaced: another one (a new id) stands there."""
    message: str
    """What was lost and what to do, in one line."""

    def concerns(self, tenant: str, run_id: str | None) -> bool:
        """True when a run of `tenant` (with `run_id`) could have written or read what was lost."""
        if self.tenant is None:
            return True
        kind, _, name = self.namespace.partition(":")
        return self.tenant == tenant and (kind != "run" or name == run_id)


class StoreRecord:
    """`<prefix>-store`: the embedding in its metadata, one row per collection with its Chroma id.

    Deleted itself, it is re-created (with the embedding) on the next use and `on_recreated`
    is called: the collections it listed can then no longer be checked, which the caller reports.
    Not thread-safe: the store calls it under its lock.
    """

    def __init__(
        self,
        client: ClientAPI,
        name: str,
        metadata: Mapping[str, str | int],
        check: Callable[[dict[str, Any] | None], None],
        on_recreated: Callable[[], None],
    ) -> None:
        self.name = name
        self._client = client
        self._metadata = dict(metadata)
        self._check = check
        self._on_recreated = on_recreated
        self.generation = 0
        """How many times the record was found deleted and re-created by this store."""
        self._collection = self._open()

    def collection_id(self, name: str) -> str | None:
        """The id the store gave collection `name`, or None if it made no such collection."""

        def get(record: Collection) -> str | None:
            metadatas = record.get(ids=[name], include=["metadatas"])["metadatas"] or []
            value = (metadatas[0] or {}).get("id") if metadatas else None
            return None if value is None else str(value)

        return self._on_record(get)

    def register(self, collection: Collection, namespace: str) -> None:
        self._on_record(
            lambda record: record.upsert(
                ids=[collection.name],
                embeddings=as_chroma_vectors([_PLACEHOLDER]),
                metadatas=[{"id": str(collection.id), "namespace": namespace}],
            )
        )

    def unregister(self, name: str) -> None:
        self._on_record(lambda record: record.delete(ids=[name]))

    def check(self) -> None:
        """Re-creates the record now if it was deleted."""
        self._on_record(lambda record: record.count())

    def _open(self) -> Collection:
        record = self._client.get_or_create_collection(
            self.name, embedding_function=None, metadata=self._metadata
        )
        self._check(record.metadata)
        return record

    def _on_record(self, action: Callable[[Collection], T]) -> T:
        from chromadb.errors import NotFoundError

        try:
            return action(self._collection)
        except NotFoundError:
            self.generation += 1
            self._on_recreated()
            self._collection = self._open()
            return action(self._collection)
