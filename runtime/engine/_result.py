"""What a run leaves behind: per-task results and the run's outcome."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from podium.policies import Action, Verdict

from ..models._usage import Usage
from ._plan import Plan, Task, Tier
from ._status import RunStatus

TaskStatus = Literal["completed", "failed", "skipped"]
MAX_RECORDED_RESULT_CHARS = 20_000


class FailureKind(StrEnum):
    """Why a task did not complete, as data: readers branch on it, never on the error's words."""

    BUDGET = "budget"
    """The run's budget stopped it before or during a try (skipped: not the task's fault)."""
    UPSTREAM = "upstream"
    """A task it takes as input did not complete (skipped)."""
    GUARD = "guard"
    """A guard refused the output of its last try (`TaskResult.guard` says how)."""
    MODEL = "model"
    """A model call of its last try failed (`ModelError`: provider, retries, fallbacks spent)."""
    AGENT = "agent"
    """The agent loop of its last try gave no acceptable answer within its steps."""
    ERROR = "error"
    """Anything else its last try raised; on Ray every other failure reads so (its exception
    travels as text)."""


class RunErrorKind(StrEnum):
    """Why a run did not complete, as data: every interface (the CLI's exit code, the HTTP
    answer, the OpenAI error's `code`) reads the same kind, never the error's words."""

    PLAN = "plan"
    """No plan: the planner gave no valid plan within its attempts, or its question was rejected."""
    TASK = "task"
    """Tasks failed after their ladders and the re-plans (or the re-plan itself failed)."""
    ANSWER = "answer"
    """The tasks completed but there is no answer: synthesis failed, or its guard refused it."""
    BUDGET = "budget"
    """A `[budget]` limit was reached (status budget_exceeded)."""
    REFUSED = "refused"
    """The goal was refused by the input guard before any work (no run is kept)."""
    CANCELLED = "cancelled"
    """Stopped before its end, on request or by its storage failing (resumable)."""
    ERROR = "error"
    """Something outside the run's own handling broke (a memory server, a bug)."""


class ToolCallRecord(BaseModel):
    """One tool call a task's accepted attempt made: what it asked and what came back
    (secrets masked, long results cut with a marker)."""

    model_config = ConfigDict(frozen=True)

    name: str
    arguments: str
    ok: bool
    result: str


class Route(BaseModel):
    """One try of a task: which tier and model answered, why that tier, and how it went."""

    model_config = ConfigDict(frozen=True)

    attempt: int
    tier: Tier
    model: str | None
    reason: str
    outcome: Literal["completed", "failed", "stopped"]
    error: str | None = None


class TaskResult(BaseModel):
    """The outcome of one task, as checkpointed."""

    model_config = ConfigDict(frozen=True)

    task: Task
    status: TaskStatus
    output: str | None = None
    """The agent's final text (JSON text when the task has an output schema)."""
    data: Any = None
    """The parsed output when the task has an output schema."""
    error: str | None = None
    failure: FailureKind | None = None
    """Why it did not complete (None when it did)."""
    attempts: int = 0
    model: str | None = None
    usage: Usage = Usage()
    started_at: float | None = None
    finished_at: float | None = None
    routes: tuple[Route, ...] = ()
    """Every try, in order: the routing decisions and what came of them."""
    verdicts: tuple[Verdict, ...] = ()
    """Every guard verdict on this task's answers, in order."""
    guard: Action | None = None
    """Set when a guard refused the task's last answer: the action that ended it."""
    rejected_output: str | None = None
    """The last refused answer, kept for a human to judge; never passed to other agents."""
    tainted: bool = False
    """The agent saw untrusted data (tool results, memory), so its output carries it."""
    approved_by: str | None = None
    """"human" when a person approved or edited the output at an escalation."""
    repairs: tuple[str, ...] = ()
    """Repairs of form the model's JSON replies needed (see `podium.agents.loads_lenient`)."""
    tool_calls: tuple[ToolCallRecord, ...] = ()
    """The tool calls of the attempt whose output was accepted, in order."""

    @model_validator(mode="before")
    @classmethod
    def _failure_of_older_results(cls, data: Any) -> Any:
        """A result checkpointed before failures had a kind: a refusal is read from `guard`, and
        a budget stop (the one kind a run's ending turns on) from what BudgetExceeded wrote."""
        if not isinstance(data, dict) or "failure" in data or data.get("status") == "completed":
            return data
        if data.get("guard") is not None:
            return {**data, "failure": FailureKind.GUARD}
        if str(data.get("error") or "").startswith("budget exceeded"):
            return {**data, "failure": FailureKind.BUDGET}
        return data

    @property
    def duration_s(self) -> float:
        if self.started_at is None or self.finished_at is None:
            return 0.0
        return self.finished_at - self.started_at


class PlanResult(BaseModel):
    """A plan made without running it (`Podium.plan`)."""

    plan: Plan
    usage: Usage
    attempts: int
    """Planner calls it took to get a valid plan."""
    seconds: float


class PlaybookUse(BaseModel):
    """Which playbook gave a run its first plan, how, and why."""

    model_config = ConfigDict(frozen=True)

    name: str
    mode: Literal["filled", "adapted"]
    """filled: the playbook's plan with the goal's slot values, no planner call; adapted: the
    planner was given the playbook's plan as a template."""
    reason: str
    """Why it matched, in words (the template it read as, or the similarity)."""
    slots: dict[str, str] = {}
    """The slot values taken from the goal (filled by template)."""
    similarity: float | None = None
    """Cosine similarity of the goal to the closest template, when matched by meaning."""
    source: str = ""


