"""The ladder's last rung: a human, asked through a LangGraph interrupt, and their answers.

An escalation pauses the run (checkpointed) until a human answers it by id; the entrypoint then
replays to the same point and the interrupt returns the answer. Each escalation is asked once
per pass of the entrypoint (`RunContext.asked`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langgraph.types import interrupt

from ._context import RunContext
from ._events import EscalationRaised
from ._plan import Plan, Task
from ._result import TaskResult


@dataclass(frozen=True)
class HumanAnswer:
    """A human's answer to a refused output: approve keeps `text` (the output), edit replaces
    it, reject drops it, instruct runs the task again with `text` added to its instruction."""

    decision: str
    text: str

    @property
    def accepts(self) -> bool:
        return self.decision in ("approve", "edit")


def parse_answer(answer: Any, output: str) -> HumanAnswer:
    """Read a human's answer to a refused `output`.

    Accepts "approve" / "reject", or {"decision": ..., "output": ..., "instructions": ...}."""
    if isinstance(answer, Mapping):
        decision = str(answer.get("decision", "reject")).lower()
        if decision == "instruct":
            return HumanAnswer("instruct", str(answer.get("instructions") or ""))
        edited = answer.get("output")
        if isinstance(edited, str) and decision in ("edit", "approve") and edited != output:
            return HumanAnswer("edit", edited)
        return HumanAnswer(decision, output)
    return HumanAnswer(str(answer).lower(), output)


def parse_clarification(answer: Any) -> str | None:
    """A human's answer to the planner's question: its text, or None when they rejected it.

    Accepts the text itself, {"decision": "answer", "text": ...}, or "reject" /
    {"decision": "reject"}. Raises ValueError, saying how to answer, for anything else."""
    how = 'answer it with text ({"decision": "answer", "text": ...}, `--answer TEXT`) or reject it'
    if isinstance(answer, Mapping):
        decision = str(answer.get("decision", "")).strip().lower()
        if decision == "reject":
            return None
        if decision != "answer":
            raise ValueError(
                f"the planner asked a question, decision {decision!r} does not answer it: {how}"
            )
        answer = answer.get("text")
    if not isinstance(answer, str):
        raise ValueError(f"the answer to the planner's question must be text: {how}")
    text = answer.strip()
    if text.lower() == "reject":
        return None
    if not text:
        raise ValueError(f"the answer to the planner's question is empty: {how}")
    if text.lower() in ("approve", "edit", "instruct"):
        raise ValueError(f"{text!r} does not answer the planner's question: {how}")
    return text


def ask_human(
    ctx: RunContext, escalation_id: str, question: str, *, output: str, task: Task | None = None
) -> HumanAnswer | None:
    """Ask a human to judge a refused `output` (a LangGraph interrupt: the run pauses,
    checkpointed, until they answer), or None when `[policies] escalation = "fail"` or it was
    already asked in this pass."""
    if ctx.config.policies.escalation != "human" or escalation_id in ctx.asked:
        return None
    ctx.asked.add(escalation_id)
    ctx.policies.raise_escalation(
        EscalationRaised(
            run_id=ctx.run_id,
            escalation_id=escalation_id,
            reason="guard",
            task_id=task.id if task else None,
            agent=task.agent if task else None,
            question=question,
        )
    )
    answer = interrupt(
        {
            "id": escalation_id,
            "reason": "guard",
            "question": question,
            "task_id": task.id if task else None,
            "agent": task.agent if task else None,
            "output": output,
        }
    )
    return parse_answer(answer, output)


def ask_clarification(ctx: RunContext, question: str) -> str | None:
    """Put the planner's question to the human (a `clarify` escalation, a LangGraph interrupt);
    their answer's text, or None when they rejected the question."""
    escalation_id = f"clarify-{len(ctx.clarifications) + 1}"
    ctx.asked.add(escalation_id)
    ctx.policies.raise_escalation(
        EscalationRaised(
            run_id=ctx.run_id, escalation_id=escalation_id, reason="clarify", question=question
        )
    )
    answer = interrupt(
        {
            "id": escalation_id,
            "reason": "clarify",
            "question": question,
            "task_id": None,
            "agent": None,
        }
    )
    try:
        return parse_clarification(answer)
    except ValueError:
        return None  # `Podium.aresume` checks answers first: only a hand-made resume gets here


def escalate_refusals(ctx: RunContext, plan: Plan, *, exceptions_only: bool) -> bool:
    """Ask a human about each task whose output a guard refused; True when one was accepted
    (approved, edited, or to run again with their instructions)."""
    accepted = False
    for t in plan.tasks:
        r = ctx.results.get(t.id)
        if r is None or r.status != "failed" or r.guard is None:
            continue
        if exceptions_only and r.guard != "exception":
            continue
        answer = _ask_about_refusal(ctx, t, r)
        if answer is not None and answer.decision == "instruct":
            ctx.human_notes[t.id] = answer.text
            del ctx.results[t.id]  # runs again, with the note (see `_dispatch.run_task`)
            accepted = True
        elif answer is not None and answer.accepts:
            ctx.results[t.id] = r.model_copy(
                update={
                    "status": "completed",
                    "output": answer.text,
                    "error": None,
                    "failure": None,
                    "approved_by": "human",
                }
            )
            accepted = True
    return accepted


def _ask_about_refusal(ctx: RunContext, t: Task, r: TaskResult) -> HumanAnswer | None:
    refused = next((v for v in reversed(r.verdicts) if not v.passed), None)
    reason = refused.message if refused else r.error or ""
    asked = sum(1 for a in ctx.asked if a == f"guard-{t.id}" or a.startswith(f"guard-{t.id}-"))
    return ask_human(
        ctx,
        f"guard-{t.id}" + (f"-{asked + 1}" if asked else ""),
        f"Agent {t.agent!r} (task {t.id!r}) wrote an output its guard refused ({reason}). "
        "Approve it, edit it, reject it, or give the agent instructions and run it again.",
        output=r.rejected_output or "",
        task=t,
    )
