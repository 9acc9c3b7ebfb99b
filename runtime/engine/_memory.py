"""The runtime's side of shared memory: what a task sees and what a run leaves behind (its plan:
`_plan_cache`).

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
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from podium.agents import ToolUse
from podium.memory import (
    MemoryConfig,
    MemoryHit,
    MemoryScope,
    MemoryStore,
    MemoryStoreError,
    format_hits,
    provenance,
    trim_to_budget,
)
from podium.tools import JSONValue, ToolError

from ._plan import Task

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
        hits = await self.safely(
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
        await self.safely(
            "write",
            lambda: scope.write(
                _fit(output, limit), namespace="run", task_id=task.id, key=f"output:{task.id}"
            ),
            None,
        )
        results = [u for u in tool_uses if u.ok and u.name not in _MEMORY_TOOLS]
        for n, use in enumerate(results[:MAX_TOOL_ENTRIES_PER_TASK]):
            text = _fit(f"{use.name}({use.arguments}) returned: {use.result}", limit)
            await self.safely("write", _tool_write(scope, task.id, n, text), None)

    async def run_done(self, goal: str, answer: str | None) -> None:
        """A completed run leaves its answer at the tenant level (its plan: `_plan_cache.keep`)."""
        if answer:
            text = _fit(f"Goal: {goal}\nAnswer: {answer}", self.config.max_entry_chars)
            await self.safely(
                "write",
                lambda: self.scope().write(text, namespace="tenant", key=f"answer:{self.run_id}"),
                None,
            )

    def access(self, task: Task, upstream: frozenset[str]) -> TaskMemoryAccess:
        return TaskMemoryAccess(self, task, upstream)

    async def safely(self, what: str, action: Callable[[], T], default: T) -> T:
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
