"""Graders: each expectation of a scenario turned into named pass/fail checks with a reason."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from podium.policies import VALIDATOR_NAMES
from podium.runtime import (
    GuardChecked,
    PlanRejected,
    RunEvent,
    RunResult,
    TaskFailed,
    TaskResult,
)

from ._scenario import (
    BudgetExpect,
    Expectations,
    GraphExpect,
    GuardExpect,
    JudgeCheck,
    RoutingExpect,
    TextCheck,
)


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


Judge = Callable[[JudgeCheck, str], Awaitable[tuple[bool, str]]]
"""Asks a model whether a text meets a rubric: (passed, the judge's reason)."""


async def grade(
    expect: Expectations,
    result: RunResult | None,
    events: Sequence[RunEvent],
    *,
    error: str | None = None,
    judge: Judge | None = None,
) -> list[Check]:
    if result is None:
        return [Check("run finished", False, error or "the run raised before finishing")]
    checks: list[Check] = []
    if expect.status is not None:
        checks.append(
            Check(
                f"status is {expect.status}",
                result.status == expect.status,
                f"status was {result.status}" + (f": {result.error}" if result.error else ""),
            )
        )
    checks += [text_check("answer", c, result.answer) for c in expect.answer]
    for selector, task_checks in expect.tasks.items():
        checks += task_output_checks(selector, task_checks, result)
    if expect.graph is not None:
        checks += graph_checks(expect.graph, result)
    if expect.routing is not None:
        checks += routing_checks(expect.routing, result)
    if expect.guards is not None:
        checks += guard_checks(expect.guards, guard_trips(events))
    if expect.budget is not None:
        checks += budget_checks(expect.budget, result)
    for item in expect.judge:
        checks.append(await judge_check(item, result, judge))
    return checks


# -- text --------------------------------------------------------------------------------


def text_check(subject: str, check: TextCheck, text: str | None) -> Check:
    name = f"{subject} {check.kind.replace('_', ' ')} {_brief(getattr(check, check.kind))}"
    if text is None:
        return Check(name, False, f"there is no {subject}")
    ok, detail = _text_passes(check, text)
    return Check(name, ok, "" if ok else detail)


def _text_passes(check: TextCheck, text: str) -> tuple[bool, str]:
    fold: Callable[[str], str] = str.casefold if check.ignore_case else _same
    flags = re.IGNORECASE if check.ignore_case else 0
    if check.equals is not None:
        return fold(text.strip()) == fold(check.equals.strip()), f"was {_brief(text)}"
    if check.contains is not None:
        return fold(check.contains) in fold(text), f"not found in {_brief(text)}"
    if check.not_contains is not None:
        return fold(check.not_contains) not in fold(text), f"found in {_brief(text)}"
    if check.regex is not None:
        return re.search(check.regex, text, flags) is not None, f"no match in {_brief(text)}"
    if check.not_regex is not None:
        found = re.search(check.not_regex, text, flags)
        return found is None, f"matched {found.group(0)!r}" if found else ""
    if check.min_chars is not None:
        return len(text) >= check.min_chars, f"{len(text)} characters"
    if check.max_chars is not None:
        return len(text) <= check.max_chars, f"{len(text)} characters"
    return _json_passes(check, text)


def _same(text: str) -> str:
    return text


def _json_passes(check: TextCheck, text: str) -> tuple[bool, str]:
    try:
        data = json.loads(_strip_fence(text))
    except json.JSONDecodeError as exc:
        return False, f"not JSON ({exc.msg}): {_brief(text)}"
    if check.json_schema is not None:
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(check.json_schema).iter_errors(data)
        )
        if error is None:
            return True, ""
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return False, f"at {where}: {error.message}"
    problems = [
        p for path, test in (check.fields or {}).items() if (p := _field_problem(data, path, test))
    ]
    return not problems, "; ".join(problems)


def _field_problem(data: Any, path: str, test: Any) -> str | None:
    found, value = _lookup(data, path)
    if not found:
        return f"{path}: missing"
    if isinstance(test, dict) and test and set(test) <= _VALUE_TESTS:
        failed = [f"{op} {arg!r}" for op, arg in test.items() if not _value_test(op, arg, value)]
        return f"{path} = {value!r}, expected {' and '.join(failed)}" if failed else None
    if value != test:
        return f"{path} = {value!r}, expected {test!r}"
    return None


_VALUE_TESTS = {"gte", "lte", "gt", "lt", "in", "contains", "regex", "type"}
_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "number": (int, float),
    "integer": int,
    "boolean": bool,
    "array": list,
    "object": dict,
}


