"""`podium bench routing`: what per-task routing costs and keeps, against frontier-only and cheap-only.

Replays a workload of graded tasks with recorded answers per tier (no model is called). Each
strategy walks the tasks in order; a task climbs its ladder of tries, each try paying its
tokens at its tier's price, until the grader passes or the ladder ends. The `routing` ladder
is `RoutingPolicy.ladder`, the one the runtime climbs, fed the running count of each agent's
failed cheap tries. Headline figures are ratios against frontier-only:
- cost_ratio_vs_frontier: routing cost / frontier-only cost (target <= 0.30);
- quality_ratio_vs_frontier: routing pass rate / frontier-only pass rate (target >= 0.95);
- oracle_cost_ratio_vs_frontier: what a router that knew each answer's grade in advance would
  pay, so a missed cost target can be told apart from a workload where it is out of reach;
- first_tier_oracle_cost_ratio_vs_frontier: the same knowledge spent only on where each task
  starts, climbing the configured ladder and obeying the configured rules: the least any
  predictor of a task's first tier (a learned router, a past-failure rule) could pay.
For scale, RouteLLM (Ong et al., 2024) reported 85% / 45% / 35% lower cost than GPT-4 alone on
MT-Bench / MMLU / GSM8K while keeping 95% of GPT-4's quality.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from podium.agents import AgentRegistry
from podium.runtime import RoutingConfig, RoutingPolicy, RoutingRule, Rung, Tier

from ._report import write_report
from .routing_workload import Prices, RoutingWorkload, WorkloadTask, load_workload

Strategy = Literal["routing", "frontier_only", "cheap_only"]
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
COST_RATIO_TARGET = 0.30
QUALITY_RATIO_TARGET = 0.95
REFERENCE = (
    "RouteLLM (Ong et al., 2024): 85% / 45% / 35% cost reduction vs GPT-4 alone on "
    "MT-Bench / MMLU / GSM8K at 95% of GPT-4's quality"
)


@dataclass(frozen=True)
class Attempt:
    """One graded try of one task."""

    rung: Rung
    passed: bool
    cost_usd: float


@dataclass(frozen=True)
class TaskOutcome:
    task: WorkloadTask
    attempts: tuple[Attempt, ...]

    @property
    def passed(self) -> bool:
        return any(a.passed for a in self.attempts)

    @property
    def cost_usd(self) -> float:
        return sum(a.cost_usd for a in self.attempts)

    def cheap_failures(self) -> int:
        return sum(1 for a in self.attempts if a.rung.tier == "cheap" and not a.passed)

    def row(self) -> dict[str, Any]:
        first = self.attempts[0].rung
        return {
            "task": self.task.id,
            "agent": self.task.agent,
            "first_tier": first.tier,
            "reason": first.reason,
            "tries": [f"{a.rung.tier}:{'pass' if a.passed else 'fail'}" for a in self.attempts],
            "passed": self.passed,
            "cost_usd": round(self.cost_usd, 8),
        }


@dataclass(frozen=True)
class StrategyResult:
    strategy: Strategy
    outcomes: tuple[TaskOutcome, ...]

    @property
    def cost_usd(self) -> float:
        return sum(o.cost_usd for o in self.outcomes)

    @property
    def passed(self) -> int:
        return sum(1 for o in self.outcomes if o.passed)

    @property
    def pass_rate(self) -> float:
        return self.passed / len(self.outcomes)

    def calls(self, tier: Tier | None = None) -> int:
        return sum(1 for o in self.outcomes for a in o.attempts if tier in (None, a.rung.tier))

    def summary(self) -> dict[str, Any]:
        return {
            "cost_usd": round(self.cost_usd, 8),
            "pass_rate": round(self.pass_rate, 6),
            "passed": self.passed,
            "tasks": len(self.outcomes),
            "calls": self.calls(),
            "calls_by_tier": {"cheap": self.calls("cheap"), "frontier": self.calls("frontier")},
            "per_task": [o.row() for o in self.outcomes],
        }


def policy_for(strategy: Strategy, routing: RoutingConfig) -> RoutingPolicy:
    """The policy under test, or a baseline built from the same retries so only routing differs."""
    if strategy == "routing":
        return RoutingPolicy(routing)
    # A rule with no condition matches every task; no agent-based escalation in a baseline.
    return RoutingPolicy(
        RoutingConfig(
            rules=[RoutingRule(tier="frontier" if strategy == "frontier_only" else "cheap")],
            retries_per_tier=routing.retries_per_tier,
            frontier_retries=routing.frontier_retries,
            escalate=False,
            escalate_agent_after_failures=0,
        )
    )


def simulate(workload: RoutingWorkload, strategy: Strategy) -> StrategyResult:
    """Walk the tasks in workload order, as a run would, counting each agent's failed cheap tries."""
    policy = policy_for(strategy, workload.routing)
    agents = AgentRegistry.builtin()
    cheap_failures: Counter[str] = Counter()
    outcomes: list[TaskOutcome] = []
    for task in workload.tasks:
        ladder = policy.ladder(task.as_task(), agents.get(task.agent), cheap_failures)
        outcome = climb(task, ladder, workload.prices)
        cheap_failures[task.agent] += outcome.cheap_failures()
        outcomes.append(outcome)
    return StrategyResult(strategy, tuple(outcomes))


