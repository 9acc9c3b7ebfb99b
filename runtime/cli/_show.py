"""`podium show`: a stored run at a glance, or everything about one of its tasks.

Read from the run store alone (no model, litellm, LangGraph or Chroma is loaded), so it answers
without the seconds those take to import.
Text is cut to keep the view compact, every cut marked with what was left out; `--full` shows
it whole and `--json` prints the stored record (or the task's result) as it is.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .._errors import RunNotFoundError
from ..engine._plan import Plan, Task
from ..engine._result import TaskResult
from ..server._conversation import request_of
from ..storage._store import RunRecord
from ._clip import clip
from ._escalations import answer_lines, escalation_panel

_STYLE = {
    "completed": "green",
    "failed": "red",
    "skipped": "magenta",
    "not run": "dim",
    "waiting": "yellow",
}
_ENDED = ("completed", "failed", "budget_exceeded")
"""Run statuses after which a task without a result will not run (a waiting, cancelled or
running run may still run it)."""


@dataclass(frozen=True)
class Shown:
    """A stored run and the plan to show it by: the result's, else the last one its audit
    trail holds (a running run has no result yet, nor has one whose process died)."""

    record: RunRecord
    plan: Plan | None

    @classmethod
    def of(cls, record: RunRecord, run_dir: Path) -> Shown:
        final = record.result.plan if record.result else None
        return cls(record, final or audit_plan(run_dir))

    @property
    def tasks(self) -> Mapping[str, TaskResult]:
        return self.record.result.tasks if self.record.result else {}

    def status(self, task_id: str) -> str:
        """A task's status: its result's, else whether it waits for a human (waiting), may
        yet run (pending) or will not (not run)."""
        if task_id in self.tasks:
            return self.tasks[task_id].status
        result = self.record.result
        if result and any(e.task_id == task_id for e in result.escalations):
            return "waiting"
        return "not run" if self.record.status in _ENDED else "pending"


def audit_plan(run_dir: Path) -> Plan | None:
    """The last plan a run's audit trail records (None without a trail, or a plan in it)."""
    from podium.policies import AUDIT_FILE, read_audit

    path = run_dir / AUDIT_FILE
    if not path.is_file():
        return None
    plans = [r for r in read_audit(path) if r.get("kind") == "plan_created"]
    if not plans:
        return None
    tasks = [
        {**t, "instruction": t.get("instruction") or "(not in the audit trail)"}
        for t in plans[-1].get("tasks") or []
    ]
    try:
        return Plan.model_validate({"tasks": tasks})
    except ValidationError:
        return None  # a trail edited or torn by hand: show the run without it


@dataclass(frozen=True)
class Room:
    """How much of each text a view shows (`--full`: all of it)."""

    full: bool = False

    def cut(self, text: str, limit: int, *, lines: int | None = None, flat: bool = False) -> str:
        if self.full:
            return text
        return clip(text, limit, lines=lines, flat=flat)


def run_json(shown: Shown, task_id: str | None) -> str:
    """The machine form: the run's stored record, or one task's result (a planned task without
    one: its task and "waiting_for_human", "pending" or "not_run")."""
    if task_id is None:
        return shown.record.model_dump_json(indent=2)
    task, result = _find_task(shown, task_id)
    if result is not None:
        return result.model_dump_json(indent=2)
    status = shown.status(task_id)
    status = "waiting_for_human" if status == "waiting" else status.replace(" ", "_")
    return json.dumps({"task": task.model_dump(mode="json"), "status": status}, indent=2)


def _questions(shown: Shown, task_id: str | None = None) -> Iterator[RenderableType]:
    """What the run waits for a person to answer (about `task_id`, when given), as `podium run`
    showed it, and the commands that answer it (a str: printed unwrapped, to be copied)."""
    result = shown.record.result
    for escalation in result.escalations if result else ():
        if task_id is None or escalation.task_id == task_id:
            yield escalation_panel(escalation)
            yield answer_lines(shown.record.run_id, escalation)


def show_run(shown: Shown, room: Room) -> Iterator[RenderableType]:
    """The run in brief: status, goal, the plan as a table, the answer."""
    record, result = shown.record, shown.record.result
    yield _run_header(record)
    yield Text("goal: ", style="bold") + Text(room.cut(request_of(record.goal), 300, lines=4))
    if record.error or (result and result.error):
        yield Text(room.cut(record.error or (result.error if result else "") or "", 600), "red")
    yield from _rejected_plans(record, room)
    if shown.plan is not None or shown.tasks:
        yield _PlanView(shown, room)
    if result is None:
        yield Text(_no_result(record), style="dim")
        return
    yield from _questions(shown)
    if result.answer:
        yield Panel(
            Text(room.cut(result.answer, 1500, lines=25)), title="answer", border_style="green"
        )
    hints = [f"one task: podium show {record.run_id} TASK"] if shown.tasks else []
    hints += ["whole texts: --full", "as stored: --json"]
    yield Text(" · ".join(hints), style="dim")


