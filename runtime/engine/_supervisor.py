"""The supervisor on LangGraph: plan → dispatch → tasks → review → synthesise, every task checkpointed.

Why the functional API: a LangGraph `@task` call starts at once and its result is written to
the checkpoint as soon as it finishes, with no superstep barrier between siblings. Every task of
a plan is *called* up front, in a fixed topological order, and waits inside its own body for its
inputs. Two things follow:
- dispatch is dependency-driven: a task starts the moment its inputs are done;
- replay is exact: LangGraph identifies a task call by its position in the call sequence, and
  that sequence depends only on the plan, never on which task happened to finish first. So on
  resume every finished task returns its checkpointed result instead of running again.
Re-planning waits until the tasks already under way have settled (failed inputs make their
dependents skip at once), so that each re-plan sees the same results in a replay.

This module binds the run to LangGraph and reads as the algorithm; each step lives in a
module of its own beside it (`_planning`, `_dispatch`, `_attempts`, `_review`, `_escalation`,
`_synthesis`, `_results`), one concept each.
"""

from __future__ import annotations

from typing import Any, assert_never

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.func import entrypoint, task
from langgraph.pregel import Pregel

from podium.policies import BudgetExceeded

from ..models._model import Purpose
from ..models._usage import Usage
from . import _dispatch, _planning, _synthesis
from ._context import GraphTasks, Progress, RunContext
from ._dispatch import dispatch_round
from ._escalation import escalate_refusals
from ._plan import Plan, Task
from ._planning import Declined, announce_plan, make_plan
from ._result import RunErrorKind, RunResult
from ._results import run_result
from ._review import Finish, Replan, replan, review
from ._synthesis import Answer, final_answer


def build_supervisor(
    ctx: RunContext, checkpointer: BaseCheckpointSaver[Any]
) -> Pregel[Any, Any, Any, Any]:
    """The run's LangGraph workflow, bound to this run's context.

    The names of the entrypoint and its three tasks, and the order the steps call them in, are
    what LangGraph knows a checkpointed call by: runs stored by earlier versions resume only
    while they stay as they are (a task's name is its function's). Each task's value is its
    typed outcome's JSON."""

    @task
    async def plan_step(
        revision: int, rejected: list[list[Any]], current: dict[str, Any] | None, purpose: Purpose
    ) -> dict[str, Any]:
        outcome = await _planning.plan_step(ctx, rejected, current, purpose)
        return outcome.model_dump(mode="json")

    @task
    async def run_task(epoch: int, task_data: dict[str, Any]) -> dict[str, Any]:
        result = await _dispatch.run_task(ctx, epoch, Task.model_validate(task_data))
        return result.model_dump(mode="json")

    @task
    async def synthesise(plan_data: dict[str, Any], feedback: str = "") -> dict[str, Any]:
        answer = await _synthesis.synthesise(ctx, Plan.model_validate(plan_data), feedback)
        return answer.model_dump(mode="json")

    tasks = GraphTasks(plan_step=plan_step, run_task=run_task, synthesise=synthesise)

    @entrypoint(checkpointer=checkpointer)
    async def supervisor(goal: str) -> dict[str, Any]:  # its name is the graph node's
        ctx.result = await run(ctx, tasks, goal)
        return ctx.result.model_dump(mode="json")  # the checkpoint's copy: plain JSON

    return supervisor


async def run(ctx: RunContext, tasks: GraphTasks, goal: str) -> RunResult:
    """One run: plan, dispatch and review until the plan settles, then the answer."""
    ctx.goal = goal
    ctx.results.clear()
    ctx.spent = Usage()
    ctx.progress = None
    try:
        first = await make_plan(ctx, tasks, 0, None, "plan")
    except BudgetExceeded as exc:
        return run_result(ctx, "budget_exceeded", error=str(exc), error_kind=RunErrorKind.BUDGET)
    if isinstance(first, Declined):
        return run_result(ctx, "failed", error=first.error, error_kind=RunErrorKind.PLAN)
    announce_plan(ctx, first)
    ctx.progress = progress = Progress(plan=first)
    finish = await _until_settled(ctx, tasks, progress)
    if finish.status == "completed":
        answer = await final_answer(ctx, tasks, progress)
    else:
        answer = Answer(finish.status, None, finish.error, finish.kind)
    return run_result(
        ctx,
        answer.status,
        answer=answer.text,
        error=answer.error,
        error_kind=answer.kind,
    )


async def _until_settled(ctx: RunContext, tasks: GraphTasks, progress: Progress) -> Finish:
    """Dispatch rounds until review finishes the run: each round runs what is not yet done,
    refusals go to a human, and review re-plans what failed (or grows a completed plan)."""
    resumed_by_human = False
    while True:
        await dispatch_round(ctx, tasks, progress, keep_failed=resumed_by_human)
        # A refusal with on_fail=exception goes to a human before anything else.
        if escalate_refusals(ctx, progress.plan, exceptions_only=True):
            resumed_by_human = True
            continue  # run what waited on the approved outputs
        decision = review(ctx, progress)
        resumed_by_human = False
        match decision:
            case Finish(status="failed") if escalate_refusals(
                ctx, progress.plan, exceptions_only=False
            ):
                resumed_by_human = True  # the last rung: a human approved or edited
            case Finish():
                return decision
            case Replan():
                finish = await replan(ctx, tasks, progress, decision)
                if finish is not None:
                    return finish
            case _:
                assert_never(decision)
