"""Replay after resume: what a checkpointed step restores besides its value (spending, events).

On resume LangGraph returns a finished task call's checkpointed value instead of running its
body. The run still counts what that work spent against its budget and announces it, so a
resumed run's budget, routing memory, verdicts and event stream read as if it never stopped.
"""

from __future__ import annotations

from ._context import PlanStepOutcome, RunContext
from ._events import TaskCompleted, TaskFailed, TaskSkipped
from ._policy import guard_event
from ._result import TaskResult


def restored_plan_step(ctx: RunContext, outcome: PlanStepOutcome) -> None:
    """A plan step that came from a checkpoint: count what it spent, keep its verdicts."""
    used = outcome.usage
    ctx.budget.add(usd=used.cost_usd, tokens=used.total_tokens, calls=used.calls)
    for verdict in outcome.verdicts:
        ctx.policies.verdicts.append(verdict)
        ctx.emit(guard_event(ctx.run_id, verdict))


def restored_task(ctx: RunContext, r: TaskResult) -> None:
    """A task result that came from a checkpoint: announce it, and count what it spent."""
    ctx.budget.add(usd=r.usage.cost_usd, tokens=r.usage.total_tokens, calls=r.usage.calls)
    for route in r.routes:
        if route.outcome == "failed" and route.tier == "cheap":
            ctx.cheap_failures[r.task.agent] = ctx.cheap_failures.get(r.task.agent, 0) + 1
    if r.status == "completed":
        ctx.emit(
            TaskCompleted(
                run_id=ctx.run_id,
                task_id=r.task.id,
                agent=r.task.agent,
                output=r.output or "",
                usage=r.usage,
                duration_s=r.duration_s,
                model=r.model,
                restored=True,
                repairs=r.repairs,
            )
        )
    elif r.status == "skipped":
        ctx.emit(TaskSkipped(run_id=ctx.run_id, task_id=r.task.id, reason=r.error or ""))
    else:
        ctx.emit(
            TaskFailed(
                run_id=ctx.run_id,
                task_id=r.task.id,
                agent=r.task.agent,
                error=r.error or "",
                attempt=r.attempts,
                will_retry=False,
            )
        )
