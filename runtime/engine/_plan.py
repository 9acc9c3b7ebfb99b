"""The plan: a task graph the supervisor builds, checked before anything runs."""

from __future__ import annotations

import graphlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from podium.agents import Tier as Tier  # re-exported: plans speak of tiers

from .._errors import PlanValidationError

TASK_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$"


class Task(BaseModel):
    """One unit of work for one agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=TASK_ID_PATTERN)
    """Unique within the plan; other tasks name it in `inputs`."""
    agent: str
    """Name of the registered agent that runs this task."""
    instruction: str = Field(min_length=1, max_length=4000)
    """What the agent must do, in the planner's words."""
    inputs: tuple[str, ...] = ()
    """Ids of the tasks whose outputs this task consumes; it starts once they are done."""
    tier: Tier | None = None
    """Model tier hint from the planner; None means the agent's default tier."""
    output_schema: dict[str, Any] | None = None
    """Optional JSON schema the task's output must satisfy."""


class Plan(BaseModel):
    """A task graph: tasks and their dependencies, acyclic by construction.

    Structural rules (unique ids, known inputs, no cycles) are checked whenever a Plan is
    built. Rules that need context (registered agents, size limit) are checked by
    `validate_plan`, which passes them through pydantic's validation context.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tasks: tuple[Task, ...] = Field(min_length=1)
    rationale: str = ""
    """The planner's one-line reason for this shape (shown, never executed)."""

    @model_validator(mode="before")
    @classmethod
    def _check_size_first(cls, data: Any, info: ValidationInfo) -> Any:
        # Size before anything else: an oversized plan is refused in one line, without
        # validating (or searching the graph of) thousands of tasks the planner must redo anyway.
        tasks = data.get("tasks") if isinstance(data, Mapping) else None
        if isinstance(tasks, list | tuple):
            _raise_if_oversized(len(tasks), info)
        return data

    @model_validator(mode="after")
    def _check_graph(self, info: ValidationInfo) -> Plan:
        _raise_if_oversized(len(self.tasks), info)
        problems = _structural_problems(self.tasks)
        context = info.context if isinstance(info.context, dict) else {}
        agents = context.get("agents")
        if agents is not None:
            problems += _blank_instruction_problems(self.tasks)
            problems += _agent_problems(self.tasks, agents)
            problems += _duplicate_problems(self.tasks)
        if problems:
            raise PlanValidationError(problems)
        return self

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.tasks]

    def topological_order(self) -> list[Task]:
        """Tasks in an order where inputs come first; ties keep plan order (deterministic).

        In rounds: every task whose inputs are all done, in plan order, then the tasks that
        round made ready. Linear in the plan's size (a chain of 1,000 tasks listed last-first
        took about a second with a scan of every remaining task per round).
        """
        position = {t.id: n for n, t in enumerate(self.tasks)}
        sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
        for t in self.tasks:
            sorter.add(t.id, *t.inputs)
        sorter.prepare()  # a Plan is acyclic: validated when built
        ordered: list[Task] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=position.__getitem__)
            ordered += (self.tasks[position[i]] for i in ready)
            sorter.done(*ready)
        return ordered

    def dependents(self, task_id: str) -> set[str]:
        """Every task that needs `task_id`, directly or through others."""
        consumers: dict[str, list[str]] = {}
        for t in self.tasks:
            for i in t.inputs:
                consumers.setdefault(i, []).append(t.id)
        found: set[str] = set()
        frontier = [task_id]
        while frontier:
            nxt = [c for node in frontier for c in consumers.get(node, ()) if c not in found]
            found.update(nxt)
            frontier = nxt
        return found

    def sinks(self) -> list[Task]:
        """Tasks no other task consumes: their outputs make the answer."""
        consumed = {i for t in self.tasks for i in t.inputs}
        return [t for t in self.tasks if t.id not in consumed]

    def critical_path(self, duration: dict[str, float]) -> float:
        """Length of the longest dependency chain, given each task's duration."""
        finish: dict[str, float] = {}
        for t in self.topological_order():
            start = max((finish[i] for i in t.inputs), default=0.0)
            finish[t.id] = start + duration.get(t.id, 0.0)
        return max(finish.values(), default=0.0)


def validate_plan(data: Any, *, agents: Iterable[str], max_tasks: int) -> Plan:
    """Build a Plan from untrusted data (a model's JSON), with every rule checked.

    Raises PlanValidationError whose problems each say which task is wrong and why.
    """
    try:
        return Plan.model_validate(
            data, context={"agents": frozenset(agents), "max_tasks": max_tasks}
        )
    except ValidationError as exc:
        raise PlanValidationError(_describe_pydantic_errors(exc, data)) from None