def _value_test(op: str, arg: Any, value: Any) -> bool:
    try:
        if op == "in":
            return bool(value in arg)
        if op == "contains":
            return str(arg).casefold() in json.dumps(value, ensure_ascii=False).casefold()
        if op == "regex":
            return re.search(str(arg), str(value)) is not None
        if op == "type":
            return isinstance(value, _TYPES[arg]) and not (
                arg in ("number", "integer") and isinstance(value, bool)
            )
        number = float(value)
        limit = float(arg)
    except (TypeError, ValueError, KeyError):
        return False
    return {"gte": number >= limit, "lte": number <= limit, "gt": number > limit}.get(
        op, number < limit
    )


def _lookup(data: Any, path: str) -> tuple[bool, Any]:
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return False, None
    return True, data


def _strip_fence(text: str) -> str:
    stripped = text.strip()
    match = re.match(r"^```[a-zA-Z0-9]*\s*\n(.*)\n```$", stripped, re.DOTALL)
    return match.group(1) if match else stripped


# -- tasks and graph ---------------------------------------------------------------------


def select(result: RunResult, selector: str) -> list[TaskResult]:
    """Tasks by id, else every task of the agent with that name (by task id)."""
    if selector in result.tasks:
        return [result.tasks[selector]]
    return [r for _, r in sorted_tasks(result) if r.task.agent == selector]


def sorted_tasks(result: RunResult) -> list[tuple[str, TaskResult]]:
    """The run's tasks by id: `result.tasks` holds them as they finished, and concurrent tasks
    finish in varying order, so a report listing them so would differ between two replays."""
    return sorted(result.tasks.items())


def task_output_checks(selector: str, checks: list[TextCheck], result: RunResult) -> list[Check]:
    done = [r for r in select(result, selector) if r.status == "completed"]
    name = f"task {selector}: " + ", ".join(
        f"{c.kind} {_brief(getattr(c, c.kind))}" for c in checks
    )
    if not done:
        return [Check(name, False, f"no completed task matches {selector!r}")]
    for r in done:
        outcomes = [text_check(f"task {r.task.id}", c, r.output) for c in checks]
        if all(o.passed for o in outcomes):
            return [Check(name, True)]
    failing = [o for o in outcomes if not o.passed]
    return [Check(name, False, "; ".join(f"{o.name}: {o.detail}" for o in failing))]


def graph_checks(expect: GraphExpect, result: RunResult) -> list[Check]:
    tasks = list(result.plan.tasks) if result.plan else [r.task for _, r in sorted_tasks(result)]
    agents = {t.agent for t in tasks}
    checks = [
        Check(f"agent {a} used", a in agents, f"agents used: {sorted(agents)}")
        for a in expect.agents_used
    ]
    checks += [
        Check(f"agent {a} not used", a not in agents, f"agents used: {sorted(agents)}")
        for a in expect.agents_not_used
    ]
    if expect.max_tasks is not None:
        checks.append(
            Check(
                f"at most {expect.max_tasks} tasks",
                len(tasks) <= expect.max_tasks,
                f"{len(tasks)} tasks",
            )
        )
    if expect.min_tasks is not None:
        checks.append(
            Check(
                f"at least {expect.min_tasks} tasks",
                len(tasks) >= expect.min_tasks,
                f"{len(tasks)} tasks",
            )
        )
    reach = _reachability({t.id: list(t.inputs) for t in tasks})
    by_selector = _selector_ids(tasks)
    for a, b in expect.depends:
        ok = any(x in reach[y] for x in by_selector(a) for y in by_selector(b))
        checks.append(Check(f"{b} depends on {a}", ok, "" if ok else "no dependency path"))
    for a, b in expect.parallel:
        pairs = [(x, y) for x in by_selector(a) for y in by_selector(b) if x != y]
        ok = any(x not in reach[y] and y not in reach[x] for x, y in pairs)
        checks.append(Check(f"{a} parallel to {b}", ok, "" if ok else "always ordered, or missing"))
    revisions = result.plan_revisions
    if expect.min_replans is not None:
        checks.append(
            Check(
                f"at least {expect.min_replans} re-plans",
                revisions >= expect.min_replans,
                f"{revisions} re-plans",
            )
        )
    if expect.max_replans is not None:
        checks.append(
            Check(
                f"at most {expect.max_replans} re-plans",
                revisions <= expect.max_replans,
                f"{revisions} re-plans",
            )
        )
    return checks


def _selector_ids(tasks: Iterable[Any]) -> Callable[[str], list[str]]:
    listed = list(tasks)

    def ids(selector: str) -> list[str]:
        exact = [t.id for t in listed if t.id == selector]
        return exact or [t.id for t in listed if t.agent == selector]

    return ids


