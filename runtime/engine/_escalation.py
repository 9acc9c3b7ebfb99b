"""Human escalation: what a run asks a person, and the one vocabulary of their answers.

A run asks about three things (`Escalation.reason`): a tool call that needs approval (asked by
the tool gate, `_policy.TaskPolicy`), an output its guard refused (a task's or the final
answer, asked here), and the planner's question about the goal (clarify, asked here). Every
answer is a `HumanAnswer` whose `Decision` is one of approve | edit | reject | instruct |
answer; `decisions_for` says which ones each escalation takes. Every interface builds that
answer (the Python API's `resume(answers=...)`, `podium approve`, the chat, the HTTP body of
POST /runs/{id}/escalations/{esc_id}, the web page through it) and `Podium.check_answers`
refuses, with `parse_answer`, one that does not fit before the run resumes (AnswerError).

Every interface shows an escalation the same way: `summary` says what it is about in a
person's words (a tool call as its fields, an email as To / Subject / Body; a refused output and
why; the planner's question), `answer_commands` the exact `podium approve` lines that answer it,
and `decided` what an answer does once given (the `EscalationAnswered` event, in the audit log).

An escalation pauses the run (checkpointed) until a human answers it by id; the entrypoint then
replays to the same point and the interrupt returns the answer (`recorded_answer`), but only
to the question it was given for (`answer_to`). Each escalation is asked once per pass of the
entrypoint (`RunContext.asked`).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, assert_never

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from .._errors import AnswerError
from ._events import EscalationAnswered, EscalationRaised
from ._plan import Plan, Task
from ._result import (
    Decision as Decision,  # defined with the run's data: events carry it
    Escalation,
    EscalationReason,
    TaskResult,
)

if TYPE_CHECKING:
    from ._context import RunContext  # imports the tool gate (`_policy`), which reads answers here


_NEEDS: Mapping[Decision, tuple[str, str]] = {
    Decision.EDIT: ("output", "the text to use instead"),
    Decision.INSTRUCT: ("instructions", "what to add to the task's instruction"),
    Decision.ANSWER: ("text", "the reply to the question"),
}
_HOW: Mapping[Decision, str] = {
    Decision.APPROVE: "approve",
    Decision.EDIT: "edit with `output` (--edit TEXT)",
    Decision.REJECT: "reject",
    Decision.INSTRUCT: "instruct with `instructions` (--instruct TEXT)",
    Decision.ANSWER: "answer with `text` (--answer TEXT)",
}
_ASKS: Mapping[str, str] = {
    "approval": "to approve a tool call",
    "guard": "about an output its guard refused",
    "clarify": "the planner's question",
}
RECORDED_APPROVALS = frozenset({"approved", "yes", "true"})
"""Words older code took for "approve" at a tool call: still read so in stored checkpoints."""


def decisions_for(reason: str, task_id: str | None = None) -> tuple[Decision, ...]:
    """The decisions an escalation takes: a refused task output can also be edited or sent back
    with instructions; a refused final answer can be edited (it is no task to run again); the
    planner's question is answered or rejected; a tool call is approved or rejected."""
    if reason == "clarify":
        return (Decision.ANSWER, Decision.REJECT)
    if reason == "guard":
        edit = (Decision.APPROVE, Decision.EDIT, Decision.REJECT)
        return (*edit, Decision.INSTRUCT) if task_id else edit
    return (Decision.APPROVE, Decision.REJECT)


def how_to_answer(reason: str, task_id: str | None = None) -> str:
    """What an escalation takes, in words every interface can show."""
    return "it takes: " + "; ".join(_HOW[d] for d in decisions_for(reason, task_id))


_FLAG: Mapping[Decision, str] = {
    Decision.APPROVE: "",
    Decision.REJECT: " --reject",
    Decision.EDIT: " --edit TEXT",
    Decision.INSTRUCT: " --instruct TEXT",
    Decision.ANSWER: " --answer TEXT",
}


def answer_commands(run_id: str, escalation: Escalation) -> list[tuple[Decision, str]]:
    """The `podium approve` line of each decision the escalation takes, its ids filled in."""
    base = f"podium approve {shlex.quote(run_id)} {shlex.quote(escalation.id)}"
    return [(d, base + _FLAG[d]) for d in decisions_for(escalation.reason, escalation.task_id)]


