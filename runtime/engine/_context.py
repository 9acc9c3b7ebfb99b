"""What one run's steps share: the run's context, its checkpointed tasks, and where it stands."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from podium.agents import AgentRegistry
from podium.policies import BudgetTracker, Verdict
from podium.tools import ToolContext, ToolRegistry

from .._config import PodiumConfig
from ..models._model import ModelSeam, Purpose
from ..models._usage import Usage
from ._effects import EffectJournal
from ._events import RunEvent
from ._executor import InProcessExecutor, TaskExecutor
from ._memory import RunMemory
from ._plan import Plan
from ._playbooks import PlaybookMatch, Playbooks
from ._policy import RunPolicies
from ._result import Clarification, PlanCacheUse, PlaybookUse, RunResult, TaskResult
from ._routing import RoutingPolicy

Emit = Callable[[RunEvent], None]


@dataclass
class RunContext:
    """What one run's graph needs at hand. Lives in memory; only task results are checkpointed."""

    run_id: str
    config: PodiumConfig
    seam: ModelSeam
    agents: AgentRegistry
    tool_context: ToolContext
    emit: Emit
    tools: ToolRegistry = field(default_factory=ToolRegistry)
    """The run's tools, listed from its tool sources when its graph starts and open until it
    ends (none in a dry run, which calls no tool)."""
    routing: RoutingPolicy = field(default_factory=RoutingPolicy)
    budget: BudgetTracker = field(default_factory=BudgetTracker)
    """The same tracker the seam checks before every call."""
    started_at: float = field(default_factory=time.time)
    goal: str = ""
    executed: set[str] = field(default_factory=set)
    """Task calls whose bodies ran in this process; the others were restored from a checkpoint."""
    results: dict[str, TaskResult] = field(default_factory=dict)
    """Settled task results by id, across every plan revision."""
    outcomes: dict[str, asyncio.Future[TaskResult]] = field(default_factory=dict)
    """The current dispatch round's results, awaited by the tasks that take them as inputs."""
    cheap_failures: dict[str, int] = field(default_factory=dict)
    """Failed cheap-tier tries per agent in this run: the routing policy's memory of past failures."""
    plan_steps_run: int = 0
    plan_repairs: tuple[str, ...] = ()
    """Repairs of form the last accepted planner reply needed (counted in PlanCreated)."""
    human_notes: dict[str, str] = field(default_factory=dict)
    """Instructions a human added to a task at an escalation (the task runs again with them)."""
    effects: EffectJournal | None = None
    """The run's journal of side-effecting tool calls (None in a dry run)."""
    asked: set[str] = field(default_factory=set)
    """Escalations raised in this pass of the entrypoint (each is asked once)."""
    clarifications: list[Clarification] = field(default_factory=list)
    """The planner's questions the human answered, and the answers; every later plan sees them."""
    memory: RunMemory | None = None
    """Shared memory for this run; None when `[memory] enabled = false`."""
    plan_cache: PlanCacheUse | None = None
    fill_playbooks_from_data: bool = False
    """A goal naming records runs the playbook it reads like, filled with them (the embedded
    planner adapts a template poorly)."""
    assemble_answer: bool = False
    """Put the answer together from the run's facts instead of a synthesis call (`facts_answer`)."""
    playbooks: Playbooks | None = None
    """The playbooks goals are matched to before planning; None when `[planner] playbooks` is off."""
    playbook: PlaybookUse | None = None
    """How the first plan came from a playbook, if it did."""
    playbook_match: PlaybookMatch | None = None
    playbook_looked_up: bool = False
    policies: RunPolicies = field(init=False)
    """Guards, tool gate and escalation for this run (`[policies]`)."""
    executor: TaskExecutor = field(default_factory=InProcessExecutor)
    """Where each attempt's agent work runs (`[run] executor`); the rest of the run stays here."""
    semaphore: asyncio.Semaphore = field(init=False)
    result: RunResult | None = None
    """The run's result once its entrypoint has built it in this process."""
    progress: Progress | None = None
    """Where the run stands once it has a plan: the plan and revision each of its results
    reports, a paused or stopped run's too (None while it plans)."""
    spent: Usage = field(default_factory=Usage)
    """What the run spent outside its task results: every plan step and synthesis call, run or
    restored. Each settled task's usage, failed tries included, is in its result."""
    unsettled: Usage = field(default_factory=Usage)
    """What tries that never settled spent (paused for a human, cancelled): `carried` from the
    run's earlier executions, plus this one's. No checkpoint holds them: the run's stored
    result does (`RunResult.unsettled_usage`), and a resume starts from it."""

    def __post_init__(self) -> None:
        self.semaphore = asyncio.Semaphore(self.config.run.concurrency)
        self.policies = RunPolicies(
            self.config.policies, self.run_id, self.emit, tuple(self.agents.names())
        )

    def usage_so_far(self) -> Usage:
        """Every token the run has spent, however it ends: its own steps and its settled tasks."""
        return sum((r.usage for r in self.results.values()), self.spent + self.unsettled)


Checkpointed = Awaitable[dict[str, Any]]
"""A LangGraph task call: its value is checkpointed, and a replay returns it without running
the body again. The value is a typed model's JSON (`PlanStepOutcome`, `TaskResult`, `Synthesis`):
a stored run never depends on a class's import path, and older checkpoints still validate."""


class PlanStepOutcome(BaseModel):
    """What one plan step (a `plan_step` task) came to: a plan, a rejection, or a question."""

    model_config = ConfigDict(frozen=True)

    output: str = ""
    """The planner's reply as written (the cached plan's JSON on a reuse; "" when none)."""
    plan: Plan | None = None
    """The accepted plan; None when rejected (`problems`) or when the planner asked."""
    problems: tuple[str, ...] = ()
    """Why the reply was rejected, fed back to the planner's next attempt."""
    repairs: tuple[str, ...] = ()
    usage: Usage = Usage()
    cache: PlanCacheUse | None = None
    """Set when the plan came from the plan cache."""
    playbook: PlaybookUse | None = None
    """Set when the plan came from a playbook (filled, or adapted by the planner)."""
    verdicts: tuple[Verdict, ...] = ()
    """The plan guard's verdict on the reply, when the planner was called."""
    question: str | None = None
    """The planner's question to the human, when it asked instead of planning."""


class Synthesis(BaseModel):
    """What one synthesis call (a `synthesise` task) came to."""

    model_config = ConfigDict(frozen=True)

    answer: str | None
    usage: Usage
    error: str | None
    """Why the call failed ("synthesis failed: ..."); None when it answered."""


@dataclass(frozen=True)
class GraphTasks:
    """The run's three LangGraph tasks (see `_supervisor`). LangGraph names a call
    by the task's name and its place in the call order: the steps call them in a fixed order."""

    plan_step: Callable[[int, list[list[Any]], dict[str, Any] | None, Purpose], Checkpointed]
    """(revision, rejected attempts, current plan and results, purpose) -> `PlanStepOutcome`."""
    run_task: Callable[[int, dict[str, Any]], Checkpointed]
    """(dispatch round, task) -> `TaskResult`."""
    synthesise: Callable[[dict[str, Any], str], Checkpointed]
    """(plan, feedback on the previous answer) -> `Synthesis`."""


@dataclass
class Progress:
    """Where a run stands between dispatch rounds."""

    plan: Plan
    revision: int = 0
    epoch: int = 0
    """The next dispatch round (the `epoch` argument of every `run_task` call in it)."""
