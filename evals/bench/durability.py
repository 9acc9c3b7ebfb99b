"""`podium bench durability`: the crash torture at full count, and what checkpoints cost per task.

The torture (podium.evals.bench.torture) runs on SQLite and on Postgres (the project's own server,
started by scripts/postgres.sh, or $PODIUM_POSTGRES_URL): at least `kills` SIGKILLs each, at
random times and right at chosen moments (a plan made, a tool call, a checkpoint write, a task
start or end). Targets: kills >= 200 and zero duplicated tasks, duplicated side effects, lost
runs and wrong answers. The checkpoint overhead per task comes from podium.evals.bench.storage.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ._report import machine, write_report
from .storage import measure_checkpoint_overhead
from .torture import run_torture

ZERO_KEYS = ("duplicated_tasks", "duplicated_side_effects", "lost_runs", "wrong_answers")


def project_postgres() -> str | None:
    """$PODIUM_POSTGRES_URL, else the URL scripts/postgres.sh prints (it starts the server)."""
    if url := os.environ.get("PODIUM_POSTGRES_URL"):
        return url
    script = Path(__file__).resolve().parents[2] / "scripts" / "postgres.sh"
    if not script.is_file():
        return None
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
    lines = done.stdout.strip().splitlines()
    return lines[-1] if done.returncode == 0 and lines else None


def run_durability_bench(
    json_out: Path, *, kills: int = 200, backends: tuple[str, ...] = ("sqlite", "postgres")
) -> dict[str, Any]:
    postgres_url = project_postgres() if "postgres" in backends else None
    results: dict[str, Any] = {}
    for backend in backends:
        if backend == "postgres" and not postgres_url:
            results[backend] = {"skipped": "no Postgres server (scripts/postgres.sh failed)"}
            continue

        def show(run: dict[str, Any], backend: str = backend) -> None:
            print(
                f"  {backend} {run['run_id']}: {len(run['kills'])} kill(s) "
                f"{run['kills']} -> {run['result']['status'] if run['result'] else 'LOST'}",
                file=sys.stderr,
            )

        print(f"crash torture on {backend}: {kills} kills", file=sys.stderr)
        results[backend] = run_torture(
            kills, backend=backend, postgres_url=postgres_url, progress=show
        )
    measured = [b for b in backends if b != "postgres" or postgres_url]
    overhead = asyncio.run(
        measure_checkpoint_overhead(measured, postgres_url=postgres_url)  # type: ignore[arg-type]
    )
    torture = [r for r in results.values() if "kills" in r]
    totals = {key: sum(r[key] for r in torture) for key in ("kills", *ZERO_KEYS)}
    report = {
        "benchmark": "durability",
        "machine": machine(),
        **totals,
        "target_met": all(r["kills"] >= kills for r in torture)
        and all(totals[key] == 0 for key in ZERO_KEYS),
        "torture": results,
        "checkpoint_ms_per_task": {
            b: f["checkpoint_ms_per_task"] for b, f in overhead["backends"].items()
        },
        "checkpoint_overhead": overhead,
    }
    write_report(json_out, report)
    for backend, r in results.items():
        if "kills" in r:
            print(
                f"{backend}: {r['kills']} kills over {r['runs']} runs; duplicated tasks "
                f"{r['duplicated_tasks']}, duplicated side effects {r['duplicated_side_effects']}, "
                f"lost runs {r['lost_runs']}, wrong answers {r['wrong_answers']} "
                f"(tool bodies re-run under the same key: {r['tool_reexecutions']})",
                file=sys.stderr,
            )
    for backend, ms in report["checkpoint_ms_per_task"].items():
        print(f"checkpoint overhead on {backend}: {ms} ms/task", file=sys.stderr)
    return report