class SummaryField(BaseModel):
    """One labelled part of what an escalation is about ("To", "Body", "Refused output")."""

    model_config = ConfigDict(frozen=True)

    label: str
    text: str


class EscalationSummary(BaseModel):
    """What an escalation is about, in a person's words: the same on every interface."""

    model_config = ConfigDict(frozen=True)

    headline: str
    """One sentence: who asks what ("Agent 'mailer' (task 'send') wants to send this email")."""
    fields: tuple[SummaryField, ...] = ()
    """What is to be judged, part by part, each text whole (an email's body with its lines)."""


_EMAIL_FIELDS = (("to", "To"), ("subject", "Subject"), ("body", "Body"))


def summary(escalation: Escalation) -> EscalationSummary:
    """`escalation` as a person reads it (see `EscalationSummary`)."""
    payload, who = escalation.payload, _who(escalation)
    if escalation.reason == "approval":
        tool = escalation.tool or "a tool"
        arguments = _arguments(payload.get("arguments"))
        if isinstance(arguments, Mapping) and {"to", "body"} <= set(arguments):
            fields = [
                SummaryField(label=lb, text=str(arguments.get(k, ""))) for k, lb in _EMAIL_FIELDS
            ]
            return EscalationSummary(
                headline=f"{who} wants to send this email", fields=tuple(fields)
            )
        if isinstance(arguments, Mapping):
            fields = [SummaryField(label=str(k), text=_text(v)) for k, v in arguments.items()]
        else:
            fields = [SummaryField(label="arguments", text=str(arguments))]
        return EscalationSummary(headline=f"{who} wants to call {tool!r}", fields=tuple(fields))
    if escalation.reason == "guard":
        whose = f"the output of {who.lower()}" if escalation.task_id else "the run's final answer"
        reasons = payload.get("reasons") or [escalation.question]
        return EscalationSummary(
            headline=f"A guard refused {whose}",
            fields=(
                SummaryField(label="Refused output", text=str(payload.get("output", ""))),
                SummaryField(label="Why", text="\n".join(str(r) for r in reasons)),
            ),
        )
    if escalation.reason == "clarify":
        return EscalationSummary(
            headline="The planner asks about the goal before it plans",
            fields=(SummaryField(label="Question", text=escalation.question),),
        )
    return EscalationSummary(
        headline="The run asks",
        fields=(SummaryField(label="Question", text=escalation.question),),
    )


def _who(escalation: Escalation) -> str:
    if escalation.agent and escalation.task_id:
        return f"Agent {escalation.agent!r} (task {escalation.task_id!r})"
    return f"Task {escalation.task_id!r}" if escalation.task_id else "The run"


def _arguments(raw: Any) -> Any:
    """A tool call's arguments as data: kept as JSON text in the payload."""
    if not isinstance(raw, str):
        return raw if raw is not None else {}
    try:
        return json.loads(raw)
    except ValueError:  # cut or not JSON at all: shown as it is
        return raw


def call_question(agent: str, task_id: str, tool: str, arguments: str, limit: int = 400) -> str:
    """An approval's question in a line a person reads (events, logs, `Escalation.question`):
    who wants to call what, then each argument as "name: value", line breaks folded, cut at
    `limit` with a marker. The arguments stay whole in the payload (`summary` shows them)."""
    data = _arguments(arguments)
    shown = (
        "; ".join(f"{k}: {_text(v)}" for k, v in data.items())
        if isinstance(data, Mapping)
        else _text(data)
    )
    flat = " ".join(shown.split())
    if len(flat) > limit:
        flat = f"{flat[:limit].rstrip()}… (+{len(flat) - limit} chars)"
    return f"Agent {agent!r} (task {task_id!r}) wants to call {tool!r}: {flat}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def decided(answer: HumanAnswer, reason: str, *, tool: str | None = None) -> str:
    """What `answer` does, in a line: the `EscalationAnswered` event's words everywhere."""
    subject = f"the call of {tool!r}" if tool else "the call"
    match answer.decision:
        case Decision.APPROVE if reason == "approval":
            return f"approved: {subject} is made"
        case Decision.APPROVE:
            return "approved: the refused output is kept as it is"
        case Decision.REJECT if reason == "approval":
            told = f" (told: {answer.message})" if answer.message else ""
            return f"rejected: {subject} is not made and the agent is told to do without it{told}"
        case Decision.REJECT if reason == "clarify":
            return "rejected: the planner's question is declined"
        case Decision.REJECT:
            return "rejected: the refused output is dropped"
        case Decision.EDIT:
            return "edited: your text is used instead of the refused output"
        case Decision.INSTRUCT:
            return "instructed: the task runs again with your instructions added"
        case Decision.ANSWER:
            return "answered: the planner plans with your answer"
    assert_never(answer.decision)


