"""The memory store's exception tree, on the base every Podium exception shares.

    PodiumError (podium.errors)
    └── MemoryStoreError             every error podium.memory raises on purpose
        ├── MemoryConfigError        MemoryConfig or the arguments naming a store are wrong
        ├── MemoryBackendError       Chroma failed or could not be reached
        ├── EmbeddingError           the embedding model could not be loaded or called
        ├── EmbeddingMismatchError   the store was written with another embedding
        ├── MemoryScopeError         a scope asked for a namespace it does not have
        ├── MemoryLimitError         an entry or a namespace is over its size limit
        └── MemoryWriteRefused       a write broke a hygiene rule (untrusted over trusted)

`MemoryStoreError` is not Python's built-in `MemoryError`, which means out of RAM.
"""

from __future__ import annotations

from enum import StrEnum

from podium.errors import PodiumError


class MemoryErrorCode(StrEnum):
    """Stable codes, so callers and docs can match errors without parsing messages."""

    CONFIG = "memory_config"
    BACKEND = "memory_backend"
    EMBEDDING = "embedding_error"
    EMBEDDING_MISMATCH = "embedding_mismatch"
    SCOPE = "memory_scope"
    LIMIT = "memory_limit"
    WRITE_REFUSED = "memory_write_refused"


class MemoryStoreError(PodiumError):
    """Base of every error podium.memory raises on purpose."""

    code = MemoryErrorCode.BACKEND


class MemoryConfigError(MemoryStoreError):
    code = MemoryErrorCode.CONFIG


class MemoryBackendError(MemoryStoreError):
    """Chroma raised, or its server could not be reached."""

    code = MemoryErrorCode.BACKEND


class EmbeddingError(MemoryStoreError):
    code = MemoryErrorCode.EMBEDDING


class EmbeddingMismatchError(MemoryStoreError):
    """The store (or one of its collections) was written with a different embedding.

    `recorded` and `requested` are "name (N dimensions)" strings, also in the message.
    """

    code = MemoryErrorCode.EMBEDDING_MISMATCH

    def __init__(self, message: str, *, recorded: str, requested: str) -> None:
        super().__init__(message)
        self.recorded = recorded
        self.requested = requested


class MemoryScopeError(MemoryStoreError):
    code = MemoryErrorCode.SCOPE


class MemoryLimitError(MemoryStoreError):
    code = MemoryErrorCode.LIMIT


class MemoryWriteRefused(MemoryStoreError):
    """A write that would break a hygiene rule, e.g. tool output replacing a trusted entry."""

    code = MemoryErrorCode.WRITE_REFUSED
