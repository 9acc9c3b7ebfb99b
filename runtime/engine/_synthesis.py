"""The run's answer: assembled from its facts, the final task's output, or a synthesis call
over the final tasks' outputs; then judged by the answer's guard, and by a human if refused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from podium.agents import mark_cut, upstream_block
from podium.policies import PASSING, BudgetExceeded, Verdict

from .._errors import PodiumError
from ..models._model import ModelRequest
from ..models._usage import Usage
from ._context import GraphTasks, Progress, RunContext, Synthesis
from ._escalation import ask_human
from ._facts import facts_answer
from ._plan import Plan
from ._result import RunErrorKind

SYNTHESIS_PROMPT = (
    "Combine the results below into one complete answer to the goal. Use only what they say."
)


@dataclass(frozen=True)
class Answer:
    """How a run whose tasks completed ends: its answer once judged, or why it has none."""

    status: Literal["completed", "failed", "budget_exceeded"]
    text: str | None
    error: str | None = None
    kind: RunErrorKind | None = None


async def final_answer(ctx: RunContext, tasks: GraphTasks, progress: Progress) -> Answer:
    """The answer to a run whose tasks all completed (`[run] synthesis`); what synthesis
    spends is counted in `ctx.spent`."""
    plan = progress.plan
    if not ctx.assemble_answer and needs_synthesis(plan, ctx.config.run.synthesis):
        return await _synthesised(ctx, tasks, progress)
    if ctx.assemble_answer:
        draft = facts_answer(ctx.goal, plan, ctx.results)
    else:
        draft = ctx.results[plan.sinks()[-1].id].output or ""  # the final task's output
    verdict, guarded = ctx.policies.check_run_output(
        "answer", draft, metadata=_answer_metadata(ctx)
    )
    return _settle(ctx, draft, verdict, guarded)


def needs_synthesis(plan: Plan, mode: Literal["auto", "model", "last_task", "facts"]) -> bool:
    """A synthesis call merges several final outputs; one final task's output is the answer as is."""
    return mode == "model" or (mode == "auto" and len(plan.sinks()) > 1)


async def _synthesised(ctx: RunContext, tasks: GraphTasks, progress: Progress) -> Answer:
    """Synthesis calls (`synthesise` tasks), re-asked with the guard's feedback up to
    `[policies] max_reasks` times."""
    max_reasks = ctx.config.policies.max_reasks
    feedback, attempt = "", 0
    while True:
        attempt += 1
        try:
            raw = await tasks.synthesise(progress.plan.model_dump(mode="json"), feedback)
        except BudgetExceeded as exc:
            return Answer("budget_exceeded", None, str(exc), RunErrorKind.BUDGET)
        synthesis = Synthesis.model_validate(raw)
        ctx.spent += synthesis.usage
        if synthesis.error:
            return Answer("failed", synthesis.answer, synthesis.error, RunErrorKind.ANSWER)
        answer = synthesis.answer or ""
        verdict, guarded = ctx.policies.check_run_output(
            "answer", answer, metadata=_answer_metadata(ctx), attempt=attempt
        )
        if verdict.action != "reask" or attempt > max_reasks:
            return _settle(ctx, answer, verdict, guarded)
        feedback = verdict.message


def _answer_metadata(ctx: RunContext) -> dict[str, Any]:
    return {"system_prompts": [s.system_prompt for s in ctx.agents.specs()] + [SYNTHESIS_PROMPT]}


def _settle(ctx: RunContext, answer: str, verdict: Verdict, guarded: str | None) -> Answer:
    """The answer after its guard: as is, fixed, judged by a human, or refused."""
    if verdict.action in PASSING and guarded is not None:
        return Answer("completed", guarded)
    decision = ask_human(
        ctx,
        "guard-answer",
        f"The final answer was refused by its guard ({verdict.message}). Approve it, edit it, or reject it.",
        output=answer,
        reasons=[f.message for f in verdict.failures],
    )
    kept = decision.accepted_output(answer) if decision is not None else None
    if kept is not None:
        return Answer("completed", kept)
    error = f"the final answer was refused by its guard: {verdict.message}"
    return Answer("failed", None, error, RunErrorKind.ANSWER)


async def synthesise(ctx: RunContext, plan: Plan, feedback: str = "") -> Synthesis:
    """The body of one `synthesise` task: one frontier call over the final tasks' outputs."""
    sinks = plan.sinks()
    parts = "\n\n".join(
        upstream_block(
            "result",
            f"task={t.id!r} agent={t.agent!r}",
            ctx.results[t.id].output or "",
            untrusted=ctx.results[t.id].tainted,
        )
        for t in sinks
    )
    retry = (
        [
            {
                "role": "user",
                "content": f"Your previous answer was not accepted: {feedback}. Answer again.",
            }
        ]
        if feedback
        else []
    )
    request = ModelRequest(
        tier="frontier",
        messages=(
            {"role": "system", "content": SYNTHESIS_PROMPT},
            {"role": "user", "content": f"Goal: {ctx.goal}\n\n{parts}"},
            *retry,
        ),
        purpose="synthesis",
        run_id=ctx.run_id,
    )
    try:
        response = await ctx.seam.complete(request)
    except BudgetExceeded:
        raise  # a signal for the run (it ends budget_exceeded), not a failed synthesis
    except PodiumError as exc:
        return Synthesis(answer=None, usage=Usage(), error=f"synthesis failed: {exc.message}")
    answer = response.message.content or ""
    return Synthesis(
        answer=mark_cut(answer) if response.cut and answer else answer,
        usage=response.usage,
        error=None,
    )