def answered_event(run_id: str, escalation: Escalation, answer: HumanAnswer) -> EscalationAnswered:
    """The audit record of a person's answer (sent once, as the answered run resumes)."""
    tool = escalation.tool
    return EscalationAnswered(
        run_id=run_id,
        escalation_id=escalation.id,
        reason=escalation.reason,
        task_id=escalation.task_id,
        agent=escalation.agent,
        tool=tool,
        decision=answer.decision,
        output=answer.output,
        instructions=answer.instructions,
        text=answer.text,
        message=answer.message,
        effect=decided(answer, escalation.reason, tool=tool),
    )


class HumanAnswer(BaseModel):
    """A person's answer to one escalation: the shape every interface sends (the body of
    POST /runs/{id}/escalations/{esc_id}, what `podium approve` and the chat build, a value of
    `Podium.resume(run_id, answers={esc_id: ...})`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision: Decision
    output: str | None = None
    """With edit: the text to use instead of the refused output."""
    instructions: str | None = None
    """With instruct: what to add to the task's instruction before it runs again."""
    text: str | None = None
    """With answer: the reply to the planner's question."""
    message: str | None = None
    """With reject: why, told to the agent whose tool call was refused."""

    @field_validator("decision", mode="before")
    @classmethod
    def _known(cls, value: Any) -> Any:
        word = value.strip().lower() if isinstance(value, str) else value
        if word not in tuple(Decision):
            raise ValueError(f"unknown decision {value!r}: the decisions are {', '.join(Decision)}")
        return word

    @field_validator("instructions", "text")
    @classmethod
    def _stripped(cls, value: str | None) -> str | None:
        return None if value is None else value.strip()

    @model_validator(mode="after")
    def _complete(self) -> HumanAnswer:
        if self.decision in _NEEDS:
            name, what = _NEEDS[self.decision]
            value = getattr(self, name)
            if value is None or (name != "output" and not value):
                raise ValueError(f'the decision "{self.decision}" needs `{name}`: {what}')
        return self

    def accepted_output(self, refused: str) -> str | None:
        """The output to keep after a refusal: `refused` approved, the edit, or None."""
        if self.decision is Decision.APPROVE:
            return refused
        return self.output if self.decision is Decision.EDIT else None

    def as_resume(self) -> dict[str, Any]:
        """The value the run's interrupt returns (kept in its checkpoint)."""
        return self.model_dump(mode="json", exclude_none=True)


def parse_answer(value: Any, escalation: Escalation) -> HumanAnswer:
    """Read `value` as an answer to `escalation`, or AnswerError saying how to answer it.

    Takes a HumanAnswer, its mapping ({"decision": "edit", "output": ...}) or a bare decision
    ("approve", "reject"); the planner's question takes its answer's text bare as well."""
    where = f"escalation {escalation.id!r}"
    how = how_to_answer(escalation.reason, escalation.task_id)
    try:
        answer = _read(value, clarify=escalation.reason == "clarify")
    except ValidationError as exc:
        raise AnswerError(f"{where}: {_problem(exc)}; {how}") from None
    except ValueError as exc:
        raise AnswerError(f"{where}: {exc}; {how}") from None
    if answer.decision not in decisions_for(escalation.reason, escalation.task_id):
        asks = _ASKS.get(escalation.reason, "for a decision")
        raise AnswerError(f'{where} asks {asks}: "{answer.decision}" does not answer it; {how}')
    return answer


def _problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    if error["type"] == "extra_forbidden":
        fields = ", ".join(HumanAnswer.model_fields)
        return f"unknown field {error['loc'][-1]!r} (an answer has {fields})"
    return str(error["msg"]).removeprefix("Value error, ")