def _raise_if_oversized(count: int, info: ValidationInfo) -> None:
    max_tasks = info.context.get("max_tasks") if isinstance(info.context, dict) else None
    if isinstance(max_tasks, int) and count > max_tasks:
        raise PlanValidationError(
            [
                f"the plan has {count} tasks, over the limit of {max_tasks}: "
                "merge related tasks or raise `max_tasks` in the config"
            ]
        )


def _structural_problems(tasks: tuple[Task, ...]) -> list[str]:
    problems: list[str] = []
    seen: dict[str, int] = {}
    for position, t in enumerate(tasks, start=1):
        if t.id in seen:
            problems.append(
                f"task {t.id!r} is defined twice (positions {seen[t.id]} and {position}): "
                "give each task a unique id"
            )
        seen.setdefault(t.id, position)
    for t in tasks:
        for i in t.inputs:
            if i == t.id:
                problems.append(f"task {t.id!r} lists itself as an input: remove it")
            elif i not in seen:
                problems.append(
                    f"task {t.id!r} takes input from {i!r}, which is not in the plan: "
                    f"use one of {sorted(seen)} or add task {i!r}"
                )
    if not problems:
        cycle = _find_cycle(tasks)
        if cycle:
            problems.append(
                "tasks " + " -> ".join(cycle) + " form a cycle: a task may only take inputs "
                "from tasks that do not depend on it"
            )
    return problems


def _blank_instruction_problems(tasks: tuple[Task, ...]) -> list[str]:
    """Tasks whose instruction has no visible character: an agent would be sent nothing to do.

    Checked on plans from a model (validate_plan), like duplicates, so a stored run still resumes.
    """
    return [
        f"task {t.id!r} has a blank instruction {_describe_blank(t.instruction)}: "
        "say what the agent must do"
        for t in tasks
        if _is_blank(t.instruction)
    ]


_INVISIBLE = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
"""Unicode categories with no visible glyph: separators, controls, format characters (zero-width
space, BOM). `str.isspace` alone misses the format characters."""


def _is_blank(text: str) -> bool:
    return all(ch.isspace() or unicodedata.category(ch) in _INVISIBLE for ch in text)


def _describe_blank(text: str) -> str:
    # repr spells out what the eye cannot see: tabs, newlines, no-break and zero-width spaces.
    shown = repr(text)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _agent_problems(tasks: tuple[Task, ...], agents: frozenset[str]) -> list[str]:
    return [
        f"task {t.id!r} names agent {t.agent!r}, which is not registered: "
        f"use one of {sorted(agents)}"
        for t in tasks
        if t.agent not in agents
    ]


def _duplicate_problems(tasks: tuple[Task, ...]) -> list[str]:
    """Tasks that would do the same work twice: same agent, instruction and inputs.

    Checked on plans from a model (validate_plan), not on plans already accepted (a checkpoint
    or the plan cache), so a stored run never stops resuming over it.
    """
    problems: list[str] = []
    first: dict[tuple[str, str, tuple[str, ...]], str] = {}
    for t in tasks:
        key = (t.agent, _normalised(t.instruction), tuple(sorted(t.inputs)))
        if key in first:
            problems.append(
                f"task {t.id!r} repeats task {first[key]!r} (same agent {t.agent!r}, instruction "
                "and inputs): remove it, or give it different work"
            )
        else:
            first[key] = t.id
    return problems


def _normalised(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def _find_cycle(tasks: tuple[Task, ...]) -> list[str]:
    """Return one cycle as a list of ids in data-flow order (first id repeated at the end), or [].

    The stdlib's TopologicalSorter searches iteratively, so a chain of any length listed in any
    order cannot exhaust the stack (a recursive search did, at ~1,000 tasks listed last-first).
    """
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for t in tasks:
        sorter.add(t.id, *t.inputs)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        # args[1]: each node an input of the next, i.e. the order data would flow.
        return [str(node) for node in exc.args[1]]
    return []


def _describe_pydantic_errors(exc: ValidationError, data: Any) -> list[str]:
    problems: list[str] = []
    for err in exc.errors(include_url=False):
        original = err.get("ctx", {}).get("error")
        if isinstance(original, PlanValidationError):
            # Our own graph rules, raised inside the model validator and wrapped by pydantic.
            problems.extend(original.problems)
            continue
        loc = list(err["loc"])
        where = "the plan"
        if len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
            where = f"task #{loc[1] + 1}"
            tid = _task_id_at(data, loc[1])
            if tid:
                where = f"task {tid!r}"
            loc = loc[2:]
        field = ".".join(str(p) for p in loc) or "(whole)"
        problems.append(f"{where}: field {field!r}: {err['msg']}")
    return problems


def _task_id_at(data: Any, index: int) -> str | None:
    if isinstance(data, dict):
        tasks = data.get("tasks")
        if isinstance(tasks, list) and index < len(tasks) and isinstance(tasks[index], dict):
            tid = tasks[index].get("id")
            return tid if isinstance(tid, str) else None
    return None
