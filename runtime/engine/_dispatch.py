"""Dispatch: every task of a plan is called at once and starts the moment its inputs are done.

Each task of a round is *called* up front, in the plan's topological order, and waits inside
its own body for its inputs (`RunContext.outcomes`). The call order depends only on the plan,
never on which task finished first, so a replay meets every checkpointed call where it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from langgraph.errors import GraphInterrupt

from ._attempts import attempt_task
from ._context import GraphTasks, Progress, RunContext
from ._events import TaskSkipped
from ._plan import Task
from ._replay import restored_task
from ._result import FailureKind, TaskResult


async def dispatch_round(
    ctx: RunContext, tasks: GraphTasks, progress: Progress, *, keep_failed: bool = False
) -> None:
    """Run every task of the plan not yet settled (completed, and failed too with `keep_failed`)
    until all have settled; raise the GraphInterrupt of every task waiting for a human."""
    plan, epoch = progress.plan, progress.epoch
    progress.epoch += 1
    loop = asyncio.get_running_loop()
    final = ("completed", "failed") if keep_failed else ("completed",)
    done = {i for i, r in ctx.results.items() if r.status in final and i in plan.ids}
    ctx.outcomes = {}
    for task_id in done:
        ctx.outcomes[task_id] = loop.create_future()
        ctx.outcomes[task_id].set_result(ctx.results[task_id])
    todo = [t for t in plan.topological_order() if t.id not in done]
    for t in todo:
        ctx.outcomes[t.id] = loop.create_future()
    # Called in a fixed order, all at once: see the module docstring.
    calls = [(t, tasks.run_task(epoch, t.model_dump(mode="json"))) for t in todo]
    settled = await asyncio.gather(
        *(_settle(ctx, epoch, t, call) for t, call in calls), return_exceptions=True
    )
    failures = [e for e in settled if isinstance(e, BaseException)]
    others = [e for e in failures if not isinstance(e, GraphInterrupt)]
    if others:
        raise others[0]
    if failures:
        # Every task waiting for a human asks at once: the escalations are answered by id.
        raise GraphInterrupt([i for e in failures for i in e.args[0]])


async def _settle(ctx: RunContext, epoch: int, t: Task, call: Awaitable[dict[str, Any]]) -> None:
    """Await one task call and hand its result to the tasks that take it as input."""
    try:
        result = TaskResult.model_validate(await call)
    except BaseException as exc:
        outcome = ctx.outcomes[t.id]
        outcome.set_exception(exc)
        outcome.exception()  # dependents may never await it (an interrupt): no warning
        raise
    if f"{epoch}:{t.id}" not in ctx.executed:
        restored_task(ctx, result)
    ctx.results[t.id] = result
    ctx.outcomes[t.id].set_result(result)


async def run_task(ctx: RunContext, epoch: int, t: Task) -> TaskResult:
    """The body of one `run_task` task: wait for the inputs, then climb the attempt ladder
    (within the run's concurrency limit), or skip when an input failed or the budget is spent."""
    ctx.executed.add(f"{epoch}:{t.id}")
    if t.id in ctx.human_notes:
        note = ctx.human_notes[t.id]
        t = t.model_copy(
            update={"instruction": f"{t.instruction}\n\nA human reviewer adds: {note}"}
        )
    inputs = [await ctx.outcomes[i] for i in t.inputs]
    missing = [r.task.id for r in inputs if r.status != "completed"]
    if missing:
        return _skip(ctx, t, f"input(s) {missing} did not complete", FailureKind.UPSTREAM)
    spec = ctx.agents.get(t.agent)
    async with ctx.semaphore:
        if ctx.budget.stopped is not None:
            return _skip(ctx, t, str(ctx.budget.stopped), FailureKind.BUDGET)
        return await attempt_task(ctx, t, spec, {r.task.id: r.output or "" for r in inputs})


def _skip(ctx: RunContext, t: Task, reason: str, failure: FailureKind) -> TaskResult:
    ctx.emit(TaskSkipped(run_id=ctx.run_id, task_id=t.id, reason=reason))
    return TaskResult(task=t, status="skipped", error=reason, failure=failure)
