"""The memory benchmark runs end to end at a small size and reports every figure the issue names."""

from __future__ import annotations

import json
from pathlib import Path

from podium.evals.bench.memory import render, run_memory_bench


def test_memory_bench_reports_throughput_and_latency(tmp_path: Path) -> None:
    out = tmp_path / "memory.json"
    report = run_memory_bench(
        out,
        sizes=(300, 1_000),
        n_queries=10,
        real_texts=60,
        single_writes=5,
        plan_entries=5,
        folder=tmp_path / "stores",
        quiet=True,
        plan_cache=False,
    )

    assert json.loads(out.read_text()) == report
    for key in ("writes_per_s", "writes_per_s_batched", "embeddings_per_s", "query_embed_p50_ms"):
        assert report[key] > 0
    assert 0 < report["query_p50_ms_1k"] <= report["query_p99_ms_1k"]
    assert report["query_p50_ms_300"] > 0
    assert report["fill"]["entries"] == 1_000
    assert report["target_met"] is None  # no 100k figure at this size
    assert "search k=5 at 1k" in render(report)
