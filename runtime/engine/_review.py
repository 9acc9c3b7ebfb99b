"""Review: once the tasks under way have settled, finish, or re-plan what failed (or, with
`[run] review = "each_round"`, let the planner grow a plan that completed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from podium.policies import BudgetExceeded

from .._errors import PlanError
from ._context import GraphTasks, Progress, RunContext
from ._events import PlanCreated, Replanned
from ._plan import Plan
from ._planning import Declined, make_plan
from ._result import FailureKind, RunErrorKind, TaskResult


@dataclass(frozen=True)
class Finish:
    status: Literal["completed", "failed", "budget_exceeded"]
    error: str | None = None
    kind: RunErrorKind | None = None


@dataclass(frozen=True)
class Replan:
    reason: str
    purpose: Literal["replan", "review"] = "replan"
    """replan: replace what failed; review: all done, may the plan grow before finishing?"""


Decision = Finish | Replan


def review(ctx: RunContext, progress: Progress) -> Decision:
    """What the supervisor does once the tasks under way have settled."""
    plan, results, replans_used = progress.plan, ctx.results, progress.revision
    max_replans, mode = ctx.config.planner.max_replans, ctx.config.run.review
    for r in results.values():
        if r.failure is FailureKind.BUDGET:
            return Finish("budget_exceeded", r.error, RunErrorKind.BUDGET)
    unfinished = [t.id for t in plan.tasks if results[t.id].status != "completed"]
    if not unfinished:
        if mode == "each_round" and replans_used < max_replans:
            return Replan("review: every task has completed", purpose="review")
        return Finish("completed")
    failed = [t.id for t in plan.tasks if results[t.id].status == "failed"]
    if replans_used >= max_replans:
        why = "; ".join(f"{i}: {_why(results[i])}" for i in failed) or "inputs missing"
        return Finish(
            "failed",
            f"task(s) {', '.join(unfinished)} did not complete after {replans_used} re-plan(s) "
            f"({why}). Each task's tries and errors are in the run's details (a click on the "
            f"task, or `podium show {ctx.run_id} TASK`); try again, or give the tiers a stronger "
            "model ([models])",
            RunErrorKind.TASK,
        )
    reason = "; ".join(f"{i}: {results[i].error}" for i in failed) or "tasks did not complete"
    return Replan(reason)


def _why(r: TaskResult) -> str:
    """A failed task's reason in a person's words. Its full error (written for the planner
    that re-plans, with a guard's feedback to the model) stays in its result."""
    match r.failure:
        case FailureKind.GUARD:
            names = sorted({f.validator for v in r.verdicts for f in v.failures})
            return f"a guard refused its output ({', '.join(names) or r.guard})"
        case FailureKind.AGENT:
            return "the agent gave no usable answer within its steps"
        case FailureKind.UPSTREAM:
            return "an input it needs did not complete"
        case FailureKind.MODEL:
            return f"its model failed: {_plain(r.error)}"
        case _:
            return _plain(r.error) or "it failed"


def _plain(error: str | None) -> str:
    """An error's words without the exception's class and code ("ModelError: [model_error] the
    model is down" reads "the model is down"): those are for logs and `code`, not people."""
    return re.sub(r"^\w+(?:Error|Exception|Failed): (?:\[\w+\] )?", "", error or "")


async def replan(
    ctx: RunContext, tasks: GraphTasks, progress: Progress, decision: Replan
) -> Finish | None:
    """Revise `progress.plan` as `decision` asks; a Finish when the run ends here instead."""
    try:
        new_plan = await make_plan(
            ctx, tasks, progress.revision + 1, progress.plan, decision.purpose
        )
    except BudgetExceeded as exc:
        return Finish("budget_exceeded", str(exc), RunErrorKind.BUDGET)
    except PlanError as exc:
        # A review that cannot improve the plan leaves a completed run completed.
        if decision.purpose == "review":
            return Finish("completed")
        return Finish("failed", f"re-plan failed: {exc.message}", RunErrorKind.TASK)
    if isinstance(new_plan, Declined):  # re-plans are offered no question today
        return Finish("failed", new_plan.error, RunErrorKind.PLAN)
    if decision.purpose == "review" and set(new_plan.ids) <= set(progress.plan.ids):
        return Finish("completed")  # the reviewer added nothing: finish
    progress.revision += 1
    _announce_revision(ctx, progress.revision, decision.reason, progress.plan, new_plan)
    progress.plan = new_plan
    return None


def _announce_revision(ctx: RunContext, revision: int, reason: str, old: Plan, new: Plan) -> None:
    added = tuple(i for i in new.ids if i not in old.ids)
    removed = tuple(i for i in old.ids if i not in new.ids)
    ctx.emit(
        Replanned(run_id=ctx.run_id, revision=revision, reason=reason, added=added, removed=removed)
    )
    ctx.emit(PlanCreated(run_id=ctx.run_id, plan=new, revision=revision, repairs=ctx.plan_repairs))
