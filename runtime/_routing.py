"""Per-task model routing: which tier a task starts on, and the ladder it climbs when it fails."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from podium.agents import AgentSpec

from ._plan import Task, Tier


class RoutingRule(BaseModel):
    """Send matching tasks to a tier, whatever the planner hinted. All given conditions must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent: str | None = None
    min_instruction_chars: int | None = Field(default=None, ge=0)
    """Task size: instructions at least this long match (long, intricate tasks)."""
    max_instruction_chars: int | None = Field(default=None, ge=0)
    tier: Tier

    def matches(self, task: Task) -> bool:
        size = len(task.instruction)
        return (
            (self.agent is None or self.agent == task.agent)
            and (self.min_instruction_chars is None or size >= self.min_instruction_chars)
            and (self.max_instruction_chars is None or size <= self.max_instruction_chars)
        )

    def describe(self) -> str:
        parts = [f"agent={self.agent}"] if self.agent else []
        if self.min_instruction_chars is not None:
            parts.append(f"instruction>={self.min_instruction_chars} chars")
        if self.max_instruction_chars is not None:
            parts.append(f"instruction<={self.max_instruction_chars} chars")
        return "rule " + (", ".join(parts) or "(all tasks)") + f" -> {self.tier}"


class RoutingConfig(BaseModel):
    """`[routing]` in podium.toml."""

    model_config = ConfigDict(extra="forbid")

    rules: list[RoutingRule] = []
    """First matching rule wins, and overrides the planner's hint."""
    retries_per_tier: int = Field(default=1, ge=0, le=5)
    """Extra tries on a tier after a failure (a failure: an error, or output that fails validation)."""
    frontier_retries: int | None = Field(default=None, ge=0, le=5)
    """Extra tries on the frontier tier after a failure; None: as `retries_per_tier`. 0 hands a
    task the frontier tier failed straight to the supervisor's re-plan, which sees the error (a
    retry sends the same prompt again). On the bundled routing workload 0 cuts routing's cost
    by 22% and frontier-only's by 9%, and both lose the one task a second frontier try rescued;
    that benchmark does not price the re-plan that would follow, so the default keeps the retry."""
    escalate: bool = True
    """After the cheap tier's tries are spent, move to the frontier tier."""
    escalate_agent_after_failures: int = Field(default=0, ge=0)
    """Past failures: once an agent's tasks have failed this often on the cheap tier in a run,
    its later tasks start on the frontier tier. Off (0) by default: failures are mostly
    task-specific, and the ladder already escalates the task that failed; on the bundled
    routing workload turning it on raised cost by 0.06 of frontier-only with no quality gain."""

    def retries_on(self, tier: Tier) -> int:
        """Extra tries on `tier` after a failure."""
        if tier == "frontier" and self.frontier_retries is not None:
            return self.frontier_retries
        return self.retries_per_tier


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
        return next((rule for rule in self.config.rules if rule.matches(task)), None)

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
