"""The plan cache, in one home: when a run looks a plan up, how a cached plan is reused or
adapted, and which runs' plans are kept. The store itself is podium.memory's `PlanCache`.

- Lookup: a first plan of a run with memory and `[memory] plan_cache` on, unless the human
  clarified the goal (a plan cached for the goal's words alone does not answer that).
- Reuse: the cached plan with the goal's small edits substituted (`substitute_plan`): no
  planner call. Playbooks fill their templates with the same machinery.
- Adaptation: otherwise the cached plan is the planner's template (`template_message`).
- Keeping: a completed run's plan, when every task's output was accepted by its guard.

Every plan step records how it used the cache (`PlanCacheUse`), so a resumed run restores it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any, Literal

from podium.agents import Message
from podium.memory import PlanMatch

from .._errors import PlanValidationError
from ._context import PlanStepOutcome, RunContext
from ._memory import RunMemory
from ._plan import Plan, validate_plan
from ._result import PlanCacheUse, RunResult


def looks_up(ctx: RunContext, purpose: str) -> bool:
    """Whether this plan step consults the cache (see the module's docstring)."""
    return (
        ctx.memory is not None
        and ctx.memory.config.plan_cache
        and purpose == "plan"
        and not ctx.clarifications
    )


async def lookup(ctx: RunContext, purpose: str) -> PlanMatch | None:
    """The tenant's cached plan nearest to the goal, when this step looks one up."""
    memory = ctx.memory
    if memory is None or not looks_up(ctx, purpose):
        return None
    store, tenant = memory.store, memory.tenant  # opening the cache can fail too: inside `safely`
    return await memory.safely(
        "plan cache", lambda: store.plan_cache(tenant).lookup(ctx.goal), None
    )


def reused(
    cached: PlanMatch, goal: str, agents: list[str], max_tasks: int
) -> PlanStepOutcome | None:
    """The cached plan with the goal's changed words substituted (the cheapest planner call:
    none), or None when it does not carry over."""
    try:
        plan = Plan.model_validate_json(cached.plan_json)
    except ValueError:
        return None
    patched = substitute_plan(cached.goal, goal, plan, agents, max_tasks)
    if patched is None:
        return None
    return PlanStepOutcome(output=cached.plan_json, plan=patched, cache=use(cached, "reused"))


def template_message(match: PlanMatch) -> Message:
    """The planner's hint: a plan that worked for a similar goal, to adapt rather than redo."""
    return {
        "role": "user",
        "content": (
            f"A similar goal was planned before and its run succeeded.\nThat goal: {match.goal}\n"
            f"Its plan: {match.plan_json}\nAdapt this plan to the goal above: keep what fits, "
            "change names and details, add or drop tasks only where the goals differ."
        ),
    }


def use(cached: PlanMatch, mode: Literal["reused", "adapted"]) -> PlanCacheUse:
    """How a plan step used the cache, as the run result and its events record it."""
    return PlanCacheUse(
        mode=mode,
        similarity=round(cached.similarity, 4),
        cached_goal=cached.goal,
        cached_run_id=cached.run_id,
    )


async def keep(memory: RunMemory, goal: str, result: RunResult) -> None:
    """Offer a completed run's plan to later goals, when the run accepted it throughout
    (`RunResult.accepted_throughout`): a plan that needed a human's override, a refused output
    or a clarification of the goal is not one to copy."""
    plan = result.plan if result.accepted_throughout else None
    if plan is None or not memory.config.plan_cache:
        return
    plan_json = plan.model_dump_json(exclude_defaults=True)
    store, tenant, run_id = memory.store, memory.tenant, memory.run_id
    await memory.safely(
        "plan cache", lambda: store.plan_cache(tenant).put(goal, plan_json, run_id=run_id), None
    )


# -- reuse: the goal's small edits put into the cached plan ----------------------------------

_TOKEN = re.compile(r"\w[\w'\u2019.-]*\w|\w|[^\w\s]")
MAX_EDITS = 4
MAX_EDITED_TOKENS = 8
FILLER = frozenset(
    [
        "a",
        "an",
        "the",
        "please",
        "kindly",
        "could",
        "you",
        "can",
        "would",
        "and",
        "then",
        "also",
        "now",
        "just",
        "quickly",
        "me",
        "us",
        ",",
        ".",
        ";",
        ":",
        "!",
        "?",
        "(",
        ")",
        "-",
        "\u2013",
        "\u2014",
        "'",
        '"',
    ]
)
"""Words and marks whose addition or removal does not change what a goal asks."""
MAX_EDGE_TOKENS = 3
CLAUSE_STARTS = frozenset({"and", "then", "also", "plus", ",", ";", ".", "after", "before"})


def substitute_plan(
    cached_goal: str, goal: str, plan: Plan, agents: Iterable[str], max_tasks: int
) -> Plan | None:
    """The cached plan patched with the goal's small edits, when that is all the goal changed.

    The two goals are diffed word by word (case-insensitively). Edits of filler (articles,
    politeness, punctuation) need nothing. Every other edit (another lead, company or id, an
    added or dropped word) must be found in the plan's instructions (for an addition: between the
    words around it) and is applied there. None when the goals differ by more than a few edits,
    when an edit cannot be placed (the plan does not mention what changed, so the planner must
    look again), or when the result is not a valid plan: then the planner adapts the template.
    """
    old, new = _TOKEN.findall(cached_goal), _TOKEN.findall(goal)
    matcher = difflib.SequenceMatcher(
        a=[t.casefold() for t in old], b=[t.casefold() for t in new], autojunk=False
    )
    edits = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    if (
        len(edits) > MAX_EDITS
        or sum(max(i2 - i1, j2 - j1) for _, i1, i2, j1, j2 in edits) > MAX_EDITED_TOKENS
    ):
        return None
    instructions = [t.instruction for t in plan.tasks]
    for _, i1, i2, j1, j2 in edits:
        if {t.casefold() for t in old[i1:i2] + new[j1:j2]} <= FILLER:
            continue
        if not (_small_or_names(old[i1:i2]) and _small_or_names(new[j1:j2])):
            return (
                None  # "draft an email" -> "book a call" changes the work: replan from the template
            )
        anchor, replacement = _edit(old, new, i1, i2, j1, j2)
        if not anchor:
            return None
        patched = [_replace_span(text, anchor, replacement) for text in instructions]
        if patched == instructions:
            return None
        instructions = patched
    data: dict[str, Any] = plan.model_dump(mode="json")
    for task, instruction in zip(data["tasks"], instructions, strict=True):
        task["instruction"] = instruction
    try:
        return validate_plan(data, agents=list(agents), max_tasks=max_tasks)
    except PlanValidationError:
        return None


def _edit(
    old: list[str], new: list[str], i1: int, i2: int, j1: int, j2: int
) -> tuple[list[str], list[str]]:
    """(what to find in the instructions, what to put there) for one edit of the goal.

    A replacement or removal finds the old words. An addition finds the words around it; at the
    end of the goal ("... by Friday", "... in German") the word before it, at the start the word
    after it, provided that word carries meaning (it then names the task the addition is about).
    """
    added = new[j1:j2]
    if i2 > i1:
        return old[i1:i2], added
    before, after = old[i1 - 1 : i1], old[i1 : i1 + 1]
    if before and after:
        return [*before, *after], [*before, *added, *after]
    edge = before or after
    if not edge or edge[0].casefold() in FILLER or len(added) > MAX_EDGE_TOKENS:
        return [], []
    if before and added[0].casefold() in CLAUSE_STARTS:
        return [], []  # "... and book a call" is more work, not a detail of the last task
    return edge, [*edge, *added] if before else [*added, *edge]


def _small_or_names(tokens: list[str]) -> bool:
    """Two content words at most, or names only (capitalised or with digits: people, companies, ids)."""
    content = [t for t in tokens if t.casefold() not in FILLER]
    return len(content) <= 2 or all(t[0].isupper() or any(c.isdigit() for c in t) for t in content)


def _replace_span(text: str, span: list[str], replacement: list[str]) -> str:
    """`span` (tokens, any spacing, any case) replaced by `replacement` everywhere in `text`."""
    pattern = r"(?<!\w)" + r"\s*".join(re.escape(t) for t in span) + r"(?!\w)"
    joined = re.sub(r"\s+([,.;:!?)])", r"\1", " ".join(replacement)).replace("( ", "(")
    return re.sub(pattern, lambda _: joined, text, flags=re.IGNORECASE)
