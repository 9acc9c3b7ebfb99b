"""The runtime's side of shared memory: what a task sees, what a run leaves behind, the plan cache.

What a task sees is fixed by the graph, never by timing: the tenant level and the agent's own
notes (both as they were when the run started or as this run's upstream tasks left them), and
from the run's namespace only what its *upstream* tasks wrote. A sibling that happens to
finish first is invisible, so the same plan gives the same prompts in a run, its resume and
its replay. Direct inputs are already in the prompt; their outputs are not repeated.

Memory is an aid: when the store fails, the task runs without it and the run records a warning.
So does a collection the store finds deleted behind its back, when it could hold what this run
wrote or reads (its run's namespace, its tenant's memory and plans, the store's own record).
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from podium.agents import ToolUse
from podium.memory import (
    MemoryConfig,
    MemoryHit,
    MemoryScope,
    MemoryStore,
    MemoryStoreError,
    PlanMatch,
    format_hits,
    provenance,
    trim_to_budget,
)
from podium.tools import JSONValue, ToolError

from .._errors import PlanValidationError
from ._plan import Plan, Task, validate_plan

log = logging.getLogger("podium.memory")
T = TypeVar("T")

TRUNCATED = " … (truncated)"
MAX_TOOL_ENTRIES_PER_TASK = 8


@dataclass
class RunMemory:
    """One run's handle on the store (blocking Chroma work runs in a thread)."""

    store: MemoryStore
    tenant: str
    run_id: str
    warnings: list[str] = field(default_factory=list)
    max_context_tokens: int | None = None
    """The memory section's budget in this run's prompts, sized to the models' context windows
    (`memory_budget`); None: `[memory] max_context_tokens` as configured."""
    min_score: float = 0.0
    """Entries less similar to the instruction stay out of prompts (`memory_min_score`)."""
    _seen: int = field(init=False, default=0)
    """How many of the store's losses this run has looked at."""

    def __post_init__(self) -> None:
        # Losses found before the run started went to the runs that found them.
        self._seen = self.store.loss_count()

    def note_losses(self) -> None:
        """Warn of the collections the store found lost since last asked, if they concern this run."""
        found = self.store.losses_since(self._seen)
        self._seen += len(found)
        for loss in found:
            if loss.concerns(self.tenant, self.run_id) and loss.message not in self.warnings:
                self.warnings.append(loss.message)  # the store has logged it

    @property
    def config(self) -> MemoryConfig:
        return self.store.config

    def scope(self, agent: str | None = None) -> MemoryScope:
        return self.store.scope(tenant=self.tenant, run_id=self.run_id, agent=agent)

    async def context(self, task: Task, upstream: frozenset[str]) -> str:
        """The prompt's memory section for `task` ("" when nothing relevant is stored)."""
        direct = {f"output:{i}" for i in task.inputs}
        k = self.config.top_k
        none: list[MemoryHit] = []
        hits = await self._safely(
            "search",
            lambda: self.scope(task.agent).search(
                # Twice what is kept: ties at the cut are then settled by rank_hits, not Chroma.
                task.instruction,
                2 * k + len(direct),
                run_tasks=upstream,
            ),
            none,
        )
        kept = [h for h in hits if h.entry.key not in direct and h.score >= self.min_score][:k]
        budget = self.max_context_tokens
        kept = trim_to_budget(kept, self.config.max_context_tokens if budget is None else budget)
        return format_hits(kept, current_run=self.run_id, scores=False)

    async def task_done(self, task: Task, output: str, tool_uses: Iterable[ToolUse]) -> None:
        """Keep the task's output (trusted) and its tool results (untrusted) in the run's namespace.

        Keys make the writes idempotent: a task re-run after a crash replaces its entries.
        """
        scope = self.scope(task.agent)
        limit = self.config.max_entry_chars
        await self._safely(
            "write",
            lambda: scope.write(
                _fit(output, limit), namespace="run", task_id=task.id, key=f"output:{task.id}"
            ),
            None,
        )
        results = [u for u in tool_uses if u.ok and u.name not in _MEMORY_TOOLS]
        for n, use in enumerate(results[:MAX_TOOL_ENTRIES_PER_TASK]):
            text = _fit(f"{use.name}({use.arguments}) returned: {use.result}", limit)
            await self._safely("write", _tool_write(scope, task.id, n, text), None)

    async def run_done(self, goal: str, answer: str | None, plan: Plan | None) -> None:
        """A completed run leaves its answer at the tenant level and its plan in the cache."""
        limit = self.config.max_entry_chars
        if answer:
            text = _fit(f"Goal: {goal}\nAnswer: {answer}", limit)
            await self._safely(
                "write",
                lambda: self.scope().write(text, namespace="tenant", key=f"answer:{self.run_id}"),
                None,
            )
        if plan is not None and self.config.plan_cache:
            plan_json = plan.model_dump_json(exclude_defaults=True)
            await self._safely(
                "plan cache",
                lambda: self.store.plan_cache(self.tenant).put(goal, plan_json, run_id=self.run_id),
                None,
            )

    async def lookup_plan(self, goal: str) -> PlanMatch | None:
        if not self.config.plan_cache:
            return None
        return await self._safely(
            "plan cache", lambda: self.store.plan_cache(self.tenant).lookup(goal), None
        )

    def access(self, task: Task, upstream: frozenset[str]) -> TaskMemoryAccess:
        return TaskMemoryAccess(self, task, upstream)

    async def _safely(self, what: str, action: Callable[[], T], default: T) -> T:
        try:
            result = await asyncio.to_thread(action)
        except Exception as exc:  # memory is an aid: whatever breaks in it, the run goes on
            self.note_losses()  # first: a lost collection may be why it failed
            message = f"memory {what} failed, went on without it: {exc}"
            if message not in self.warnings:
                self.warnings.append(message)
            log.warning(message)
            return default
        self.note_losses()
        return result


