"""Podium's shared memory on Chroma: scoped entries with provenance, context for prompts, a plan cache.

store = MemoryStore(config.memory, data_dir=data_dir, redact=redactor.redact)
scope = store.scope(tenant="acme", run_id=run_id, agent="researcher")
scope.write("Northwind renewed for two years", task_id="t1")           # run namespace
scope.write(tool_output, source="tool", namespace="agent")              # untrusted
prompt_section = scope.context(task.instruction)                         # top-k in budget
match = store.plan_cache("acme").lookup(goal)                            # PlanMatch | None
"""

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
