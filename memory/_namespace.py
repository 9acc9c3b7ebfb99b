"""Namespaces and how they map to Chroma collections and entry metadata."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ._entry import NAMESPACE_KINDS, MemoryEntry, NamespaceKind, Source
from ._errors import MemoryScopeError

CollectionKind = Literal["memory", "plans"]
SCHEMA_VERSION = 1
MAX_NAME_CHARS = 200

_CODES: dict[NamespaceKind | Literal["plans"], str] = {
    "tenant": "t",
    "run": "r",
    "agent": "a",
    "plans": "p",
}
_SOURCES: tuple[Source, ...] = ("model", "tool", "user")


@dataclass(frozen=True)
class Namespace:
    """One tenant's namespace: its tenant level, a run, an agent's private notes, or its plans.

    Each namespace is its own Chroma collection. That is what makes scopes hold: a query only
    ever runs against the collections its scope names, so no filter can be forgotten, and an
    unfiltered nearest-neighbour query stays fast at 100k entries (a metadata-filtered one
    took about 100 ms there).
    """

    tenant: str
    kind: NamespaceKind | Literal["plans"]
    name: str | None = None
    """The run id or the agent name."""

    @property
    def label(self) -> str:
        return self.kind if self.name is None else f"{self.kind}:{self.name}"

    @property
    def collection_kind(self) -> CollectionKind:
        return "plans" if self.kind == "plans" else "memory"

    def collection_name(self, prefix: str) -> str:
        """A valid Chroma name (3-512 of [a-zA-Z0-9._-]) that is readable and unique per namespace."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.tenant.lower()).strip("-")[:24] or "x"
        digest = hashlib.sha256(f"{self.tenant}\0{self.label}".encode()).hexdigest()[:20]
        return f"{prefix}-{slug}-{_CODES[self.kind]}-{digest}"


def check_name(what: str, value: str) -> str:
    """Tenant, run and agent names: non-empty, printable, at most MAX_NAME_CHARS."""
    if not value or not value.strip():
        raise MemoryScopeError(f"{what} must not be empty")
    if len(value) > MAX_NAME_CHARS or not value.isprintable():
        raise MemoryScopeError(
            f"{what} {value[:40]!r} must be printable and at most {MAX_NAME_CHARS} characters"
        )
    return value


def parse_label(label: str) -> tuple[NamespaceKind, str | None]:
    """ "tenant", "run:<id>" or "agent:<name>" as (kind, name)."""
    kind, _, name = label.partition(":")
    if kind not in NAMESPACE_KINDS or (kind == "tenant") != (name == ""):
        raise MemoryScopeError(
            f"namespace {label!r} is not one of 'tenant', 'run:<run id>', 'agent:<agent name>'"
        )
    return kind, name or None


def entry_metadata(entry: MemoryEntry) -> dict[str, str | int | float | bool]:
    """An entry's provenance as Chroma metadata (Chroma keeps no None values, so they are left out)."""
    meta: dict[str, str | int | float | bool] = {
        "tenant": entry.tenant,
        "namespace": entry.namespace,
        "source": entry.source,
        "trusted": entry.trusted,
        "created_at": entry.created_at.timestamp(),
    }
    for field in ("run_id", "task_id", "agent", "key"):
        value = getattr(entry, field)
        if value is not None:
            meta[field] = value
    return meta


def entry_from_record(
    entry_id: str, text: str | None, meta: Mapping[str, Any] | None
) -> MemoryEntry:
    meta = meta or {}
    namespace = meta.get("namespace")
    source = meta.get("source")
    return MemoryEntry(
        id=entry_id,
        text=text or "",
        tenant=str(meta.get("tenant", "")),
        namespace=namespace if namespace in NAMESPACE_KINDS else "tenant",
        run_id=_optional_str(meta.get("run_id")),
        task_id=_optional_str(meta.get("task_id")),
        agent=_optional_str(meta.get("agent")),
        source=source if source in _SOURCES else "tool",
        trusted=meta.get("trusted") is True,
        created_at=datetime.fromtimestamp(float(meta.get("created_at", 0.0)), tz=UTC),
        key=_optional_str(meta.get("key")),
    )


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)
