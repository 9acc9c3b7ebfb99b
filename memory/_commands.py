"""Plain functions behind `podium memory search | forget | stats` (the CLI parses; these do the work)."""

from __future__ import annotations

from pathlib import Path

from ._config import MemoryConfig
from ._embedding import Embedder
from ._entry import MemoryHit, MemoryStats
from ._namespace import check_name, parse_label
from ._scope import query_hits, rank_hits
from ._store import MemoryStore, Redact


def open_store(
    config: MemoryConfig,
    data_dir: Path | None = None,
    *,
    redact: Redact | None = None,
    embedder: Embedder | None = None,
) -> MemoryStore:
    """The store `config` names: embedded under `config.path` or `data_dir/memory`, or a server."""
    return MemoryStore(config, data_dir=data_dir, redact=redact, embedder=embedder)


def search_memory(
    store: MemoryStore,
    query: str,
    *,
    tenant: str | None = None,
    namespace: str | None = None,
    k: int | None = None,
) -> list[MemoryHit]:
    """The operator's search: one namespace ("tenant", "run:<id>", "agent:<name>") of the
    tenant, or with no namespace every namespace the tenant has (every run, every agent)."""
    tenant = check_name("tenant", tenant or store.config.tenant)
    k = store.config.top_k if k is None else k
    if namespace is not None:
        kind, name = parse_label(namespace)
        scope = store.scope(
            tenant,
            run_id=name if kind == "run" else None,
            agent=name if kind == "agent" else None,
        )
        return scope.search(query, k, namespaces={kind})
    if not query.strip():
        return []
    vector = store.embed([query])[0]
    hits: list[MemoryHit] = []
    with store._backend("search"):
        for collection in store._listed(tenant):
            if (collection.metadata or {}).get("podium") == "memory":
                hits += query_hits(store, collection, vector, k)
    return rank_hits(hits, k)


def forget_memory(
    store: MemoryStore,
    *,
    tenant: str | None = None,
    run_id: str | None = None,
    entry_id: str | None = None,
) -> int:
    """`MemoryStore.forget`: an entry, a run (everywhere it wrote), or a whole tenant."""
    return store.forget(tenant=tenant, run_id=run_id, entry_id=entry_id)


def memory_stats(
    store: MemoryStore, tenant: str | None = None, *, sizes: bool = True
) -> MemoryStats:
    """`MemoryStore.stats`: entries (and characters) per namespace and tenant."""
    return store.stats(tenant, sizes=sizes)


def render_stats(stats: MemoryStats) -> str:
    """The stats as a plain-text table."""
    lines = [
        f"store: {stats.location}",
        f"embedding: {stats.embedding} ({stats.dimension} dimensions)",
        f"entries: {stats.entries}, plans: {stats.plans}"
        + ("" if stats.disk_bytes is None else f", on disk: {stats.disk_bytes / 1e6:.1f} MB"),
    ]
    for tenant in stats.tenants:
        lines.append(f"tenant {tenant.tenant}: {tenant.entries} entries, {tenant.plans} plans")
        for space in tenant.namespaces:
            size = "" if space.chars is None else f", {space.chars} chars"
            lines.append(f"  {space.namespace}: {space.entries} entries{size}")
    return "\n".join(lines)
