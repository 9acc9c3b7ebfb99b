"""Live progress for the terminal: the plan as a tree, each task's state, time and tokens."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from .._errors import PodiumError
from ..engine._events import RunEvent, ToolCalled
from ..engine._plan import Plan, Task
from ..engine._result import Escalation
from ..engine._sinks import EventSink
from ..server._conversation import request_of
from ._clip import clip
from ._escalations import print_waiting
from ._outcome import ExitCode, exit_code, outcome_line

_STYLE = {
    "pending": "dim",
    "waiting": "bold magenta",
    "stopped": "red",
    "queued": "cyan",
    "running": "yellow",
    "completed": "green",
    "failed": "red",
    "skipped": "magenta",
    "retrying": "yellow",
}


@dataclass
class _TaskView:
    state: str = "pending"
    """pending (for its inputs or a free task slot), queued (its model call waits for the model,
    serving another task's), running, retrying, waiting (for a person's answer, as `podium
    show` says), completed, failed, skipped, stopped (the run ended around it)."""
    started: float | None = None
    elapsed: float | None = None
    tokens: int = 0
    note: str = ""
    output: str = ""
    model: str = ""
    route: str = ""
    sources: list[str] = field(default_factory=list)
    """What its tool calls read: "query_dataset crm_leads", "read_file docs/contract.md"."""


@dataclass
class ProgressView(EventSink):
    """Folds run events into what the screen shows: an event sink of one run."""

    goal: str = ""
    run_id: str = ""
    plan: Plan | None = None
    revision: int = 0
    playbook: str | None = None
    """Which playbook the plan came from, and how (from the first PlanCreated)."""
    tasks: dict[str, _TaskView] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    answer: str | None = None
    status: str = "running"
    error: str | None = None
    error_kind: str | None = None
    tokens: int = 0
    cost_usd: float = 0.0
    escalations: list[Escalation] = field(default_factory=list)
    """Escalations the run raised (as their events tell them); pending when it waits."""
    answered: list[str] = field(default_factory=list)
    """What each answer this resume brought does ("approval-send-…: approved: ...")."""
    calls: list[ToolCalled] = field(default_factory=list)
    """Tool calls a human approved or rejected: what an answer did (`_escalations.effect_lines`)."""

    def emit(self, event: RunEvent) -> None:
        self.run_id = event.run_id
        match event.kind:
            case "run_started":
                self.goal = event.goal
            case "plan_created":
                self.plan, self.revision = event.plan, event.revision
                self.playbook = event.playbook or self.playbook
                for t in event.plan.tasks:
                    self.tasks.setdefault(t.id, _TaskView())
            case "plan_rejected":
                # The problems are feedback for the planner (in its next prompt and the audit).
                self.error = (
                    f"plan attempt {event.attempt} broke {len(event.problems)} plan rule(s): "
                    "asking the planner again"
                )
            case "task_started":
                view = self.tasks.setdefault(event.task_id, _TaskView())
                view.state, view.started = "running", time.monotonic()
                view.note = f"{event.tier}: {event.reason}" if event.reason else event.tier
                view.route = " → ".join(filter(None, [view.route, event.tier]))
            case "model_turn":
                view = self.tasks.setdefault(event.task_id, _TaskView())
                if view.state in ("running", "queued"):
                    view.state = "queued" if event.state == "waiting" else "running"
            case "task_completed":
                view = self.tasks.setdefault(event.task_id, _TaskView())
                view.state, view.elapsed, view.tokens = (
                    "completed",
                    event.duration_s,
                    event.usage.total_tokens,
                )
                view.note = "restored from checkpoint" if event.restored else ""
                view.output, view.model = event.output, event.model or ""
                self.tokens += event.usage.total_tokens
                self.cost_usd += event.usage.cost_usd
            case "task_failed":
                view = self.tasks.setdefault(event.task_id, _TaskView())
                view.state = "retrying" if event.will_retry else "failed"
                view.note = clip(event.error, 80, flat=True)
            case "task_skipped":
                self.tasks.setdefault(event.task_id, _TaskView()).state = "skipped"
            case "replanned":
                self.error = f"re-planned ({clip(event.reason, 80, flat=True)})"
            case "guard_verdict" if event.failures and event.target == "task":
                view = self.tasks.setdefault(event.subject, _TaskView())
                names = ", ".join(f.validator for f in event.failures)
                view.note = f"guard {event.action}: {names}"
            case "tool_called" if event.decision in ("denied", "rejected"):
                if event.decision == "rejected":
                    self.calls.append(event)
                view = self.tasks.setdefault(event.task_id, _TaskView())
                view.note = f"{event.tool} {event.decision}: {clip(event.reason, 60, flat=True)}"
            case "tool_called" if event.ok is not None:
                if event.decision == "approved":
                    self.calls.append(event)
                view = self.tasks.setdefault(event.task_id, _TaskView())
                source = _source(event.tool, event.arguments)
                if event.ok and source not in view.sources:
                    view.sources.append(source)
            case "escalation":
                if event.task_id is not None:  # the task waits for a person, its clock stopped
                    view = self.tasks.setdefault(event.task_id, _TaskView())
                    view.state, view.elapsed = "waiting", _since(view.started)
                    view.note = f"asks a person ({event.escalation_id})"
                self.escalations.append(
                    Escalation(
                        id=event.escalation_id,
                        reason=event.reason,
                        question=event.question,
                        task_id=event.task_id,
                        agent=event.agent,
                    )
                )
            case "escalation_answered":
                self.answered.append(f"{event.escalation_id}: {event.effect}")
            case "run_finished":
                self.status, self.answer, self.error = event.status, event.answer, event.error
                self.error_kind = event.error_kind
                self.tokens, self.cost_usd = event.usage.total_tokens, event.usage.cost_usd
                for view in self.tasks.values():  # the run is over: nothing runs any more
                    if view.state in ("running", "queued", "retrying"):
                        view.state, view.elapsed = "stopped", _since(view.started)

    def outputs(self, limit: int = 160) -> Table:
        """Each task's output in a line or two, in plan order; whole in `podium show --full`."""
        table = Table(
            "task", "agent", "tiers", "output", title="task outputs", title_justify="left"
        )
        cut = False
        for t in self.plan.topological_order() if self.plan else []:
            view = self.tasks.get(t.id, _TaskView())
            shown = clip(view.output, limit, flat=True)
            cut = cut or shown != " ".join(view.output.split())
            table.add_row(t.id, t.agent, view.route, Text(shown))  # Text: brackets are not markup
        if cut and self.run_id:
            table.caption = f"whole outputs: podium show {self.run_id} TASK --full"
            table.caption_justify = "left"
        return table

    def sources(self) -> Text | None:
        """What the answer rests on: each task's tool reads, in plan order."""
        parts = [
            f"{t.id}: {', '.join(self.tasks[t.id].sources)}"
            for t in (self.plan.topological_order() if self.plan else [])
            if t.id in self.tasks and self.tasks[t.id].sources
        ]
        return Text("sources · " + " · ".join(parts), style="dim") if parts else None

    def render(self) -> Panel:
        """The panel; its clocks read the time whenever it is drawn (see `_Clock`)."""
        heading = "planning…" if self.status == "running" else "no plan"
        tree = Tree(
            Text(f"plan (revision {self.revision})" if self.plan else heading, style="bold")
        )
        for t in self.plan.topological_order() if self.plan else []:
            tree.add(_Clock(functools.partial(self._task_label, t)))
        parts: list[RenderableType] = [tree, _Clock(self._footer)]
        if self.playbook:
            parts.insert(1, Text(f"playbook {self.playbook}", style="dim"))
        parts += [Text(f"answered {line}", style="dim") for line in self.answered]
        if self.error and self.status == "running":
            parts.append(Text(self.error, style="yellow"))
        return Panel(Group(*parts), title=Text(goal_title(self.goal)), border_style="blue")

    def _task_label(self, t: Task) -> Text:
        """A task's line, its instruction under it: state, time so far, tokens, inputs, note."""
        view = self.tasks.get(t.id, _TaskView())
        elapsed = view.elapsed if view.elapsed is not None else _since(view.started)
        return Text.assemble(
            (f"{t.id} ", "bold"),
            (f"[{t.agent}] ", "cyan"),
            (view.state, _STYLE.get(view.state, "")),
            f"  {elapsed:.1f}s  {view.tokens} tok",
            (f"  ← {', '.join(t.inputs)}" if t.inputs else "", "dim"),
            (f"  {view.note}" if view.note else "", "dim"),
            ("\n" + clip(t.instruction, 110, flat=True), "dim italic"),
        )

    def _footer(self) -> Text:
        return Text(
            f"{time.monotonic() - self.started:.1f}s elapsed · {self.tokens} tokens · "
            f"${self.cost_usd:.4f}",
            style="dim",
        )


