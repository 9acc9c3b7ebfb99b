"""What a run returns: its `RunResult`, built once, however the run ended or paused."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from ._context import RunContext
from ._result import Escalation, RunErrorKind, RunResult
from ._status import RunStatus


def run_result(
    ctx: RunContext,
    status: RunStatus,
    *,
    answer: str | None = None,
    error: str | None = None,
    error_kind: RunErrorKind | None = None,
    escalations: Sequence[Escalation] = (),
) -> RunResult:
    """The run's result: its plan so far, every settled task, and all it has spent so far."""
    progress = ctx.progress
    return RunResult(
        run_id=ctx.run_id,
        goal=ctx.goal,
        status=status,
        answer=answer,
        plan=progress.plan if progress else None,
        plan_revisions=progress.revision if progress else 0,
        tasks=dict(ctx.results),
        usage=ctx.usage_so_far(),
        unsettled_usage=ctx.unsettled,
        started_at=ctx.started_at,
        finished_at=time.time(),
        error=error,
        error_kind=error_kind,
        plan_cache=ctx.plan_cache,
        playbook=ctx.playbook,
        warnings=(list(ctx.memory.warnings) if ctx.memory else [])
        + (list(ctx.playbooks.problems) if ctx.playbooks else []),
        verdicts=list(ctx.policies.verdicts),
        escalations=list(escalations),
        clarifications=list(ctx.clarifications),
    )


def finished_result(ctx: RunContext, value: Mapping[str, Any]) -> RunResult:
    """What the entrypoint returned: the result it built in this process, or, when the run had
    finished before this process resumed it, the one LangGraph read back from the checkpoint."""
    return ctx.result if ctx.result is not None else RunResult.model_validate(value)


def waiting_result(ctx: RunContext, interrupts: Sequence[Any]) -> RunResult:
    """A run paused at LangGraph interrupts: what it has so far, and the questions pending."""
    escalations = []
    for pending in interrupts:
        value = (
            pending.value
            if isinstance(pending.value, Mapping)
            else {"question": str(pending.value)}
        )
        escalations.append(
            Escalation(
                id=str(value.get("id") or pending.id),
                reason=value.get("reason", "supervisor"),
                question=str(value.get("question", "")),
                task_id=value.get("task_id"),
                agent=value.get("agent"),
                payload={**value, "interrupt_id": pending.id},
            )
        )
    return run_result(ctx, "waiting_for_human", escalations=escalations)


def budget_stopped_result(ctx: RunContext, error: str) -> RunResult:
    """What a run has when its wall-time backstop fires: every settled result, no answer."""
    return run_result(ctx, "budget_exceeded", error=error, error_kind=RunErrorKind.BUDGET)