def climb(task: WorkloadTask, ladder: Iterable[Rung], prices: Prices) -> TaskOutcome:
    """Try each rung until the grader passes; every try is paid for, passed or not."""
    tries: Counter[Tier] = Counter()
    attempts: list[Attempt] = []
    for rung in ladder:
        recorded = task.answer(rung.tier, tries[rung.tier])
        tries[rung.tier] += 1
        passed = task.grader.passes(recorded.answer)
        attempts.append(Attempt(rung, passed, prices.of(rung.tier).cost(recorded)))
        if passed:
            break
    return TaskOutcome(task, tuple(attempts))


def oracle_cost(workload: RoutingWorkload) -> float:
    """The floor for any router: each task's one cheapest passing first try (frontier if none passes)."""
    total = 0.0
    for task in workload.tasks:
        tier: Tier = "cheap" if task.grader.passes(task.cheap.answer) else "frontier"
        total += workload.prices.of(tier).cost(task.answer(tier, 0))
    return total


def first_tier_oracle_cost(workload: RoutingWorkload) -> float:
    """What routing would pay if it knew the grades but could only choose each task's first tier.

    Each task climbs the configured ladder from whichever first tier costs least among those
    whose ladder passes (any, if none does). A task a rule matches keeps the rule's tier: rules
    are configuration, while hints and past failures are predictions this bound replaces.
    """
    policy = RoutingPolicy(workload.routing)
    total = 0.0
    for task in workload.tasks:
        rule = policy.rule_for(task.as_task())
        firsts: tuple[Tier, ...] = (rule.tier,) if rule else ("cheap", "frontier")
        climbs = (
            climb(
                task, policy.ladder_from(Rung(tier, "knows the grades", "initial")), workload.prices
            )
            for tier in firsts
        )
        total += min(climbs, key=lambda o: (not o.passed, o.cost_usd)).cost_usd
    return total


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def build_report(workload: RoutingWorkload, source: str) -> dict[str, Any]:
    results = {s: simulate(workload, s) for s in STRATEGIES}
    routing, frontier, cheap = (results[s] for s in STRATEGIES)
    cost_ratio = _ratio(routing.cost_usd, frontier.cost_usd)
    quality_ratio = _ratio(routing.pass_rate, frontier.pass_rate)
    return {
        "benchmark": "routing",
        "workload": source,
        "tasks": len(workload.tasks),
        "prices_usd_per_mtok": workload.prices.model_dump(),
        "routing_config": workload.routing.model_dump(),
        "targets": {
            "cost_ratio_vs_frontier": {"max": COST_RATIO_TARGET},
            "quality_ratio_vs_frontier": {"min": QUALITY_RATIO_TARGET},
        },
        "reference": REFERENCE,
        "cost_ratio_vs_frontier": cost_ratio,
        "quality_ratio_vs_frontier": quality_ratio,
        "cheap_only_cost_ratio_vs_frontier": _ratio(cheap.cost_usd, frontier.cost_usd),
        "cheap_only_quality_ratio_vs_frontier": _ratio(cheap.pass_rate, frontier.pass_rate),
        "oracle_cost_ratio_vs_frontier": _ratio(oracle_cost(workload), frontier.cost_usd),
        "first_tier_oracle_cost_ratio_vs_frontier": _ratio(
            first_tier_oracle_cost(workload), frontier.cost_usd
        ),
        "targets_met": targets_met(cost_ratio, quality_ratio),
        "strategies": {s: r.summary() for s, r in results.items()},
    }


