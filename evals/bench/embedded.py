"""`podium bench embedded`: does the embedded default give useful, grounded answers?

Every goal runs end to end on the real embedded model (SmolLM2-135M), with the default config
as `make run` has it (playbooks, shared memory, guards), in a scratch data folder, with the
bundled datasets as the workspace and no human in the loop (`escalation = "fail"`). Each
answer is read, not only its status:

- valid_plan_rate: goals that got a valid plan (from a playbook or the planner) / goals. Target 1.0.
- duplicate_task_rate: tasks that repeat another task of their plan (same agent, instruction
  and inputs) / tasks. Target 0.
- debris_in_answer_rate: answers holding tool-call JSON, a chat-template or prompt fragment
  (`podium.policies.find_debris`) / answers. Target 0.
- grounded_fact_rate: facts from the bundled data (listed per goal in the goals file) found in
  the answers / facts listed, over the workflow goals. Target 0.8. A run without an answer
  finds none of its facts.
- playbook_hit_rate: workflow goals whose plan came from a playbook / workflow goals.
- median_run_s: median wall seconds per run. Target 60 on a 2-core machine; printed with the
  floor measured in the same run (one constrained tool-call turn) and the ratio to it.

The goals file (`evals/bench/workloads/embedded_goals.yaml`, or `--goals FILE`) is YAML:

    goals:
      - id: sales-1                  # unique
        workflow: sales              # sales | recruiting | research | support | compliance | other
        goal: "Qualify the lead ..." # as a user would type it
        facts: ["Priya Nair", "COO"] # strings a correct answer contains (case-insensitive)
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from podium.evals import EvalErrorCode
from podium.policies import find_debris
from podium.runtime import Podium, PodiumConfig, PodiumError, RunResult
from podium.tools import ToolContext, ToolRegistry, default_datasets_dir

from ._report import machine, write_report

WORKFLOWS = ("sales", "recruiting", "research", "support", "compliance", "other")
DEFAULT_GOALS = Path(__file__).resolve().parent / "workloads" / "embedded_goals.yaml"
TARGETS: dict[str, float] = {
    "valid_plan_rate": 1.0,
    "duplicate_task_rate": 0.0,
    "debris_in_answer_rate": 0.0,
    "grounded_fact_rate": 0.8,
    "median_run_s": 60.0,
}


class BenchGoal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    workflow: str = Field(pattern="^(" + "|".join(WORKFLOWS) + ")$")
    goal: str = Field(min_length=1, max_length=2000)
    facts: tuple[str, ...] = Field(min_length=1)


class GoalsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    goals: tuple[BenchGoal, ...] = Field(min_length=1)


class GoalsFileError(PodiumError, ValueError):
    """The goals file cannot be read; the message says where and what to fix."""

    code = EvalErrorCode.BENCH_INPUT


def load_goals(path: Path) -> tuple[BenchGoal, ...]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GoalsFileError(f"{path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise GoalsFileError(f"{path}: not valid YAML: {exc}") from None
    try:
        goals = GoalsFile.model_validate(data).goals
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise GoalsFileError(f"{path}: {problems} (see `podium bench embedded --help`)") from None
    ids = [g.id for g in goals]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise GoalsFileError(f"{path}: goal ids must be unique; repeated: {repeated}")
    return goals


@dataclass
class GoalRun:
    """One goal, run once: what the user got."""

    id: str
    workflow: str
    goal: str
    status: str
    seconds: float
    valid_plan: bool
    tasks: int = 0
    duplicate_tasks: int = 0
    playbook: str | None = None
    facts: int = 0
    facts_found: list[str] = field(default_factory=list)
    debris: str | None = None
    answer: str | None = None
    error: str | None = None
    tokens: int = 0


def _duplicates(result: RunResult) -> int:
    seen: set[tuple[str, str, tuple[str, ...]]] = set()
    repeated = 0
    for t in result.plan.tasks if result.plan else ():
        key = (t.agent, " ".join(t.instruction.casefold().split()), tuple(sorted(t.inputs)))
        repeated += key in seen
        seen.add(key)
    return repeated


async def run_goal(podium: Podium, goal: BenchGoal) -> GoalRun:
    started = time.perf_counter()
    try:
        result = await podium.arun(goal.goal)
    except Exception as exc:  # PlanError, or anything else: this goal failed, the bench goes on
        return GoalRun(
            goal.id,
            goal.workflow,
            goal.goal,
            "failed",
            time.perf_counter() - started,
            valid_plan=False,
            facts=len(goal.facts),
            error=f"{type(exc).__name__}: {exc}"[:300],
        )
    answer = result.answer or ""
    folded = answer.casefold()
    return GoalRun(
        goal.id,
        goal.workflow,
        goal.goal,
        result.status,
        time.perf_counter() - started,
        valid_plan=result.plan is not None,
        tasks=len(result.plan.tasks) if result.plan else 0,
        duplicate_tasks=_duplicates(result),
        playbook=result.playbook.name if result.playbook else None,
        facts=len(goal.facts),
        facts_found=[f for f in goal.facts if f.casefold() in folded],
        debris=find_debris(answer) if answer else None,
        answer=answer or None,
        error=(result.error or "")[:300] or None,
        tokens=result.usage.total_tokens,
    )


async def floor_turn_s(podium: Podium) -> float:
    """One constrained tool-call turn of the embedded model (warm): the unit a run is made of."""
    from podium.runtime import ModelRequest

    request = ModelRequest(
        tier="cheap",
        messages=({"role": "user", "content": "Look up the lead Maya Chen."},),
        # Grounded as in a run (one branch per dataset), so the floor is the same grammar.
        tools=tuple(
            t.openai_schema(ToolContext(workspace=default_datasets_dir(), task_text="Maya Chen"))
            for t in ToolRegistry.with_builtins().for_agent(("query_dataset",))
        ),
        tool_choice="required",
    )
    await podium.model.complete(request)  # loads the model
    started = time.perf_counter()
    await podium.model.complete(request)
    return time.perf_counter() - started


def figures(runs: Sequence[GoalRun]) -> dict[str, Any]:
    workflow = [r for r in runs if r.workflow != "other"]
    answers = [r for r in runs if r.answer]
    tasks = sum(r.tasks for r in runs)

    def rate(part: float, whole: float) -> float | None:
        return round(part / whole, 4) if whole else None

    def grounded(rs: Sequence[GoalRun]) -> float | None:
        return rate(sum(len(r.facts_found) for r in rs), sum(r.facts for r in rs))

    return {
        "goals": len(runs),
        "valid_plan_rate": rate(sum(r.valid_plan for r in runs), len(runs)),
        "duplicate_task_rate": rate(sum(r.duplicate_tasks for r in runs), tasks),
        "debris_in_answer_rate": rate(sum(r.debris is not None for r in answers), len(answers)),
        "grounded_fact_rate": grounded(workflow),
        "grounded_fact_rate_other": grounded([r for r in runs if r.workflow == "other"]),
        "playbook_hit_rate": rate(sum(r.playbook is not None for r in workflow), len(workflow)),
        "completed_rate": rate(sum(r.status == "completed" for r in runs), len(runs)),
        "median_run_s": round(statistics.median(r.seconds for r in runs), 2),
        "by_workflow": {
            w: {
                "goals": len(rs),
                "grounded_fact_rate": grounded(rs),
                "completed": sum(r.status == "completed" for r in rs),
            }
            for w in WORKFLOWS
            if (rs := [r for r in runs if r.workflow == w])
        },
    }


def _met(report: dict[str, Any]) -> dict[str, bool]:
    met = {}
    for key, target in TARGETS.items():
        value = report[key]
        higher_is_better = key in ("valid_plan_rate", "grounded_fact_rate")
        met[key] = value is not None and (value >= target if higher_is_better else value <= target)
    return met


async def measure(goals: Sequence[BenchGoal], data_dir: Path) -> dict[str, Any]:
    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(data_dir)},
            "tools": {"workspace": str(default_datasets_dir())},
            "policies": {"escalation": "fail"},
        }
    )
    podium = Podium(config)
    try:
        floor = await floor_turn_s(podium)
        runs = []
        for goal in goals:
            run = await run_goal(podium, goal)
            runs.append(run)
            _print_run(run)
    finally:
        podium.close()
    measured = figures(runs)
    return {
        "models": {"cheap": config.models.cheap, "frontier": config.models.frontier},
        **measured,
        "floor_turn_s": round(floor, 3),
        "median_run_over_floor": round(measured["median_run_s"] / floor, 1) if floor else None,
        "runs": [asdict(r) for r in runs],
    }


def run_embedded_bench(
    *, json_out: Path, goals_file: Path = DEFAULT_GOALS, limit: int | None = None
) -> dict[str, Any]:
    """Run the goals on the embedded model, print each run and the figures, write JSON."""
    goals = load_goals(goals_file)[:limit]
    with tempfile.TemporaryDirectory(prefix="podium-bench-embedded-") as tmp:
        measured = asyncio.run(measure(goals, Path(tmp)))
    report: dict[str, Any] = {
        "benchmark": "embedded",
        "goals_file": str(goals_file),
        "targets": TARGETS,
        "machine": machine(),
        **measured,
    }
    report["targets_met"] = _met(report)
    write_report(json_out, report)
    _print_summary(report, json_out)
    return report


def _print_run(r: GoalRun) -> None:
    found = f"{len(r.facts_found)}/{r.facts} facts"
    source = f"playbook {r.playbook}" if r.playbook else "planner"
    flag = f"  DEBRIS: {r.debris}" if r.debris else ""
    print(
        f"{r.seconds:6.1f}s  {r.status:17} {found:10} {source:38} {r.id:14} {r.goal[:60]}{flag}",
        flush=True,
    )


def _print_summary(report: dict[str, Any], json_out: Path) -> None:
    met = report["targets_met"]
    for key, target in TARGETS.items():
        mark = "ok " if met[key] else "MISS"
        print(f"{mark} {key:22} {report[key]!s:>8}  (target {target})")
    print(
        f"    playbook_hit_rate      {report['playbook_hit_rate']!s:>8}  "
        f"completed_rate {report['completed_rate']}  floor turn {report['floor_turn_s']} s, "
        f"median run = {report['median_run_over_floor']} x floor"
    )
    print(f"-> {json_out}")
