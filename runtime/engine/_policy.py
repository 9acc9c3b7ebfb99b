"""The run's policies at work: output guards, the tool gate, taint, approvals and the audit trail.

`RunPolicies` is built once per run; `TaskPolicy` is what one task's agent loop sees (the
`LoopPolicy` of podium.agents). Everything here runs in the runtime, outside the model's
reach: the model can ask for a tool, and can write an answer, but whether the call runs and
whether the answer goes on is decided here.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from podium.agents import PROMPT_LABELS, AgentSpec, Review, ToolUse
from podium.memory import PROMPT_LABELS as MEMORY_PROMPT_LABELS
from podium.policies import (
    AUDIT_FILE,
    AuditLog,
    GuardFailure,
    InputFinding,
    OutputGuard,
    PoliciesConfig,
    Redactor,
    Taint,
    ToolGate,
    ValidatorRef,
    Verdict,
    check_goal,
)
from podium.tools import Tool

from .._errors import GoalError
from ._escalation import Decision, HumanAnswer, answer_to, call_question, recorded_answer
from ._events import EscalationRaised, GuardChecked, RunEvent, ToolCalled
from ._sinks import EventSink

Emit = Callable[[RunEvent], None]
ARGUMENT_PREVIEW_CHARS = 500
AUDIT_TEXT_CHARS = 2000
"""Of a task's output or the answer, what the audit trail keeps (the run record keeps it all)."""
_SECRETS = Redactor()
"""Secrets only (no PII kinds): what questions and events may never hold."""
RUNTIME_NAMES = ("planner", "supervisor", "synthesizer", "runtime")
"""Names an output may try to give orders to besides the agents."""


@functools.lru_cache(maxsize=256)
def cached_guard(name: str, refs: tuple[ValidatorRef, ...]) -> OutputGuard:
    """Guards are built once per validator list and shared (a Guard is thread-safe to reuse)."""
    return OutputGuard(name, refs)


def guard_event(run_id: str, verdict: Verdict) -> GuardChecked:
    return GuardChecked(
        run_id=run_id,
        target=verdict.target,
        subject=verdict.subject,
        agent=verdict.agent,
        action=verdict.action,
        passed=verdict.passed,
        failures=verdict.failures,
        duration_ms=round(verdict.duration_ms, 3),
        attempt=verdict.attempt,
    )


class CheckedGoal(BaseModel):
    """A goal that passed the input guard, once per run: the text the run holds (stripped,
    secrets masked) and the verdict its run records. A served run's record keeps it from the
    moment it is queued, so neither the run nor its resume checks the goal again."""

    model_config = ConfigDict(frozen=True)

    goal: str
    verdict: Verdict


def check_goal_input(goal: str, *, max_chars: int, config: PoliciesConfig) -> CheckedGoal:
    """The goal's one check, or GoalError: empty, over `max_chars`, or blocked by
    `[policies.input]`.

    A secret in the goal stops here: the run, its records, events, checkpoints, prompts and
    recordings only ever hold the masked goal (a tool that needs a credential reads it from its
    configuration or the environment, never from the goal). Secrets only: `[policies]
    redact_pii` masks the audit log, not the work (a goal that says whom to email keeps the
    address)."""
    goal = goal.strip()
    if not goal:
        raise GoalError("the goal is empty: say what you want done")
    if len(goal) > max_chars:
        raise GoalError(
            f"the goal is {len(goal)} characters, over the limit of {max_chars}: shorten it, "
            "put long material in a workspace file, or raise `planner.max_goal_chars`"
        )
    findings = check_goal(goal, config.input)  # the one scan of the run's goal
    _refuse_blocking(findings, config)
    return CheckedGoal(goal=_SECRETS.redact(goal), verdict=_verdict_of(findings))


def goal_verdict(goal: str, config: PoliciesConfig) -> Verdict:
    """The verdict of a run stored before its record kept one (`RunRecord.goal_verdict`), when
    it resumes: its stored goal is the accepted, masked one."""
    return _verdict_of(check_goal(goal, config.input))


def check_goal_policy(text: str, config: PoliciesConfig) -> None:
    """Refuse, as for a goal, a human's text that the run will read as part of it (the answer
    to the planner's question): GoalError when `[policies.input]` blocks it."""
    _refuse_blocking(check_goal(text, config.input), config)