def targets_met(cost_ratio: float | None, quality_ratio: float | None) -> bool:
    return (
        cost_ratio is not None
        and quality_ratio is not None
        and cost_ratio <= COST_RATIO_TARGET
        and quality_ratio >= QUALITY_RATIO_TARGET
    )


def run_routing_bench(*, json_out: Path, workload: Path | None = None) -> dict[str, Any]:
    """Replay the workload (bundled when None), print the figures, write JSON to `json_out`."""
    report = build_report(load_workload(workload), str(workload or "bundled routing.yaml"))
    write_report(json_out, report)
    _print_report(report, json_out)
    return report


def _print_report(report: Mapping[str, Any], json_out: Path) -> None:
    print(f"workload: {report['workload']} ({report['tasks']} tasks)")
    print(
        f"{'strategy':14} {'cost USD':>10} {'passed':>9} {'pass rate':>9} {'calls':>6} {'cheap':>6} {'frontier':>8}"
    )
    for name, s in report["strategies"].items():
        print(
            f"{name:14} {s['cost_usd']:10.5f} {s['passed']:>4}/{s['tasks']:<4} {s['pass_rate']:9.1%} "
            f"{s['calls']:6} {s['calls_by_tier']['cheap']:6} {s['calls_by_tier']['frontier']:8}"
        )
    _print_climbs(report["strategies"]["routing"]["per_task"])
    print(
        f"cost_ratio_vs_frontier={_fmt(report['cost_ratio_vs_frontier'])} (target <= {COST_RATIO_TARGET})  "
        f"quality_ratio_vs_frontier={_fmt(report['quality_ratio_vs_frontier'])} (target >= {QUALITY_RATIO_TARGET})  "
        f"-> {'met' if report['targets_met'] else 'NOT met'}"
    )
    print(
        f"a perfect router would pay {_fmt(report['oracle_cost_ratio_vs_frontier'])} of frontier-only; "
        "one that only picks first tiers, on this ladder and these rules, "
        f"{_fmt(report['first_tier_oracle_cost_ratio_vs_frontier'])}; "
        f"cheap-only: cost {_fmt(report['cheap_only_cost_ratio_vs_frontier'])}, "
        f"quality {_fmt(report['cheap_only_quality_ratio_vs_frontier'])}"
    )
    print(f"reference: {REFERENCE}")
    print(f"-> {json_out}")


def _print_climbs(rows: list[dict[str, Any]]) -> None:
    """Only the tasks where routing did more than one try or ended failed: the interesting rows."""
    notable = [r for r in rows if len(r["tries"]) > 1 or not r["passed"]]
    if notable:
        print("routing, tasks needing more than one try:")
    for r in notable:
        print(
            f"  {r['task']:28} {' -> '.join(r['tries']):40} {'passed' if r['passed'] else 'FAILED'}"
        )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