_MEMORY_TOOLS = ("memory_search", "memory_write")


@dataclass
class TaskMemoryAccess:
    """`ToolContext.memory` for one task: the memory tools' view, with the same visibility rule."""

    run: RunMemory
    task: Task
    upstream: frozenset[str]

    async def search(self, query: str, k: int) -> list[JSONValue]:
        try:
            hits: list[MemoryHit] = await asyncio.to_thread(
                lambda: self.run.scope(self.task.agent).search(
                    query, k, run_tasks=self.upstream | {self.task.id}
                )
            )
        except MemoryStoreError as exc:
            raise ToolError(f"memory search failed: {exc}") from exc
        finally:
            self.run.note_losses()
        return [
            {
                "text": h.entry.text,
                "from": provenance(h.entry, current_run=self.run.run_id),
                "trusted": h.entry.trusted,
            }
            for h in hits
        ]

    async def write(self, text: str, *, private: bool) -> str:
        namespace: Literal["agent", "run"] = "agent" if private else "run"
        try:
            await asyncio.to_thread(
                lambda: self.run.scope(self.task.agent).write(
                    text, namespace=namespace, task_id=self.task.id
                )
            )
        except MemoryStoreError as exc:
            raise ToolError(f"memory write refused: {exc}") from exc
        finally:
            self.run.note_losses()
        # No entry id back to the model: ids are random, and prompts must replay the same.
        return f"agent:{self.task.agent}" if private else "run"


def _tool_write(scope: MemoryScope, task_id: str, n: int, text: str) -> Callable[[], object]:
    def write() -> object:
        return scope.write(
            text, namespace="run", source="tool", task_id=task_id, key=f"tool:{task_id}:{n}"
        )

    return write


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


# -- the plan cache's trivial adaptation ---------------------------------------------------

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


def template_message(match: PlanMatch) -> dict[str, Any]:
    """The planner's hint: a plan that worked for a similar goal, to adapt rather than redo."""
    return {
        "role": "user",
        "content": (
            f"A similar goal was planned before and its run succeeded.\nThat goal: {match.goal}\n"
            f"Its plan: {match.plan_json}\nAdapt this plan to the goal above: keep what fits, "
            "change names and details, add or drop tasks only where the goals differ."
        ),
    }