def _since(started: float | None) -> float:
    """Seconds from `started` (a monotonic time) to now; 0 when it never started."""
    return time.monotonic() - started if started else 0.0


@dataclass(frozen=True)
class _Clock:
    """Text made when it is drawn, not when the panel is built: the live display redraws
    several times a second, so times tick between events (planning sends none for seconds)."""

    make: Callable[[], Text]

    def __rich__(self) -> Text:
        return self.make()


def goal_title(goal: str, limit: int = 70) -> str:
    """The request a goal starts with, in a line of at most `limit` characters, its cut marker
    included (a panel's border would clip the marker of a longer one): a chat follow-up's goal
    carries the earlier turns after it (`request_of`), which are context for the planner,
    not the title."""
    request = request_of(goal)
    room = limit
    title = clip(request, room, flat=True)
    while len(title) > limit and room > 1:
        room -= len(title) - limit
        title = clip(request, max(room, 1), flat=True)
    return title or "podium"


def _source(tool: str, arguments: str) -> str:
    """A tool call as a source: its name and the dataset, file or URL it read."""
    try:
        args = json.loads(arguments)
    except json.JSONDecodeError:
        args = None
    if isinstance(args, dict):
        for key in ("dataset", "path", "url", "folder", "query"):
            if isinstance(args.get(key), str):
                return f"{tool} {args[key]}"
    return tool


