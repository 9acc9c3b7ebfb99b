"""`MemoryConfig`: the `[memory]` section of podium.toml. Every default works offline on one machine."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ._errors import MemoryConfigError

MINILM = "minilm"
"""The `embedding` value for the packaged all-MiniLM-L6-v2 (no network, no key)."""


class MemoryConfig(BaseModel):
    """Where the memory store lives, how it embeds text, and its hygiene limits."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Whether runs read and write shared memory at all."""
    path: Path | None = None
    """Folder of the embedded Chroma store; None means `<data_dir>/memory` (the caller passes data_dir).
    Ignored when `host` is set."""
    host: str | None = None
    """A Chroma server (`chroma run --path DIR --host 127.0.0.1 --port 8000`); None means embedded."""
    port: int = Field(default=8000, ge=1, le=65535)
    ssl: bool = False
    """Use https to reach the server."""
    auth_token_env: str | None = None
    """Name of the environment variable holding the server's token, sent as `x-chroma-token`."""
    collection_prefix: str = Field(default="podium", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,30}$")
    """Prefix of every collection name, so several deployments can share one Chroma server."""
    tenant: str = Field(default="default", min_length=1, max_length=200)
    """Tenant used when the caller names none."""
    embedding: str = MINILM
    """"minilm" (the packaged all-MiniLM-L6-v2, 384 dimensions, in-process) or any litellm embedding
    model string ("openai/text-embedding-3-small", ...). Recorded in the store when it is created;
    opening the store with another embedding is an error."""
    embedding_threads: int | None = Field(default=1, ge=1)
    """torch threads for the in-process model (process-wide, set when it loads); None means one
    per core. One keeps query latency steady when other work shares the cores."""
    embedding_dimensions: int | None = Field(default=None, ge=1)
    """Passed to litellm as `dimensions` for models that can shorten their vectors."""
    embedding_api_base: str | None = None
    embedding_api_key_env: str | None = None
    """Name of the environment variable holding the embedding provider's key."""
    top_k: int = Field(default=5, ge=1, le=100)
    """Entries retrieved for a task's prompt."""
    max_context_tokens: int = Field(default=800, ge=0)
    """Token budget of the memory section of a prompt (about 4 characters a token)."""
    min_context_score: float | None = Field(default=None, ge=0.0, le=1.0)
    """Entries less similar than this to a task's instruction stay out of its prompt. None: 0.5
    when a configured model's context window is 8K tokens or less (a small model copies what it
    is shown, related or not: on the embedded model, phrases of earlier runs' answers came back
    in unrelated ones), else 0 (the best `top_k`, whatever their score)."""
    max_context_share: float = Field(default=0.1, gt=0, le=0.5)
    """At most this share of the smallest context window among the configured models goes to
    memory (the embedded model's 4,096 tokens: 409), whichever of the two limits is lower."""
    max_entry_chars: int = Field(default=8_000, ge=1)
    """Longest entry accepted, after redaction; longer writes are refused."""
    max_namespace_entries: int = Field(default=50_000, ge=1)
    """Entries one namespace (the tenant's, a run's, an agent's) may hold; more writes are refused."""
    retention_days: float | None = Field(default=None, gt=0)
    """Entries older than this are never returned and are pruned; None keeps them."""
    plan_cache: bool = True
    """Store each successful run's goal and plan, and look new goals up before planning."""
    plan_cache_threshold: float = Field(default=0.9, ge=0.0, le=1.0)
    """Cosine similarity (0..1) a new goal needs with a stored one to reuse its plan."""
    plan_cache_max_entries: int = Field(default=1_000, ge=1)
    """Plans kept per tenant; the oldest is dropped when a new one would exceed this."""
    max_plan_chars: int = Field(default=200_000, ge=1)
    """Largest plan JSON the plan cache accepts."""
    redact_pii: list[Literal["email", "phone", "credit_card", "iban"]] = []
    """Personal data masked before anything is written (secrets always are). Off by default:
    sales and recruiting work needs contact details."""

    def store_location(self, data_dir: Path | None) -> str:
        """Where the store lives, for messages: the server URL or the folder."""
        if self.host:
            return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port}"
        return str(self.store_path(data_dir))

    def store_path(self, data_dir: Path | None) -> Path:
        """The embedded store's folder: `path`, else `data_dir/memory`."""
        if self.path is not None:
            return self.path
        if data_dir is None:
            raise MemoryConfigError(
                "the embedded memory store needs a folder: set [memory] path, or pass data_dir"
            )
        return data_dir / "memory"