def _rejected_plans(record: RunRecord, room: Room) -> Iterator[RenderableType]:
    """The planner's replies that broke the plan rules (kept when planning fails): why each
    was refused, then the reply as written."""
    for n, rejected in enumerate(record.rejected_plans, 1):
        problems = rejected.get("problems") or ["(no problem recorded)"]
        body = Text("\n".join(f"- {room.cut(str(p), 300, flat=True)}" for p in problems))
        body.append("\nreply: ", style="bold")
        body.append(room.cut(str(rejected.get("output") or "(empty)"), 400, lines=6))
        yield _section(f"plan reply {n} refused", body)


def _run_header(record: RunRecord) -> Text:
    result = record.result
    parts = [f"run {record.run_id}", record.status, _when(record.created_at)]
    if result is not None:
        if result.finished_at is not None:
            parts.append(f"{result.finished_at - result.started_at:.1f}s")
        parts.append(f"{result.usage.total_tokens} tokens · ${result.usage.cost_usd:.4f}")
        if result.plan_revisions:
            parts.append(f"{result.plan_revisions} re-plan(s)")
    if record.tenant != "default":
        parts.append(f"tenant {record.tenant}")
    header = Text(" · ".join(parts), style="bold")
    header.stylize(_STYLE.get(record.status, "yellow"), len(parts[0]) + 3)
    return header


def _no_result(record: RunRecord) -> str:
    if record.status in ("running", "queued"):
        return f"the run is {record.status}: its tasks' results show here once it has ended"
    rejected = len(record.rejected_plans)
    return "no task ran" + (f" ({rejected} plan(s) rejected)" if rejected else "")


WIDE = 120
"""Columns from which the plan table has room for each task's model and instruction; narrower
(a piped 80-column default, a phone), they go on lines of their own below it."""


@dataclass(frozen=True)
class _PlanView:
    """The plan as a table, laid out for the width it is drawn at (known only then)."""

    shown: Shown
    room: Room

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        wide = options.max_width >= WIDE
        yield _plan_table(self.shown, self.room, wide=wide)
        if wide:
            return
        for task, done in _tasks(self.shown):
            line = Text(f"{task.id}", style="bold")
            line.append(f" · {_route(done) if done else self.shown.status(task.id)}", style="dim")
            yield line
            yield Padding(
                Text(self.room.cut(task.instruction, 200, flat=True)), (0, 0, 0, 2), expand=False
            )


def _plan_table(shown: Shown, room: Room, *, wide: bool) -> Table:
    revisions = shown.record.result.plan_revisions if shown.record.result else 0
    table = Table(
        title=f"plan (revision {revisions})" if revisions else "plan", title_justify="left"
    )
    for name in ("task", "agent", "status"):
        table.add_column(name, no_wrap=True)
    if wide:
        table.add_column("model", overflow="fold")
    table.add_column("tokens", justify="right", no_wrap=True)
    table.add_column("cost", justify="right", no_wrap=True)
    if wide:
        table.add_column("instruction", ratio=1, overflow="fold")
    for task, done in _tasks(shown):
        status = shown.status(task.id)
        usage = (
            [str(done.usage.total_tokens), f"${done.usage.cost_usd:.4f}"] if done else ["-", "-"]
        )
        if not wide:
            table.add_row(task.id, task.agent, Text(status, style=_STYLE.get(status, "")), *usage)
            continue
        table.add_row(
            task.id,
            task.agent,
            Text(status, style=_STYLE.get(status, "")),
            _route(done) if done else "-",
            *usage,
            Text(room.cut(task.instruction, 70, flat=True)),
        )
    return table


def _tasks(shown: Shown) -> list[tuple[Task, TaskResult | None]]:
    """The plan's tasks in order, then any that ran and a re-plan removed."""
    planned = list(shown.plan.topological_order()) if shown.plan else []
    rows = [(t, shown.tasks.get(t.id)) for t in planned]
    ids = {t.id for t in planned}
    return rows + [(r.task, r) for i, r in shown.tasks.items() if i not in ids]


def _route(done: TaskResult) -> str:
    """The model that answered, after the tiers tried when there were several:
    "cheap → frontier: gpt-4o"."""
    model = done.model or (done.routes[-1].tier if done.routes else "-")
    if len(done.routes) < 2:
        return model
    return " → ".join(r.tier for r in done.routes) + f": {model}"


def show_task(shown: Shown, task_id: str, room: Room) -> Iterator[RenderableType]:
    """Everything about one task: instruction, inputs, tries, usage, verdicts, tools, output."""
    task, done = _find_task(shown, task_id)
    status = shown.status(task.id)
    title = Text(f"task {task.id} [{task.agent}] · ", style="bold") + Text(
        status, style=_STYLE.get(status, "")
    )
    yield Text(f"run {shown.record.run_id} · ", style="dim") + title
    yield _section("instruction", Text(room.cut(task.instruction, 800, lines=12)))
    if task.inputs:
        yield _section("inputs", _inputs(shown.tasks, task.inputs, room))
    yield from _questions(shown, task.id)
    if done is None:
        return
    yield from _task_outcome(done, room)


