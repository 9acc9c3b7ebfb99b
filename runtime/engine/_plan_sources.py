"""The goal's playbook as a plan step uses it: matched once per run, filled (no planner call), or
a template for the planner (the plan cache's part is `_plan_cache`)."""

from __future__ import annotations

import asyncio
import logging

from ._context import PlanStepOutcome, RunContext
from ._playbooks import PlaybookMatch, data_columns
from ._result import PlaybookUse

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