def _verdict_of(findings: Sequence[InputFinding]) -> Verdict:
    """What `[policies.input]` noted in an accepted goal (its excerpts with secrets masked)."""
    return Verdict(
        target="goal",
        subject="goal",
        action="noted" if findings else "pass",
        failures=tuple(
            GuardFailure(
                validator=f"input:{f.kind}", on_fail="noop", message=_SECRETS.redact(f.excerpt)
            )
            for f in findings
        ),
    )


def _refuse_blocking(findings: Sequence[InputFinding], config: PoliciesConfig) -> None:
    blocking = [
        f"{f.kind}: {_SECRETS.redact(f.excerpt)!r}"
        for f in findings
        if f.kind == "denied" or config.input.injection == "block"
    ]
    if blocking:
        raise GoalError(
            "the goal was refused by the input guard ("
            + "; ".join(blocking)
            + '): rephrase it as a plain request, or set `[policies.input] injection = "warn"`'
        )


class AuditSink(EventSink):
    """The audit trail as an event sink: each event appended to the run's audit.jsonl, masked
    by `[policies] redact_pii` and secrets, plans as their tasks, long texts cut at 2,000 chars."""

    def __init__(self, run_dir: Path, config: PoliciesConfig) -> None:
        self.log = AuditLog(run_dir / AUDIT_FILE, Redactor(pii=frozenset(config.redact_pii)))

    def emit(self, event: RunEvent) -> None:
        if event.kind == "model_turn":
            return  # when a call waited for the model: the live view's business, not the audit's
        data = event.model_dump(mode="json", exclude={"run_id", "at"})
        kind = data.pop("kind")
        if kind == "plan_created":
            plan = data.pop("plan")
            data["tasks"] = [
                {
                    "id": t["id"],
                    "agent": t["agent"],
                    "inputs": t["inputs"],
                    "tier": t.get("tier"),
                    "instruction": t["instruction"],
                }
                for t in plan["tasks"]
            ]
        elif kind in ("task_completed", "run_finished"):
            for key in ("output", "answer"):
                text = data.get(key)
                if isinstance(text, str) and len(text) > AUDIT_TEXT_CHARS:
                    cut = len(text) - AUDIT_TEXT_CHARS
                    data[key] = f"{text[:AUDIT_TEXT_CHARS]} … (+{cut} chars not kept)"
        self.log.record(kind, run_id=event.run_id, **data)

    def __repr__(self) -> str:
        return f"AuditSink({str(self.log.path)!r})"


@dataclass
class RunPolicies:
    """One run's policy state: its tool gate (counters), guards and escalation setting."""

    config: PoliciesConfig
    run_id: str
    emit: Emit
    agent_names: tuple[str, ...]
    gate: ToolGate = field(init=False)
    verdicts: list[Verdict] = field(default_factory=list)
    """Goal, plan and answer verdicts (task verdicts live in their TaskResult)."""
    answered: frozenset[str] = frozenset()
    """Escalations the resume under way answers: the run passes their questions again on its
    way to the answers, and does not announce them again (no second escalation_raised)."""
    accepted: dict[str, str] = field(default_factory=dict)
    """Task outputs the guards accepted in this process, by task id, as soon as accepted: tasks
    running side by side see each other's before either has settled (`no_debris`)."""
    decided: dict[str, HumanAnswer] = field(default_factory=dict)
    """Tool calls a human decided in this pass, by escalation id (task, tool, arguments): a
    later try of the task that makes the same call gets the same decision. Asked again, the
    interrupt would find no answer left in this pass and pause the run anew."""

    def __post_init__(self) -> None:
        self.gate = ToolGate(self.config)
        self.redactor = Redactor(pii=frozenset(self.config.redact_pii))

    def raise_escalation(self, event: EscalationRaised) -> None:
        """Announce a question for a human, unless this pass brings its answer."""
        if event.escalation_id not in self.answered:
            self.emit(event)

    @property
    def directive_targets(self) -> tuple[str, ...]:
        return self.agent_names + RUNTIME_NAMES

    def record_goal(self, verdict: Verdict) -> None:
        """The goal's verdict, as `check_goal_input` gave it when the run was started."""
        self.verdicts.append(verdict)
        self.emit(guard_event(self.run_id, verdict))

    def agent_guard(self, spec: AgentSpec) -> OutputGuard:
        return cached_guard(
            f"agent:{spec.name}", self.config.validators_for(spec.name, spec.validators)
        )

    def check_run_output(
        self,
        target: str,
        text: str,
        *,
        metadata: Mapping[str, Any],
        attempt: int = 1,
    ) -> tuple[Verdict, str | None]:
        """Guard the plan or the final answer; the verdict is emitted and kept."""
        refs = self.config.planner_validators if target == "plan" else self.config.answer_validators
        guard = cached_guard(target, refs)
        verdict, output = guard.check(
            text,
            target="plan" if target == "plan" else "answer",
            subject=target,
            metadata={"agents": self.directive_targets, "fences": PROMPT_FENCES, **metadata},
            attempt=attempt,
        )
        self.verdicts.append(verdict)
        self.emit(guard_event(self.run_id, verdict))
        return verdict, output


