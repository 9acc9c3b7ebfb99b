"""The plan cache's savings: planner calls and tokens, and wall time, on a repeated-goal workload.

Each family is a goal that succeeds once, then comes back as near-duplicates: the way people
resubmit a goal (case, punctuation, "please", a word added, another lead or id). The workload
runs twice through the real runtime (planner prompts, plan validation, shared memory on
embedded Chroma with the packaged all-MiniLM-L6-v2), once with the plan cache on and once off,
with a scripted planner whose token counts come from the real prompts. Figures over the
near-duplicates only (the first goal of a family always plans):
- plan_cache_planner_tokens_saved: 1 - planner tokens with the cache / without (target >= 0.9);
- plan_cache_planner_calls_saved, plan_cache_hits (reused, adapted), plan_cache_wall_s_saved.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.runtime import ModelRequest, Podium, PodiumConfig, RunResult
from podium.runtime.testing import FunctionModel

PLANNER_LATENCY_S = 0.8
"""Modelled planner latency (a frontier call producing a plan), the same for both settings."""
TOKENS_SAVED_TARGET = 0.9


@dataclass(frozen=True)
class Family:
    base: str
    plan: list[tuple[str, str, list[str], str]]
    """(id, agent, inputs, instruction) of the plan the planner gives for the base goal."""
    variants: tuple[str, ...]
    controls: tuple[str, ...] = ()
    """Similar-looking goals that ask for other work: the cache must not reuse the plan as is.
    Reported apart (`plan_cache_controls`), not counted as near-duplicates."""


FAMILIES = (
    Family(
        "Qualify the lead Maya Chen at Brightforge Analytics and draft a first outreach email",
        [
            ("enrich", "enricher", [], "Look up Maya Chen at Brightforge Analytics in crm_leads"),
            ("research", "researcher", [], "Research Brightforge Analytics in companies"),
            ("score", "analyst", ["enrich", "research"], "Score Maya Chen as a lead, 0-100"),
            ("email", "writer", ["score"], "Draft a first outreach email to Maya Chen"),
        ],
        (
            "qualify the lead Maya Chen at Brightforge Analytics, and draft a first outreach email.",
            "Please qualify the lead Maya Chen at Brightforge Analytics and draft a first outreach email",
            "Qualify the lead Maya Chen at Brightforge Analytics and draft a short first outreach email",
            "Qualify the lead Maya Chen at Brightforge Analytics and draft a first outreach email by Friday",
        ),
        controls=("Qualify the lead Maya Chen at Brightforge Analytics and book a discovery call",),
    ),
    Family(
        "Find and book interviews for the senior backend opening J-201",
        [
            ("source", "sourcer", [], "Find candidates for opening J-201 in candidates"),
            ("screen", "screener", ["source"], "Screen the candidates for J-201"),
            ("book", "scheduler", ["screen"], "Book interviews for J-201 with the shortlist"),
        ],
        (
            "Find and book interviews for the senior backend opening J-202",
            "find and book interviews for the senior backend opening J-201.",
            "Please find and book interviews for the senior backend opening J-201",
            "Find and book the interviews for the senior backend opening J-201",
        ),
    ),
    Family(
        "Review the Cirrusly vendor contract against POL-003 and give a risk score",
        [
            ("review", "reviewer", [], "Review vendor_contract_cirrusly.md against POL-003"),
            ("risk", "analyst", ["review"], "Give the Cirrusly contract a risk score"),
        ],
        (
            "Review the Cirrusly vendor contract against POL-004 and give a risk score",
            "review the Cirrusly vendor contract against POL-003, and give a risk score",
            "Review the Cirrusly vendor contract against POL-003 and give me a risk score",
            "Please review the Cirrusly vendor contract against POL-003 and give a risk score.",
        ),
        controls=(
            "Review the Cirrusly vendor contract against POL-003 and list the missing clauses",
        ),
    ),
)


def _model() -> FunctionModel:
    plans = {family.base: family for family in FAMILIES}

    async def answer(request: ModelRequest) -> Any:
        if request.purpose == "plan":
            await asyncio.sleep(PLANNER_LATENCY_S)
            goal = str(request.messages[1]["content"]).removeprefix("Goal: ")
            family = plans.get(goal) or next(
                f for f in FAMILIES if goal in f.variants or goal in f.controls
            )
            return {
                "tasks": [
                    {"id": i, "agent": a, "inputs": inputs, "instruction": text}
                    for i, a, inputs, text in family.plan
                ]
            }
        return f"done: {request.task_id}"

    return FunctionModel(answer)


Kind = str
"""'base' (first of a family), 'repeat' (a near-duplicate) or 'control'."""


async def _workload(data_dir: Path, plan_cache: bool) -> list[tuple[Kind, RunResult, float]]:
    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(data_dir), "checkpointer": "memory"},
            "memory": {"plan_cache": plan_cache},
            # The plan cache alone: a family goal that reads as a playbook's template would be
            # planned by the playbook, and counted here as a cache miss.
            "planner": {"playbooks": False},
        }
    )
    podium = Podium(config, model=_model())
    rows = []
    try:
        for family in FAMILIES:
            goals = [("base", family.base)]
            goals += [("repeat", g) for g in family.variants]
            goals += [("control", g) for g in family.controls]
            for kind, goal in goals:
                started = time.perf_counter()
                result = await podium.arun(goal)
                rows.append((kind, result, time.perf_counter() - started))
    finally:
        podium.close()
    return rows


def _planner_usage(result: RunResult) -> tuple[int, int]:
    """(planner calls, planner tokens) of a run: its usage minus its tasks'."""
    tasks = sum((r.usage for r in result.tasks.values()), type(result.usage)())
    return result.usage.calls - tasks.calls, result.usage.total_tokens - tasks.total_tokens


