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
    parts.append(clauses_section(goal, calls))
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


def clauses_section(goal: str, calls: list[ToolCallRecord]) -> str:
    """For each record found that the goal names (a policy), the line of the files read that
    speaks to it most (the contract's clause), so a review carries the evidence as well as the
    rule: "POL-009 Governing law: 8.1 This Agreement is governed by the laws of ... Delaware"."""
    lines = [line for c in calls for line in _file_lines(c)]
    if not lines:
        return ""
    rows = [row for _, row in _found_rows(goal.casefold(), calls)]
    weight = _rarity([words for _, _, words in lines])
    found = []
    for row in rows:
        wanted = _words(" ".join(str(v) for v in row.values()))
        label = " ".join(str(v) for v in list(row.values())[:2])
        named = _words(label)
        # A line on the record's subject first (its title's words: "liability" for "Liability
        # cap"), then most words shared, the rarer first among equals.
        scored = [
            (
                bool(named & words),
                len(wanted & words),
                sum(weight[w] for w in wanted & words),
                path,
                text,
            )
            for path, text, words in lines
        ]
        best = max(scored, key=lambda s: s[:3], default=None)
        if best is None or best[1] < MIN_SHARED_WORDS:
            continue
        found.append(f"- {label}: {_one_line(best[4])} ({best[3]})")
    found = list(dict.fromkeys(found))[:MAX_CLAUSES]
    return "In the files read:\n" + "\n".join(found) if found else ""


MAX_CLAUSES = 12
"""Records linked to a line at most: a review of every policy (eleven bundled) cites each."""
MIN_SHARED_WORDS = 2
"""Words a record and a line must share (beyond the commonest) to be linked."""
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "may",
        "must",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "the",
        "their",
        "this",
        "that",
        "to",
        "was",
        "were",
        "will",
        "with",
        "within",
        "without",
    ]
)


def _file_lines(call: ToolCallRecord) -> list[tuple[str, str, frozenset[str]]]:
    """(path, line, its words with its section heading's) for each line of a file read."""
    result = _json(call.result)
    if call.name != "read_file" or not isinstance(result, dict):
        return []
    path, content = str(result.get("path", "")), str(result.get("content", ""))
    heading, lines = "", []
    for raw in content.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            heading = line.lstrip("# ")
        elif len(line) > 20:
            lines.append((path, line, _words(f"{heading} {line}")))
    return lines


def _words(text: str) -> frozenset[str]:
    """Words, folded to a short stem ("governed", "governing" → "gover"; "laws" → "law")."""
    return frozenset(
        w.rstrip("s")[:5]
        for w in re.findall(r"[a-z][a-z-]+", text.casefold())
        if w not in _STOP and len(w) > 2
    )


def _rarity(lines: list[frozenset[str]]) -> dict[str, float]:
    """A word's weight: rarer across the lines, more telling (1 / lines holding it)."""
    counts: dict[str, int] = {}
    for words in lines:
        for w in words:
            counts[w] = counts.get(w, 0) + 1
    return {w: 1.0 / n for w, n in counts.items()}


def _output(results: Mapping[str, TaskResult], t: Task) -> str:
    return (results[t.id].output or "").strip()


def _one_line(text: str) -> str:
    return _cut(" ".join(text.split()), MAX_LINE_CHARS)


def _cut(text: str, limit: int) -> str:
    """`text` within about `limit` characters, cut at a word and marked with what was left out,
    as every surface marks a cut ("… (+412 chars)"): the answer shows it, the task keeps it all."""
    if len(text) <= limit:
        return text
    kept = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return f"{kept} … (+{len(text) - len(kept)} chars)"


def _records(goal: str, calls: list[ToolCallRecord]) -> list[str]:
    """Rows the dataset tool returned that the goal names, as lines (see `_found_rows`)."""
    rows = _found_rows(goal.casefold(), calls)
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


def _found_rows(wanted: str, calls: list[ToolCallRecord]) -> list[tuple[str, dict[str, Any]]]:
    """Rows the dataset tool returned that `wanted` (folded) names: a cell value found in it,
    or any row of a dataset it names ("against our policies": the policies)."""
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
    return rows


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
    return _cut(text, MAX_VALUE_CHARS)


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