class PlanCacheUse(BaseModel):
    """How a run's first plan came from the plan cache (shared memory)."""

    model_config = ConfigDict(frozen=True)

    mode: Literal["reused", "adapted"]
    """reused: the cached plan with the goal's changed words substituted, and no planner call;
    adapted: the planner was given the cached plan as a template."""
    similarity: float
    """Cosine similarity of the two goals' embeddings (0..1)."""
    cached_goal: str
    cached_run_id: str | None = None


EscalationReason = Literal["approval", "guard", "supervisor", "clarify"]
"""approval: a tool call; guard: a refused output; clarify: the planner's question about the goal;
supervisor: an interrupt that named no reason. What each takes: `_escalation.decisions_for`."""


class Decision(StrEnum):
    """What a person answers to an escalation: the one vocabulary of every interface."""

    APPROVE = "approve"
    """Keep the refused output as it is; make the tool call."""
    EDIT = "edit"
    """Use `output` instead of the refused output."""
    REJECT = "reject"
    """Drop the refused output; refuse the tool call (`message` tells the agent why); decline
    the planner's question."""
    INSTRUCT = "instruct"
    """Run the refused task again with `instructions` added to its instruction."""
    ANSWER = "answer"
    """Reply `text` to the planner's question."""


class Escalation(BaseModel):
    """A question the run put to a human; answering it (by id) resumes the run."""

    model_config = ConfigDict(frozen=True)

    id: str
    reason: EscalationReason
    question: str
    task_id: str | None = None
    agent: str | None = None
    payload: dict[str, Any] = {}

    @property
    def tool(self) -> str | None:
        """The tool whose call waits for approval (None for any other escalation)."""
        tool = self.payload.get("tool") if self.reason == "approval" else None
        return str(tool) if tool else None


class Clarification(BaseModel):
    """The planner's question about the goal and the human's answer, given to every later plan."""

    model_config = ConfigDict(frozen=True)

    question: str
    answer: str


class RunResult(BaseModel):
    """Everything a run produced; `model_dump_json()` is what `podium run --json` prints."""

    run_id: str
    goal: str
    status: RunStatus
    answer: str | None = None
    plan: Plan | None = None
    """The final task graph."""
    plan_revisions: int = 0
    tasks: dict[str, TaskResult] = {}
    """Every task that ran, by id, including ones a re-plan removed."""
    usage: Usage = Usage()
    """Every token the run spent, in every process that executed it: its plan steps, its tasks
    (failed tries included), its synthesis, and `unsettled_usage`."""
    unsettled_usage: Usage = Usage()
    """The part of `usage` spent by tries that never settled: a try paused for a human or stopped
    by a cancel has no task result to count it (a resumed task starts its try again), so the
    run carries it from one execution to the next."""
    started_at: float
    finished_at: float | None = None
    error: str | None = None
    """What stopped the run and what to do, in words for a person (model-facing feedback stays
    in `tasks` and the audit trail)."""
    error_kind: RunErrorKind | None = None
    """Why it did not complete; None when it completed or waits for a human (runs stored before
    kinds existed read as None)."""
    playbook: PlaybookUse | None = None
    """Set when the first plan came from a playbook (filled, or adapted by the planner)."""
    plan_cache: PlanCacheUse | None = None
    """Set when the first plan came from the plan cache; None when the planner planned afresh."""
    warnings: list[str] = []
    """Things that went wrong without failing the run (shared memory unavailable, ...)."""
    verdicts: list[Verdict] = []
    """Guard verdicts on the goal, the plans and the final answer (task verdicts are in `tasks`)."""
    escalations: list[Escalation] = []
    """Questions waiting for a human when status is waiting_for_human."""
    clarifications: list[Clarification] = []
    """The planner's questions the human answered, and their answers, oldest first."""

    @property
    def all_verdicts(self) -> list[Verdict]:
        """Every guard verdict of the run: goal, plans, tasks, answer."""
        tasks = [v for r in self.tasks.values() for v in r.verdicts]
        return (
            [v for v in self.verdicts if v.target in ("goal", "plan")]
            + tasks
            + [v for v in self.verdicts if v.target == "answer"]
        )

    def output(self, task_id: str) -> str | None:
        return self.tasks[task_id].output

    @property
    def answer_guarded(self) -> bool:
        """The answer passed its guard (not only a human's approval)."""
        last = next((v for v in reversed(self.verdicts) if v.target == "answer"), None)
        return self.status == "completed" and last is not None and last.passed

    @property
    def accepted_throughout(self) -> bool:
        """Completed with every task's output accepted by its guard (none failed, skipped or
        approved by a human on the way) and the answer passing its guard: a plan to reuse.
        Not when the human clarified the goal: the plan answers more than the goal's words."""
        return (
            self.answer_guarded
            and not self.clarifications
            and all(r.status == "completed" and r.approved_by is None for r in self.tasks.values())
        )

    @property
    def routing(self) -> list[tuple[str, Route]]:
        """Every routing decision of the run: (task id, route), in task order."""
        return [(task_id, route) for task_id, r in self.tasks.items() for route in r.routes]

    def usage_by_agent(self) -> dict[str, Usage]:
        """Tokens, calls and cost summed per agent (planning and synthesis are the run's own)."""
        totals: dict[str, Usage] = {}
        for r in self.tasks.values():
            totals[r.task.agent] = totals.get(r.task.agent, Usage()) + r.usage
        return totals
