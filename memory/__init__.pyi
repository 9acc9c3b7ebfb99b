"""podium.memory's public names: imported on first use by `lazy_loader.attach_stub`
in __init__.py, and read by type checkers and editors (one list for both)."""

from ._commands import (
    forget_memory as forget_memory,
    memory_stats as memory_stats,
    open_store as open_store,
    render_stats as render_stats,
    search_memory as search_memory,
)
from ._config import MINILM as MINILM, MemoryConfig as MemoryConfig
from ._embedding import (
    Embedder as Embedder,
    LiteLLMEmbedder as LiteLLMEmbedder,
    MiniLMEmbedder as MiniLMEmbedder,
    embedder_for as embedder_for,
)
from ._entry import (
    CHARS_PER_TOKEN as CHARS_PER_TOKEN,
    MemoryEntry as MemoryEntry,
    MemoryHit as MemoryHit,
    MemoryStats as MemoryStats,
    NamespaceKind as NamespaceKind,
    NamespaceStats as NamespaceStats,
    PlanMatch as PlanMatch,
    Source as Source,
    TenantStats as TenantStats,
    estimate_tokens as estimate_tokens,
)
from ._errors import (
    EmbeddingError as EmbeddingError,
    EmbeddingMismatchError as EmbeddingMismatchError,
    MemoryBackendError as MemoryBackendError,
    MemoryConfigError as MemoryConfigError,
    MemoryErrorCode as MemoryErrorCode,
    MemoryLimitError as MemoryLimitError,
    MemoryScopeError as MemoryScopeError,
    MemoryStoreError as MemoryStoreError,
    MemoryWriteRefused as MemoryWriteRefused,
)
from ._plans import PlanCache as PlanCache
from ._prompt import (
    PROMPT_LABELS as PROMPT_LABELS,
    UNTRUSTED_CLOSE as UNTRUSTED_CLOSE,
    UNTRUSTED_OPEN as UNTRUSTED_OPEN,
    format_hits as format_hits,
    provenance as provenance,
    trim_to_budget as trim_to_budget,
)
from ._record import CollectionLoss as CollectionLoss
from ._scope import MemoryScope as MemoryScope
from ._store import MemoryStore as MemoryStore, Redact as Redact
