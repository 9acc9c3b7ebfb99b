"""An answer that carries the facts: assembled from what the tasks found, not written by a model.

Asked to merge several results, the embedded 135M model writes fluent text about something
else, and drops the records its tasks looked up. When the answer would come from it, the run
puts the answer together instead: the final tasks' outputs (a drafted email, a summary), the
records the tools returned that the goal names (the lead's row, the company's), the files read,
and a line from each other task (a score, a classification). Every fact in it comes from a
tool result or a task output of this run. A stronger model synthesises as usual.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ._plan import Plan, Task
from ._result import TaskResult, ToolCallRecord

MAX_RECORDS = 8
MAX_VALUE_CHARS = 160
MAX_LINE_CHARS = 300
MIN_MATCH_CHARS = 3
"""Shorter cell values ("US", "New") say nothing about which record a goal names."""
FOUND = "Found in the data:"


def facts_answer(goal: str, plan: Plan, results: Mapping[str, TaskResult]) -> str:
    """The answer: final outputs first, then the records found, the files read, the other tasks."""
    order = plan.topological_order()
    sinks = {t.id for t in plan.sinks()}
    finals = [t for t in order if t.id in sinks]
    parts = []
    if len(finals) == 1:
        parts.append(_output(results, finals[0]))
    else:
        parts.extend(f"**{t.id}** ({t.agent}): {_output(results, t)}" for t in finals)
    # Every accepted task of the run counts, a plan revision's dropped ones too: what they
    # found is still what the run found.
    done = [*order, *(r.task for r in results.values() if r.task.id not in plan.ids)]
    calls = [c for t in done if t.id in results for c in results[t.id].tool_calls if c.ok]
    parts.append(found_section(goal, calls))
    files = list(dict.fromkeys(p for c in calls if (p := _file_read(c))))
    if files:
        parts.append("Files read: " + ", ".join(files))
    others = [t for t in order if t.id not in sinks and results[t.id].output]
    if others:
        lines = [
            f"- {t.id} ({t.agent}): {_one_line(_output(results, t).split(FOUND)[0])}"
            for t in others
        ]
        parts.append("From the tasks:\n" + "\n".join(lines))
    return "\n\n".join(p for p in parts if p.strip())


def with_found_records(output: str, named_in: str, calls: list[ToolCallRecord]) -> str:
    """A task's output with the records its tool calls found that `named_in` names, so the
    tasks downstream (a writer drafting to the lead) read the facts, not only a small model's
    retelling of them."""
    section = found_section(named_in, [c for c in calls if c.ok])
    if not section or _json(output) is not None:
        return output  # JSON stays JSON: whoever reads it parses it
    return f"{output.rstrip()}\n\n{section}"


def found_section(named_in: str, calls: list[ToolCallRecord]) -> str:
    records = _records(named_in, calls)
    return FOUND + "\n" + "\n".join(f"- {r}" for r in records) if records else ""


def _output(results: Mapping[str, TaskResult], t: Task) -> str:
    return (results[t.id].output or "").strip()


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_LINE_CHARS else flat[: MAX_LINE_CHARS - 1] + "…"


def _records(goal: str, calls: list[ToolCallRecord]) -> list[str]:
    """Rows the dataset tool returned that the goal names: a cell value found in the goal, or
    any row of a dataset the goal names ("against our policies": the policies)."""
    wanted = goal.casefold()
    rows: list[tuple[str, dict[str, Any]]] = []
    for call in calls:
        result = _json(call.result)
        if not isinstance(result, dict) or not isinstance(result.get("rows"), list):
            continue
        dataset = str(result.get("dataset") or call.name)
        whole = _mentions(dataset.replace("_", " "), wanted) or _mentions(dataset, wanted)
        for row in result["rows"]:
            if isinstance(row, dict) and (whole or _named(row, wanted)):
                items = {k: v for k, v in row.items() if v not in (None, "", [])}
                rows.append((dataset, items))
    # A projection of a row found whole says nothing more: keep the fullest.
    kept = [
        (d, r)
        for i, (d, r) in enumerate(rows)
        if not any(
            j != i and d == e and _within(r, s) and (len(s) > len(r) or j < i)
            for j, (e, s) in enumerate(rows)
        )
    ]
    lines = [f"{d}: " + " · ".join(f"{k} {_value(v)}" for k, v in r.items()) for d, r in kept]
    return list(dict.fromkeys(lines))[:MAX_RECORDS]


def _within(row: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    return all(k in other and other[k] == v for k, v in row.items())


def _named(row: Mapping[str, Any], goal: str) -> bool:
    return any(
        isinstance(value, str) and len(value) >= MIN_MATCH_CHARS and _mentions(value, goal)
        for value in row.values()
    )


def _mentions(value: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(value.casefold())}(?!\w)", text) is not None


def _value(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _file_read(call: ToolCallRecord) -> str | None:
    result = _json(call.result)
    if call.name == "read_file" and isinstance(result, dict) and "path" in result:
        return str(result["path"])
    return None


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None