def _read(value: Any, *, clarify: bool) -> HumanAnswer:
    if isinstance(value, HumanAnswer):
        return value
    if isinstance(value, Mapping):
        return HumanAnswer.model_validate(dict(value))
    if not isinstance(value, str):
        raise ValueError(f"an answer is a decision or a mapping, not {type(value).__name__}")
    if value.strip().lower() in tuple(Decision) or not clarify:
        return HumanAnswer.model_validate({"decision": value})
    return HumanAnswer(decision=Decision.ANSWER, text=value)


def resume_value(escalation_id: str, answer: Mapping[str, Any]) -> dict[str, Any]:
    """What the run's interrupt returns for `escalation_id` on resume: the answer, with the
    question it answers (see `answer_to`)."""
    return {"escalation": escalation_id, "answer": dict(answer)}


def answer_to(ask: Callable[[dict[str, Any]], Any], question: dict[str, Any]) -> Any:
    """Ask `question` (its "id" an escalation id) through `ask`, a LangGraph interrupt, and
    return the answer given to this very question.

    LangGraph hands a task's answers back by position: on a resume, the first interrupt a task
    makes gets the first answer. A task that runs again may ask something else in that place (a
    model that drafts another email than the one a person approved), so each answer names its
    question (`resume_value`) and one given for another is passed over: the next interrupt then
    finds no answer and pauses the run with this question. A bare answer (no name) is taken."""
    while True:
        value = ask(question)
        if not (isinstance(value, Mapping) and set(value) == {"escalation", "answer"}):
            return value
        if value["escalation"] == question["id"]:
            return value["answer"]


def recorded_answer(
    value: Any, reason: EscalationReason, task_id: str | None = None
) -> HumanAnswer:
    """The answer an interrupt returned, as the run reads it. `Podium.aresume` checked it with
    `parse_answer`, so it reads as it was sent; one that check refuses was kept in a checkpoint
    by older code, which took `RECORDED_APPROVALS` for approve and anything else for a refusal."""
    escalation = Escalation(id="recorded", reason=reason, question="", task_id=task_id)
    try:
        return parse_answer(value, escalation)
    except AnswerError:
        if reason == "approval" and str(value).strip().lower() in RECORDED_APPROVALS:
            return HumanAnswer(decision=Decision.APPROVE)
        return HumanAnswer(decision=Decision.REJECT)


def ask_human(
    ctx: RunContext,
    escalation_id: str,
    question: str,
    *,
    output: str,
    task: Task | None = None,
    reasons: Sequence[str] = (),
) -> HumanAnswer | None:
    """Ask a human to judge a refused `output` (a LangGraph interrupt: the run pauses,
    checkpointed, until they answer), or None when `[policies] escalation = "fail"` or it was
    already asked in this pass. `reasons`: why the guard refused it, one line each (shown)."""
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
    from langgraph.types import interrupt  # here: `podium run` checks a goal without LangGraph

    answer = answer_to(
        interrupt,
        {
            "id": escalation_id,
            "reason": "guard",
            "question": question,
            "task_id": task.id if task else None,
            "agent": task.agent if task else None,
            "output": output,
            "reasons": list(reasons),
        },
    )
    return recorded_answer(answer, "guard", task.id if task else None)


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
    from langgraph.types import interrupt  # here: `podium run` checks a goal without LangGraph

    answer = answer_to(
        interrupt,
        {
            "id": escalation_id,
            "reason": "clarify",
            "question": question,
            "task_id": None,
            "agent": None,
        },
    )
    reply = recorded_answer(answer, "clarify")
    return reply.text if reply.decision is Decision.ANSWER else None


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
        if answer is None:
            continue
        kept = answer.accepted_output(r.rejected_output or "")
        if answer.decision is Decision.INSTRUCT:
            ctx.human_notes[t.id] = answer.instructions or ""
            del ctx.results[t.id]  # runs again, with the note (see `_dispatch.run_task`)
            accepted = True
        elif kept is not None:
            ctx.results[t.id] = r.model_copy(
                update={
                    "status": "completed",
                    "output": kept,
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
        reasons=[f.message for f in refused.failures] if refused else [reason],
    )
