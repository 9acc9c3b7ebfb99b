"""Plans that need no planner, or give it a template: the goal's playbook and the plan cache."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from podium.memory import PlanMatch

from ._context import PlanStepOutcome, RunContext
from ._memory import substitute_plan
from ._plan import Plan
from ._playbooks import PlaybookMatch, data_columns
from ._result import PlanCacheUse, PlaybookUse

log = logging.getLogger(__name__)


async def match_playbook(
    ctx: RunContext, agents: list[str], max_tasks: int
) -> PlaybookMatch | None:
    """The playbook for this run's goal (looked up once per run), or None."""
    if ctx.playbooks is None:
        return None
    if not ctx.playbook_looked_up:
        memory = ctx.memory
        embed = memory.store.embed if memory is not None else None
        planner = ctx.config.planner
        known = data_columns(ctx.tool_context) if ctx.fill_playbooks_from_data else None
        try:
            ctx.playbook_match = await asyncio.to_thread(
                ctx.playbooks.match,
                ctx.goal,
                embed=embed,
                agents=agents,
                max_tasks=max_tasks,
                fill_similarity=planner.playbook_fill_similarity,
                adapt_similarity=planner.playbook_adapt_similarity,
                known_values=known,
            )
        except Exception as exc:  # an aid, like memory: the planner plans without it
            log.warning("playbook matching failed, planning without it: %s", exc)
            ctx.playbook_match = None
        ctx.playbook_looked_up = True
    return ctx.playbook_match


def filled_playbook(match: PlaybookMatch) -> PlanStepOutcome:
    """The playbook's plan with the goal's values: no planner call."""
    return PlanStepOutcome(plan=match.plan, playbook=match.use)


def playbook_label(use: PlaybookUse | None) -> str | None:
    return f"{use.name} ({use.mode}: {use.reason})" if use is not None else None


def reuse_cached_plan(
    cached: PlanMatch, goal: str, agents: list[str], max_tasks: int
) -> PlanStepOutcome | None:
    """The cached plan with the goal's changed words substituted (the cheapest planner call:
    none), or None when it does not carry over."""
    try:
        plan = Plan.model_validate_json(cached.plan_json)
    except ValueError:
        return None
    reused = substitute_plan(cached.goal, goal, plan, agents, max_tasks)
    if reused is None:
        return None
    return PlanStepOutcome(output=cached.plan_json, plan=reused, cache=cache_use(cached, "reused"))


def cache_use(cached: PlanMatch, mode: Literal["reused", "adapted"]) -> PlanCacheUse:
    return PlanCacheUse(
        mode=mode,
        similarity=round(cached.similarity, 4),
        cached_goal=cached.goal,
        cached_run_id=cached.run_id,
    )