def _task_outcome(done: TaskResult, room: Room) -> Iterator[RenderableType]:
    usage = done.usage
    yield Text(
        f"{usage.total_tokens} tokens ({usage.input_tokens} in, {usage.output_tokens} out) · "
        f"{usage.calls} model call(s) · ${usage.cost_usd:.4f} · {done.duration_s:.1f}s · "
        f"{done.attempts} attempt(s)" + (f" · model {done.model}" if done.model else ""),
        style="dim",
    )
    if done.error:
        kind = f"{done.failure.value}: " if done.failure else ""
        yield Text(f"{kind}{room.cut(done.error, 600)}", style="red")
    if done.routes:
        yield _routes_table(done, room)
    if done.verdicts:
        yield _verdicts_table(done, room)
    if done.tool_calls:
        yield _tools_table(done, room)
    notes = _notes(done)
    if notes:
        yield Text(" · ".join(notes), style="dim")
    if done.output is not None:
        yield Panel(
            Text(room.cut(done.output, 1500, lines=25)), title="output", border_style="green"
        )
    if done.rejected_output:
        yield Panel(
            Text(room.cut(done.rejected_output, 1500, lines=25)),
            title="refused output (kept for a human)",
            border_style="red",
        )


def _inputs(tasks: Mapping[str, TaskResult], inputs: Sequence[str], room: Room) -> Text:
    text = Text()
    for n, input_id in enumerate(inputs):
        given = tasks.get(input_id)
        shown = given.output if given and given.output is not None else "(no output)"
        text.append(("\n" if n else "") + f"{input_id}: ", style="bold")
        text.append(room.cut(shown, 240, flat=True))
    return text


def _routes_table(done: TaskResult, room: Room) -> Table:
    table = _table("tiers tried", "try", "tier", "model", "why this tier", "outcome")
    for r in done.routes:
        outcome = Text(r.outcome, style=_STYLE.get(r.outcome, "yellow"))
        if r.error:
            outcome.append(f": {room.cut(r.error, 160)}", style="dim")
        table.add_row(str(r.attempt), r.tier, r.model or "-", Text(room.cut(r.reason, 80)), outcome)
    return table


def _verdicts_table(done: TaskResult, room: Room) -> Table:
    # Numbered in order: a verdict's own `attempt` counts the re-asks within one try, which
    # read as a second numbering of tries beside the tiers-tried table's.
    table = _table("guard verdicts", "check", "action", "failures")
    for n, v in enumerate(done.verdicts, 1):
        failures = "; ".join(f"{f.validator}: {f.message}" for f in v.failures) or "-"
        style = "green" if v.passed else "red"
        table.add_row(str(n), Text(v.action, style=style), Text(room.cut(failures, 200)))
    return table


def _tools_table(done: TaskResult, room: Room) -> Table:
    table = _table("tool calls", "#", "tool", "arguments", "ok", "result")
    for n, call in enumerate(done.tool_calls, start=1):
        table.add_row(
            str(n),
            call.name,
            Text(room.cut(call.arguments, 100, flat=True)),
            Text("yes", "green") if call.ok else Text("no", "red"),
            Text(room.cut(call.result, 160, flat=True)),
        )
    return table


def _table(title: str, *columns: str) -> Table:
    """A table whose cells fold a long word onto the next line: rich's default ellipsis would
    cut a JSON blob or a URL without saying how much."""
    table = Table(title=title, title_justify="left")
    for name in columns:
        table.add_column(name, overflow="fold")
    return table


def _notes(done: TaskResult) -> list[str]:
    notes = []
    if done.tainted:
        notes.append("saw untrusted data (tool results or memory)")
    if done.approved_by:
        notes.append(f"approved by a {done.approved_by}")
    if done.repairs:
        notes.append("repairs: " + ", ".join(done.repairs))
    return notes


def _section(name: str, body: Text) -> Group:
    return Group(Text(name, style="bold underline"), body)


def _find_task(shown: Shown, task_id: str) -> tuple[Task, TaskResult | None]:
    if task_id in shown.tasks:
        return shown.tasks[task_id].task, shown.tasks[task_id]
    planned = {t.id: t for t in (shown.plan.tasks if shown.plan else ())}
    if task_id in planned:
        return planned[task_id], None
    known = sorted({*planned, *shown.tasks})
    raise RunNotFoundError(
        f"run {shown.record.run_id!r} has no task {task_id!r}: "
        + (f"its tasks are {', '.join(known)}" if known else "it has no tasks (no plan was made)")
    )


def _when(at: float) -> str:
    return datetime.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")