PROMPT_FENCES = (*PROMPT_LABELS, *MEMORY_PROMPT_LABELS)
"""Labels the prompts wrap data in: an output that repeats one is debris (`no_debris`)."""


class TaskPolicy:
    """The LoopPolicy of one task attempt: gate every tool call, track taint, guard every answer."""

    def __init__(
        self,
        run: RunPolicies,
        spec: AgentSpec,
        task_id: str,
        *,
        trusted: Iterable[str],
        untrusted: Iterable[str],
        approve: Callable[[dict[str, Any]], Any] | None,
        siblings: Callable[[], Mapping[str, str]] = dict,
    ) -> None:
        self.run, self.spec, self.task_id = run, spec, task_id
        self.siblings = siblings
        """The other tasks' accepted outputs by id, read when an answer is judged."""
        self.max_reasks = run.config.max_reasks
        self.taint = Taint()
        self.taint.add_trusted(spec.system_prompt, *trusted)
        self.taint.add_untrusted(*untrusted)
        self.sources: list[str] = [*trusted, *untrusted]
        self.verdicts: list[Verdict] = []
        self._approve = approve
        self._checked: dict[tuple[str, str], tuple[Any, str, tuple[str, ...], tuple[str, ...]]] = {}
        self._guard = run.agent_guard(spec)

    async def authorize(self, name: str, tool: Tool | None, arguments: str) -> str | None:
        try:
            parsed: Any = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            parsed = arguments
        check = self.run.gate.check(
            agent=self.spec.name,
            card_tools=self.spec.tools,
            card_scopes=self.spec.scopes,
            tool=name,
            known=tool is not None,
            needs=tool.scopes if tool else (),
            side_effects=tool.side_effects if tool else False,
            carries_untrusted=(
                self.taint.carried_by_argument(parsed, tool.content_args)
                if tool and tool.side_effects
                else {}
            ),
            content_args=tool.content_args if tool else (),
            card_untrusted_to=self.spec.allow_untrusted_to,
        )
        decision, reason = check.decision, check.reason
        if decision == "allowed" and tool is not None and _writes_memory(tool):
            refused = self._guard_memory_note(parsed)
            if refused:
                decision, reason = "denied", refused
        if decision == "needs_approval":
            decision, reason = self._ask_human(name, arguments)
        if decision in ("allowed", "approved"):
            self._checked[(name, arguments)] = (decision, reason, check.needed, check.granted)
            return None  # the event is written once the call has run (see observe)
        self.run.emit(
            ToolCalled(
                run_id=self.run.run_id,
                task_id=self.task_id,
                agent=self.spec.name,
                tool=name,
                decision=decision,
                reason=reason,
                needed=check.needed,
                granted=check.granted,
                arguments=arguments[:ARGUMENT_PREVIEW_CHARS],
            )
        )
        return reason

    def _guard_memory_note(self, arguments: Any) -> str | None:
        """An agent's note to shared memory is its output too: it passes the agent's guard."""
        text = arguments.get("text") if isinstance(arguments, Mapping) else None
        if not isinstance(text, str):
            return None  # the tool's own argument check will refuse it
        verdict, _ = self._guard.check(
            text,
            target="task",
            subject=self.task_id,
            agent=self.spec.name,
            metadata=self._metadata(),
        )
        self.verdicts.append(verdict)
        self.run.emit(guard_event(self.run.run_id, verdict))
        if verdict.action in ("pass", "noted"):
            return None
        return (
            f"the note was refused by the output guard ({verdict.message}); write it without that"
        )

    def _metadata(self) -> dict[str, Any]:
        return {
            "system_prompt": self.spec.system_prompt,
            "sources": self.sources,
            "agents": tuple(n for n in self.run.directive_targets if n != self.spec.name),
            # What this task was told when an answer was refused: a small model echoes it back,
            # whole or its start ("no_debris: the output is a broken fragment of JSON:").
            "fences": (*PROMPT_FENCES, *(e for v in self.verdicts for e in _refusal_echoes(v))),
            "siblings": {k: v for k, v in self.siblings().items() if k != self.task_id},
        }

    def _ask_human(self, tool: str, arguments: str) -> tuple[Any, str]:
        approve = self._approve
        if approve is None or self.run.config.escalation != "human":
            return "denied", (
                f"{tool!r} needs a human's approval and none is asked in this run "
                '(`[policies] escalation = "fail"`)'
            )
        digest = hashlib.sha256(f"{self.task_id}|{tool}|{arguments}".encode()).hexdigest()[:12]
        escalation_id = f"approval-{self.task_id}-{digest}"
        decided = self.run.decided.get(escalation_id)
        if decided is None:
            decided = self._asked(approve, escalation_id, tool, arguments)
            self.run.decided[escalation_id] = decided
        if decided.decision is Decision.APPROVE:
            return "approved", "a human approved the call"
        note = decided.message
        return "rejected", "a human rejected the call: do without it" + (
            f" (they say: {note})" if note else ""
        )

    def _asked(
        self,
        approve: Callable[[dict[str, Any]], Any],
        escalation_id: str,
        tool: str,
        arguments: str,
    ) -> HumanAnswer:
        """The human's decision on a call (a LangGraph interrupt through `approve`)."""
        shown = _SECRETS.redact(arguments)  # stored with the run; the human sees whom it is for
        question = call_question(self.spec.name, self.task_id, tool, shown)
        self.run.raise_escalation(
            EscalationRaised(
                run_id=self.run.run_id,
                escalation_id=escalation_id,
                reason="approval",
                task_id=self.task_id,
                agent=self.spec.name,
                question=question,
            )
        )
        answer = answer_to(
            approve,
            {
                "id": escalation_id,
                "reason": "approval",
                "task_id": self.task_id,
                "agent": self.spec.name,
                "question": question,
                "tool": tool,
                "arguments": shown,
            },
        )
        return recorded_answer(answer, "approval", self.task_id)

    def observe(self, tool: Tool, use: ToolUse) -> None:
        if use.ok and not _writes_memory(tool):
            # External results and memory reads alike are data from outside the run's control.
            self.taint.add_untrusted(use.result)
            self.sources.append(use.result)
        decision, reason, needed, granted = self._checked.pop(
            (tool.name, use.arguments), ("allowed", "scopes granted", (), ())
        )
        self.run.emit(
            ToolCalled(
                run_id=self.run.run_id,
                task_id=self.task_id,
                agent=self.spec.name,
                tool=tool.name,
                decision=decision,
                reason=reason,
                needed=needed,
                granted=granted,
                arguments=use.arguments[:ARGUMENT_PREVIEW_CHARS],
                ok=use.ok,
            )
        )

    def review(self, text: str, attempt: int) -> Review:
        verdict, output = self._guard.check(
            text,
            target="task",
            subject=self.task_id,
            agent=self.spec.name,
            metadata=self._metadata(),
            attempt=attempt,
        )
        self.verdicts.append(verdict)
        self.run.emit(guard_event(self.run.run_id, verdict))
        if verdict.passed and output is not None:
            self.run.accepted[self.task_id] = output
        return Review(verdict=verdict, output=output)


def _refusal_echoes(verdict: Verdict) -> tuple[str, ...]:
    """The starts of what a refused answer was told, with and without the validator's name."""
    if verdict.passed:
        return ()
    return tuple(
        t[:40] for f in verdict.failures for t in (f"{f.validator}: {f.message}", f.message)
    )


def _writes_memory(tool: Tool) -> bool:
    return not tool.external and "memory:write" in tool.scopes
