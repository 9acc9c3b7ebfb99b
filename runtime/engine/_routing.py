"""Per-task model routing: which tier a task starts on, and the ladder it climbs when it fails."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from podium.agents import AgentSpec

from .._config import RoutingConfig, RoutingRule
from ._plan import Task, Tier


@dataclass(frozen=True)
class Rung:
    """One try in a task's ladder: the tier, and why that tier."""

    tier: Tier
    reason: str
    kind: Literal["initial", "retry", "escalation"]


class RoutingPolicy:
    """Turns a task into its ladder of tries. Pure: the same inputs give the same ladder."""

    def __init__(self, config: RoutingConfig | None = None) -> None:
        self.config = config or RoutingConfig()

    def initial(self, task: Task, spec: AgentSpec, cheap_failures: Mapping[str, int]) -> Rung:
        """The first tier: a matching rule, else past failures, else the planner's hint, else the agent's default."""
        rule = self.rule_for(task)
        if rule is not None:
            return Rung(rule.tier, rule.describe(), "initial")
        threshold = self.config.escalate_agent_after_failures
        failures = cheap_failures.get(task.agent, 0)
        preferred = task.tier or spec.tier
        if threshold and failures >= threshold and preferred == "cheap":
            return Rung(
                "frontier",
                f"agent {task.agent!r} already failed {failures} time(s) on cheap in this run",
                "initial",
            )
        if task.tier is not None:
            return Rung(task.tier, "planner hint", "initial")
        return Rung(spec.tier, f"agent {spec.name!r} default", "initial")

    def rule_for(self, task: Task) -> RoutingRule | None:
        """The first rule that matches the task: it pins the task's first tier."""
        return next((rule for rule in self.config.rules if _matches(rule, task)), None)

    def ladder(
        self, task: Task, spec: AgentSpec, cheap_failures: Mapping[str, int] | None = None
    ) -> list[Rung]:
        """Every try the task may make, in order: retries on its tier, then escalation."""
        return self.ladder_from(self.initial(task, spec, cheap_failures or {}))

    def ladder_from(self, first: Rung) -> list[Rung]:
        """The ladder that starts at `first`, whatever chose its tier: retries, then escalation."""
        rungs = [first, *self._retries(first.tier)]
        if first.tier == "cheap" and self.config.escalate:
            tries = 1 + self.config.retries_on("cheap")
            rungs.append(
                Rung(
                    "frontier",
                    f"escalated after {tries} failed tr{'y' if tries == 1 else 'ies'} on cheap",
                    "escalation",
                )
            )
            rungs += self._retries("frontier")
        return rungs

    def _retries(self, tier: Tier) -> list[Rung]:
        return [
            Rung(tier, f"retry {n} on {tier} after a failure", "retry")
            for n in range(1, 1 + self.config.retries_on(tier))
        ]


def _matches(rule: RoutingRule, task: Task) -> bool:
    """Whether every condition the rule gives holds for the task."""
    size = len(task.instruction)
    return (
        (rule.agent is None or rule.agent == task.agent)
        and (rule.min_instruction_chars is None or size >= rule.min_instruction_chars)
        and (rule.max_instruction_chars is None or size <= rule.max_instruction_chars)
    )