def _reachability(inputs: dict[str, list[str]]) -> dict[str, set[str]]:
    """For each task, every task it depends on, directly or not."""
    memo: dict[str, set[str]] = {}

    def upstream(task_id: str, seen: frozenset[str]) -> set[str]:
        if task_id in memo:
            return memo[task_id]
        found: set[str] = set()
        for parent in inputs.get(task_id, []):
            if parent not in seen:  # a plan is acyclic; this only guards against bad data
                found |= {parent} | upstream(parent, seen | {parent})
        memo[task_id] = found
        return found

    return {t: upstream(t, frozenset({t})) for t in inputs}


def routing_checks(expect: RoutingExpect, result: RunResult) -> list[Check]:
    def escalated(r: TaskResult) -> bool:
        tiers = [route.tier for route in r.routes]
        return "cheap" in tiers and "frontier" in tiers[tiers.index("cheap") :]

    checks = []
    for selector in expect.escalated:
        matched = select(result, selector)
        checks.append(
            Check(
                f"{selector} escalated to frontier",
                any(escalated(r) for r in matched),
                _routes(matched),
            )
        )
    for selector in expect.not_escalated:
        matched = select(result, selector)
        checks.append(
            Check(
                f"{selector} not escalated",
                not any(escalated(r) for r in matched),
                _routes(matched),
            )
        )
    if expect.max_frontier_tries is not None:
        tries = sum(1 for _, route in result.routing if route.tier == "frontier")
        checks.append(
            Check(
                f"at most {expect.max_frontier_tries} frontier tries",
                tries <= expect.max_frontier_tries,
                f"{tries} frontier tries",
            )
        )
    return checks


def _routes(tasks: list[TaskResult]) -> str:
    if not tasks:
        return "no such task"
    return "; ".join(
        f"{r.task.id}: " + " -> ".join(f"{x.tier}:{x.outcome}" for x in r.routes) for r in tasks
    )


# -- guards and budgets ------------------------------------------------------------------

GUARD_NAMES = ("plan_schema", "output_schema", "input", *VALIDATOR_NAMES)
"""Guards a scenario may name: the plan validator, each agent's output-schema check, the goal's
input guard, and every output validator (guard verdicts name the validator that failed)."""


def guard_trips(events: Sequence[RunEvent]) -> list[str]:
    """Names of the guards that rejected or fixed something during the run, one entry per trip."""
    trips: list[str] = []
    for event in events:
        if isinstance(event, PlanRejected):
            trips.append("plan_schema")
        elif isinstance(event, TaskFailed) and "no acceptable answer" in event.error:
            trips.append("output_schema")
        elif isinstance(event, GuardChecked):
            for failure in event.failures:
                name = failure.validator
                trips.append("input" if name.startswith("input:") else name)
    return trips


def guard_checks(expect: GuardExpect, trips: list[str]) -> list[Check]:
    seen = sorted(set(trips))
    return [
        Check(f"guard {g} tripped", g in trips, f"tripped: {seen or 'none'}")
        for g in expect.tripped
    ] + [
        Check(f"guard {g} not tripped", g not in trips, f"tripped {trips.count(g)} time(s)")
        for g in expect.not_tripped
    ]


def budget_checks(expect: BudgetExpect, result: RunResult) -> list[Check]:
    usage = result.usage
    checks = []
    if expect.max_cost_usd is not None:
        checks.append(
            Check(
                f"cost <= ${expect.max_cost_usd:g}",
                usage.cost_usd <= expect.max_cost_usd,
                f"cost ${usage.cost_usd:.6f}",
            )
        )
    if expect.max_tokens is not None:
        checks.append(
            Check(
                f"tokens <= {expect.max_tokens}",
                usage.total_tokens <= expect.max_tokens,
                f"{usage.total_tokens} tokens",
            )
        )
    if expect.max_calls is not None:
        checks.append(
            Check(
                f"model calls <= {expect.max_calls}",
                usage.calls <= expect.max_calls,
                f"{usage.calls} calls",
            )
        )
    if expect.stopped_by is not None:
        ok = result.status == "budget_exceeded" and f"{expect.stopped_by} limit" in (
            result.error or ""
        )
        checks.append(
            Check(
                f"stopped by the {expect.stopped_by} budget",
                ok,
                f"status {result.status}: {result.error}",
            )
        )
    return checks


# -- judge -------------------------------------------------------------------------------


async def judge_check(item: JudgeCheck, result: RunResult, judge: Judge | None) -> Check:
    name = f"judge on {item.target}: {_brief(item.rubric)}"
    if judge is None:
        return Check(name, False, "no judge model available")
    if item.target == "answer":
        text = result.answer
    else:
        done = [r for r in select(result, item.target) if r.status == "completed"]
        text = done[-1].output if done else None
    if text is None:
        return Check(name, False, f"nothing to judge: {item.target} has no output")
    passed, reason = await judge(item, text)
    return Check(name, passed, reason)


def _brief(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
