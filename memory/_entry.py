"""What the store holds and returns: entries with provenance, search hits, plan matches, stats."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["model", "tool", "user"]
"""Who produced an entry's text: a model's output, a tool's output, or a person."""

NamespaceKind = Literal["tenant", "run", "agent"]
"""tenant: shared by every run and agent of a tenant. run: shared by the agents of one run.
agent: one agent's private notes, kept across the tenant's runs."""

NAMESPACE_KINDS: tuple[NamespaceKind, ...] = ("tenant", "run", "agent")

CHARS_PER_TOKEN = 4
"""The token estimate used for budgets: about four characters a token, as for English text."""


def estimate_tokens(text: str) -> int:
    """Approximate token count of `text` (characters / 4, rounded up)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MemoryEntry(_Frozen):
    """One stored text and where it came from."""

    id: str
    text: str
    """The text as stored (after redaction)."""
    tenant: str
    namespace: NamespaceKind
    run_id: str | None
    """The run that wrote it (also set on tenant and agent entries written during a run)."""
    task_id: str | None
    agent: str | None
    """The agent that wrote it; for an `agent` entry, also the only agent that can read it."""
    source: Source
    trusted: bool
    """False for tool output (always) and for anything written as untrusted; such text is data,
    never instructions, and cannot replace a trusted entry."""
    created_at: datetime
    """When it was written, timezone-aware UTC."""
    key: str | None = None
    """A caller's name for the entry within its namespace; writing the same key again replaces it."""

    @property
    def namespace_label(self) -> str:
        """ "tenant", "run:<run_id>" or "agent:<agent>"."""
        if self.namespace == "run":
            return f"run:{self.run_id}"
        if self.namespace == "agent":
            return f"agent:{self.agent}"
        return "tenant"


class MemoryHit(_Frozen):
    """A search result: the entry, how close it is to the query, and what it costs in a prompt."""

    entry: MemoryEntry
    score: float = Field(ge=0.0, le=1.0)
    """Cosine similarity between query and entry embeddings, negative values clamped to 0."""
    tokens: int
    """Estimated tokens of this hit as `format_hits` renders it."""


class PlanMatch(_Frozen):
    """A stored plan whose goal is close enough to the one looked up."""

    id: str
    goal: str
    """The stored goal (after redaction)."""
    plan_json: str
    similarity: float = Field(ge=0.0, le=1.0)
    """Cosine similarity between the two goals' embeddings, negative values clamped to 0."""
    run_id: str | None
    created_at: datetime


class NamespaceStats(_Frozen):
    tenant: str
    namespace: str
    """"tenant", "run:<id>", "agent:<name>" or "plans"."""
    collection: str
    """The Chroma collection holding it."""
    entries: int
    chars: int | None
    """Characters of text stored, when sizes were asked for."""


class TenantStats(_Frozen):
    tenant: str
    entries: int
    """Memory entries in every namespace of the tenant (plans not counted)."""
    plans: int
    namespaces: list[NamespaceStats]


class MemoryStats(_Frozen):
    location: str
    """The store's folder, or the server's URL."""
    embedding: str
    dimension: int
    tenants: list[TenantStats]
    disk_bytes: int | None
    """Size of the embedded store's folder; None for a server."""

    @property
    def entries(self) -> int:
        return sum(t.entries for t in self.tenants)

    @property
    def plans(self) -> int:
        return sum(t.plans for t in self.tenants)
