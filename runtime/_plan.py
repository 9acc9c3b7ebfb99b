"""The plan: a task graph the supervisor builds, checked before anything runs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from podium.agents import Tier as Tier  # re-exported: plans speak of tiers

from ._errors import PlanValidationError

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

    @model_validator(mode="after")
    def _check_graph(self, info: ValidationInfo) -> Plan:
        problems = _structural_problems(self.tasks)
        context = info.context if isinstance(info.context, dict) else {}
        agents = context.get("agents")
        if agents is not None:
            problems += _agent_problems(self.tasks, agents)
            problems += _duplicate_problems(self.tasks)
        max_tasks = context.get("max_tasks")
        if isinstance(max_tasks, int) and len(self.tasks) > max_tasks:
            problems.append(
                f"the plan has {len(self.tasks)} tasks, over the limit of {max_tasks}: "
                "merge related tasks or raise `max_tasks` in the config"
            )
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
        """Tasks in an order where inputs come first; ties keep plan order (deterministic)."""
        done: set[str] = set()
        ordered: list[Task] = []
        remaining = list(self.tasks)
        while remaining:
            ready = [t for t in remaining if all(i in done for i in t.inputs)]
            for t in ready:
                done.add(t.id)
                ordered.append(t)
            remaining = [t for t in remaining if t.id not in done]
        return ordered

    def dependents(self, task_id: str) -> set[str]:
        """Every task that needs `task_id`, directly or through others."""
        found: set[str] = set()
        frontier = {task_id}
        while frontier:
            nxt = {t.id for t in self.tasks if frontier & set(t.inputs)} - found
            found |= nxt
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
    """Return one cycle as a list of ids (first id repeated at the end), or []."""
    inputs = {t.id: t.inputs for t in tasks}
    state: dict[str, Literal["visiting", "done"]] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "visiting"
        stack.append(node)
        for nxt in inputs.get(node, ()):
            if state.get(nxt) == "visiting":
                cycle = [*stack[stack.index(nxt) :], nxt]
                return list(reversed(cycle))
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = "done"
        return []

    for t in tasks:
        if t.id not in state and (found := visit(t.id)):
            return found
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
