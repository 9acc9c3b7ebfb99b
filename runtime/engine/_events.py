"""The typed stream of run events that the CLI, the server and recorders all consume."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from podium.policies import Action, GuardFailure

from ..models._usage import Usage
from ._plan import Plan, Tier
from ._result import Clarification, Decision, EscalationReason, RunErrorKind
from ._status import RestingStatus


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str
    at: float = Field(default_factory=time.time)
    """Wall-clock time of the event (seconds since the epoch)."""


class RunQueued(_Event):
    """`podium serve` accepted the run; it starts when one of its `concurrency` slots is free."""

    kind: Literal["run_queued"] = "run_queued"
    position: int
    """Runs ahead of it in the queue (0: it starts at once)."""


class RunStarted(_Event):
    kind: Literal["run_started"] = "run_started"
    goal: str
    resumed: bool = False


class PlanRejected(_Event):
    kind: Literal["plan_rejected"] = "plan_rejected"
    attempt: int
    problems: tuple[str, ...]


class PlanCreated(_Event):
    kind: Literal["plan_created"] = "plan_created"
    plan: Plan
    revision: int
    """0 for the first plan, n for the n-th re-plan."""
    repairs: tuple[str, ...] = ()
    """Repairs of form the planner's reply needed to parse (a fence, prose, raw control
    characters): such a reply is a valid plan, not a failed attempt."""
    playbook: str | None = None
    """The playbook this plan came from, and how: "sales-lead-qualification (filled: ...)"."""
    clarifications: tuple[Clarification, ...] = ()
    """The human's answers to the planner's questions that this plan was made with (audited)."""


class TaskStarted(_Event):
    kind: Literal["task_started"] = "task_started"
    task_id: str
    agent: str
    tier: Tier
    attempt: int
    reason: str = ""
    """Why this tier: the routing decision (planner hint, a rule, a retry, an escalation)."""


class ModelTurn(_Event):
    """A task's model call waited for a model that serves one call at a time (the embedded
    model, another task's call holding it), then got it. Not sent when the model was free: a
    started task is running until told it waits."""

    kind: Literal["model_turn"] = "model_turn"
    task_id: str
    agent: str
    state: Literal["waiting", "serving"]
    """waiting: the task is queued behind other calls; serving: its call has the model now."""


class TaskCompleted(_Event):
    kind: Literal["task_completed"] = "task_completed"
    task_id: str
    agent: str
    output: str
    usage: Usage
    duration_s: float
    model: str | None = None
    """The model that produced the output (after any fallback)."""
    repairs: tuple[str, ...] = ()
    """Repairs of form the model's JSON replies in this task needed (tool calls, the answer)."""
    restored: bool = False
    """True when the result came from a checkpoint instead of running again."""


class TaskFailed(_Event):
    kind: Literal["task_failed"] = "task_failed"
    task_id: str
    agent: str
    error: str
    attempt: int
    will_retry: bool


class TaskSkipped(_Event):
    kind: Literal["task_skipped"] = "task_skipped"
    task_id: str
    reason: str


class Replanned(_Event):
    kind: Literal["replanned"] = "replanned"
    revision: int
    reason: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


class GuardChecked(_Event):
    """One guard verdict on one output (the goal, a plan, a task's answer, the final answer)."""

    kind: Literal["guard_verdict"] = "guard_verdict"
    target: Literal["goal", "plan", "task", "answer"]
    subject: str
    """The task id, or "goal" / "plan" / "answer"."""
    agent: str | None = None
    action: Action
    passed: bool
    failures: tuple[GuardFailure, ...] = ()
    duration_ms: float = 0.0
    attempt: int = 1


class ToolCalled(_Event):
    """A tool call and its permission check: allowed (and how it went), denied, or sent to a human."""

    kind: Literal["tool_called"] = "tool_called"
    task_id: str
    agent: str
    tool: str
    decision: Literal["allowed", "denied", "approved", "rejected"]
    reason: str
    needed: tuple[str, ...] = ()
    """Scopes the tool needs."""
    granted: tuple[str, ...] = ()
    """Scopes the agent holds."""
    arguments: str = ""
    ok: bool | None = None
    """For calls that ran: whether the tool succeeded."""


class EscalationRaised(_Event):
    """The run asks a human (a LangGraph interrupt): approve a tool call, judge a refused output,
    or answer the planner's question about the goal (clarify)."""

    kind: Literal["escalation"] = "escalation"
    escalation_id: str
    reason: EscalationReason
    task_id: str | None = None
    agent: str | None = None
    question: str


class EscalationAnswered(_Event):
    """A person answered an escalation and the run resumes with the answer: who asked what,
    what they decided and what that does. Sent once per answer, as the resume starts (never
    again when the run replays to the point where it asked)."""

    kind: Literal["escalation_answered"] = "escalation_answered"
    escalation_id: str
    reason: EscalationReason
    task_id: str | None = None
    agent: str | None = None
    tool: str | None = None
    """The tool whose call was approved or rejected (approval escalations)."""
    decision: Decision
    output: str | None = None
    """With edit: the text used instead of the refused output."""
    instructions: str | None = None
    """With instruct: what was added to the task's instruction."""
    text: str | None = None
    """With answer: the reply to the planner's question."""
    message: str | None = None
    """With reject: what the agent was told."""
    effect: str
    """What the decision does, in words (`_escalation.decided`)."""


class RunFinished(_Event):
    kind: Literal["run_finished"] = "run_finished"
    status: RestingStatus
    answer: str | None
    usage: Usage
    """Everything the run spent, whatever its end."""
    error: str | None = None
    error_kind: RunErrorKind | None = None
    """Why it did not complete (`RunResult.error_kind`)."""


RunEvent = Annotated[
    RunQueued
    | RunStarted
    | PlanRejected
    | PlanCreated
    | TaskStarted
    | ModelTurn
    | TaskCompleted
    | TaskFailed
    | TaskSkipped
    | Replanned
    | GuardChecked
    | ToolCalled
    | EscalationRaised
    | EscalationAnswered
    | RunFinished,
    Field(discriminator="kind"),
]
"""Any run event; `event.kind` tells which."""
