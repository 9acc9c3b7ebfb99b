"""Podium's shared memory on Chroma: scoped entries with provenance, context for prompts, a plan cache.

store = MemoryStore(config.memory, data_dir=data_dir, redact=redactor.redact)
scope = store.scope(tenant="acme", run_id=run_id, agent="researcher")
scope.write("Northwind renewed for two years", task_id="t1")           # run namespace
scope.write(tool_output, source="tool", namespace="agent")              # untrusted
prompt_section = scope.context(task.instruction)                         # top-k in budget
match = store.plan_cache("acme").lookup(goal)                            # PlanMatch | None

Names are imported on first use (PEP 562): the configuration's `MemoryConfig` does not load
numpy, the embedding model or Chroma.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._commands import forget_memory, memory_stats, open_store, render_stats, search_memory
    from ._config import MINILM, MemoryConfig
    from ._embedding import Embedder, LiteLLMEmbedder, MiniLMEmbedder, embedder_for
    from ._entry import (
        CHARS_PER_TOKEN,
        MemoryEntry,
        MemoryHit,
        MemoryStats,
        NamespaceKind,
        NamespaceStats,
        PlanMatch,
        Source,
        TenantStats,
        estimate_tokens,
    )
    from ._errors import (
        EmbeddingError,
        EmbeddingMismatchError,
        MemoryBackendError,
        MemoryConfigError,
        MemoryErrorCode,
        MemoryLimitError,
        MemoryScopeError,
        MemoryStoreError,
        MemoryWriteRefused,
    )
    from ._plans import PlanCache
    from ._prompt import (
        PROMPT_LABELS,
        UNTRUSTED_CLOSE,
        UNTRUSTED_OPEN,
        format_hits,
        provenance,
        trim_to_budget,
    )
    from ._record import CollectionLoss
    from ._scope import MemoryScope
    from ._store import MemoryStore, Redact

_EXPORTS: dict[str, str] = {
    "CHARS_PER_TOKEN": "._entry",
    "CollectionLoss": "._record",
    "Embedder": "._embedding",
    "EmbeddingError": "._errors",
    "EmbeddingMismatchError": "._errors",
    "LiteLLMEmbedder": "._embedding",
    "MINILM": "._config",
    "MemoryBackendError": "._errors",
    "MemoryConfig": "._config",
    "MemoryConfigError": "._errors",
    "MemoryEntry": "._entry",
    "MemoryErrorCode": "._errors",
    "MemoryHit": "._entry",
    "MemoryLimitError": "._errors",
    "MemoryScope": "._scope",
    "MemoryScopeError": "._errors",
    "MemoryStats": "._entry",
    "MemoryStore": "._store",
    "MemoryStoreError": "._errors",
    "MemoryWriteRefused": "._errors",
    "MiniLMEmbedder": "._embedding",
    "NamespaceKind": "._entry",
    "NamespaceStats": "._entry",
    "PROMPT_LABELS": "._prompt",
    "PlanCache": "._plans",
    "PlanMatch": "._entry",
    "Redact": "._store",
    "Source": "._entry",
    "TenantStats": "._entry",
    "UNTRUSTED_CLOSE": "._prompt",
    "UNTRUSTED_OPEN": "._prompt",
    "embedder_for": "._embedding",
    "estimate_tokens": "._entry",
    "forget_memory": "._commands",
    "format_hits": "._prompt",
    "memory_stats": "._commands",
    "open_store": "._commands",
    "provenance": "._prompt",
    "render_stats": "._commands",
    "search_memory": "._commands",
    "trim_to_budget": "._prompt",
}

__all__ = [
    "CHARS_PER_TOKEN",
    "MINILM",
    "PROMPT_LABELS",
    "UNTRUSTED_CLOSE",
    "UNTRUSTED_OPEN",
    "CollectionLoss",
    "Embedder",
    "EmbeddingError",
    "EmbeddingMismatchError",
    "LiteLLMEmbedder",
    "MemoryBackendError",
    "MemoryConfig",
    "MemoryConfigError",
    "MemoryEntry",
    "MemoryErrorCode",
    "MemoryHit",
    "MemoryLimitError",
    "MemoryScope",
    "MemoryScopeError",
    "MemoryStats",
    "MemoryStore",
    "MemoryStoreError",
    "MemoryWriteRefused",
    "MiniLMEmbedder",
    "NamespaceKind",
    "NamespaceStats",
    "PlanCache",
    "PlanMatch",
    "Redact",
    "Source",
    "TenantStats",
    "embedder_for",
    "estimate_tokens",
    "forget_memory",
    "format_hits",
    "memory_stats",
    "open_store",
    "provenance",
    "render_stats",
    "search_memory",
    "trim_to_budget",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
