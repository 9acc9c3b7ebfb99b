"""`podium bench local-model`: how fast and how reliably the embedded model plans on this CPU.

Real inference through the public API (`Podium.aplan`), with the default config, where both
tiers are the embedded SmolLM2-135M. Figures:
- tokens_per_s: planner output tokens / planner wall seconds over the valid plans. This is
  decoding throughput under the plan grammar, prompt processing included, not raw decoding.
- seconds_to_valid_plan: median and max of `PlanResult.seconds` over the goals.
- valid_plan_rate: goals with a valid plan / goals (target 1.0); planner_attempts per goal.
- first_call_s / model_load_s: the first plan of the process loads the model; it is measured on
  its own and planned again warm, and the difference is the load time.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from podium.runtime import PlanError, Podium, PodiumConfig

from ._report import machine, write_report

GOALS: tuple[str, ...] = (
    "Qualify the lead Maya Chen at Brightforge Analytics and draft a first outreach email",
    "Research Nordlys Energy, score Erik Solberg against our ICP and write a personalised opener",
    "Find candidates for the senior backend engineer opening, screen them and schedule interviews",
    "Source data engineers for the Berlin opening and send each shortlisted one an outreach note",
    "Summarise which of our target companies run Kafka or Snowflake and recommend two to prioritise",
    "Triage today's support tickets and escalate anything urgent",
    "Route the open billing tickets to the right queues and draft replies to the customers",
    "Review the Cirrusly vendor contract and DPA against our policies and give a risk score",
)
VALID_PLAN_RATE_TARGET = 1.0


@dataclass(frozen=True)
class GoalPlan:
    """One planning of one goal: valid or not, how long, how many planner calls, what it decoded."""

    goal: str
    valid: bool
    seconds: float
    attempts: int
    tasks: int
    output_tokens: int
    input_tokens: int
    error: str | None = None


async def plan_goal(podium: Podium, goal: str) -> GoalPlan:
    started = time.perf_counter()
    try:
        result = await podium.aplan(goal)
    except PlanError as exc:
        # No PlanResult on failure: wall time and the rejected attempts are what there is.
        seconds = time.perf_counter() - started
        return GoalPlan(goal, False, seconds, len(exc.attempts), 0, 0, 0, str(exc))
    return GoalPlan(
        goal,
        True,
        result.seconds,
        result.attempts,
        len(result.plan.tasks),
        result.usage.output_tokens,
        result.usage.input_tokens,
    )


async def measure(goals: Sequence[str], data_dir: Path) -> dict[str, Any]:
    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(data_dir)},
            "memory": {"enabled": False},
            # The planner on the embedded model is what this measures: goals that read as a
            # playbook's template would take its plan without a planner call.
            "planner": {"playbooks": False},
        }
    )
    podium = Podium(config)
    first = await plan_goal(podium, goals[0])
    plans = [await plan_goal(podium, goal) for goal in goals]
    return {
        "models": {"cheap": config.models.cheap, "frontier": config.models.frontier},
        **figures(first, plans),
        "goals": [asdict(p) for p in plans],
    }


def figures(first: GoalPlan, plans: Sequence[GoalPlan]) -> dict[str, Any]:
    valid = [p for p in plans if p.valid]
    seconds = [p.seconds for p in valid]
    decode_s = sum(seconds)
    return {
        "valid_plan_rate": round(len(valid) / len(plans), 4),
        "tokens_per_s": round(sum(p.output_tokens for p in valid) / decode_s, 2)
        if decode_s
        else None,
        "seconds_to_valid_plan": {
            "median": round(statistics.median(seconds), 3) if seconds else None,
            "max": round(max(seconds), 3) if seconds else None,
        },
        "planner_attempts": [p.attempts for p in plans],
        "first_call_s": round(first.seconds, 3),
        # The same goal warm (temperature 0 makes it decode the same plan), so the rest is loading.
        "model_load_s": round(max(first.seconds - plans[0].seconds, 0.0), 3),
    }


def run_local_model_bench(*, json_out: Path, goals: int = len(GOALS)) -> dict[str, Any]:
    """Plan `goals` of the bundled goals on the embedded model, print the figures, write JSON."""
    if not 1 <= goals <= len(GOALS):
        raise ValueError(f"--goals must be between 1 and {len(GOALS)}, got {goals}")
    with tempfile.TemporaryDirectory(prefix="podium-bench-local-") as tmp:
        measured = asyncio.run(measure(GOALS[:goals], Path(tmp)))
    report = {
        "benchmark": "local-model",
        "targets": {"valid_plan_rate": VALID_PLAN_RATE_TARGET},
        "machine": machine(),
        **measured,
    }
    write_report(json_out, report)
    _print_report(report, json_out)
    return report


def _print_report(report: dict[str, Any], json_out: Path) -> None:
    for p in report["goals"]:
        status = f"{p['tasks']} tasks" if p["valid"] else "NO VALID PLAN"
        print(
            f"{p['seconds']:7.2f}s  {p['attempts']} attempt(s)  {p['output_tokens']:4} tokens out  "
            f"{status:13}  {p['goal'][:70]}"
        )
    timing = report["seconds_to_valid_plan"]
    print(
        f"models: {report['models']['cheap']} / {report['models']['frontier']}  "
        f"first call {report['first_call_s']:.2f}s (model load ~{report['model_load_s']:.2f}s)"
    )
    print(
        f"valid_plan_rate={report['valid_plan_rate']:.2f} (target {VALID_PLAN_RATE_TARGET})  "
        f"seconds_to_valid_plan median={timing['median']} max={timing['max']}  "
        f"tokens_per_s={report['tokens_per_s']} (planner, grammar-constrained)  -> {json_out}"
    )