def run_plan_cache_bench() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as on_dir, tempfile.TemporaryDirectory() as off_dir:
        cached = asyncio.run(_workload(Path(on_dir), plan_cache=True))
        plain = asyncio.run(_workload(Path(off_dir), plan_cache=False))
    pairs = list(zip(cached, plain, strict=True))
    repeats = [(c, p) for (kind, c, _), (_, p, _) in pairs if kind == "repeat"]
    controls = [c for (kind, c, _), _ in pairs if kind == "control"]
    calls_on = sum(_planner_usage(c)[0] for c, _ in repeats)
    calls_off = sum(_planner_usage(p)[0] for _, p in repeats)
    tokens_on = sum(_planner_usage(c)[1] for c, _ in repeats)
    tokens_off = sum(_planner_usage(p)[1] for _, p in repeats)
    wall_on = sum(s for kind, _, s in cached if kind == "repeat")
    wall_off = sum(s for kind, _, s in plain if kind == "repeat")
    modes = Counter(c.plan_cache.mode if c.plan_cache else "miss" for c, _ in repeats)
    return {
        "plan_cache_goals": len(cached),
        "plan_cache_near_duplicates": len(repeats),
        "plan_cache_hits": {
            "reused": modes["reused"],
            "adapted": modes["adapted"],
            "miss": modes["miss"],
        },
        "plan_cache_planner_calls": {"with_cache": calls_on, "without": calls_off},
        "plan_cache_planner_tokens": {"with_cache": tokens_on, "without": tokens_off},
        "plan_cache_planner_calls_saved": round(1 - calls_on / calls_off, 4) if calls_off else None,
        "plan_cache_planner_tokens_saved": round(1 - tokens_on / tokens_off, 4)
        if tokens_off
        else None,
        "plan_cache_wall_s": {"with_cache": round(wall_on, 3), "without": round(wall_off, 3)},
        "plan_cache_wall_s_saved": round(wall_off - wall_on, 3),
        "plan_cache_per_goal": [
            {
                "goal": c.goal,
                "cache": c.plan_cache.mode if c.plan_cache else "miss",
                "similarity": c.plan_cache.similarity if c.plan_cache else None,
            }
            for c, _ in repeats
        ],
        "plan_cache_controls": [
            {"goal": c.goal, "cache": c.plan_cache.mode if c.plan_cache else "miss"}
            for c in controls
        ],
        "plan_cache_planner_latency_s": PLANNER_LATENCY_S,
        "plan_cache_tokens_saved_target": TOKENS_SAVED_TARGET,
    }