Pending = Callable[[str], Sequence[Escalation]]
"""A waiting run's pending escalations by run id, as stored (with the call's arguments, the
refused output): what the end of `follow` shows. Without it, what the events said."""


async def follow(
    events: AsyncIterator[RunEvent],
    console: Console | None = None,
    *,
    pending: Pending | None = None,
    view: ProgressView | None = None,
) -> int:
    """Show a run live, then its answer or why it has none, or what it waits for and how to
    answer. Returns the process exit code (`ExitCode`). An error raised after the run's end was
    shown (PlanError) is that end. `view`: the caller's, to read what happened afterwards."""
    console = console or Console()
    view = view or ProgressView()
    try:
        with Live(view.render(), console=console, refresh_per_second=8, transient=False) as live:
            try:
                async for event in events:
                    view.emit(event)
                    live.update(view.render())
            except PodiumError:
                if view.status == "running":
                    raise  # the run never said how it ended: `main` reports the error
    finally:
        if not console.is_terminal:
            # Piped, the last frame ends without a newline, whatever ends the run (an error
            # line, the outputs table): without one, the next line glues to the box ("╯error:").
            console.print()
    if view.plan is not None:
        console.print(view.outputs())
    if view.status == "completed":
        console.print(Panel(Text(view.answer or ""), title="answer", border_style="green"))
        if (sources := view.sources()) is not None:
            console.print(sources)
        return ExitCode.COMPLETED
    if view.status == "waiting_for_human":
        escalations = pending(view.run_id) if pending else view.escalations
        print_waiting(console, view.run_id, escalations)
        return ExitCode.WAITING
    print(outcome_line(view.status, view.error_kind, view.error), file=sys.stderr)
    return exit_code(view.status)
