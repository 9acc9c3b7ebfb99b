"""What a waiting run asks, shown to a person on the terminal: the question as its fields, the
commands that answer it, and once answered, what the answer did.

The words come from the escalation vocabulary (`engine/_escalation.py`: `summary`,
`answer_commands`, `decided`), so `podium run`, `resume`, `approve` and `podium chat` say what
the HTTP API and the web page say.
"""

from __future__ import annotations

import email
from collections.abc import Iterable, Sequence
from email.message import Message
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..engine._escalation import Decision, HumanAnswer, answer_commands, decided, summary
from ..engine._events import ToolCalled
from ..engine._result import Escalation

_MEANS = {
    Decision.APPROVE: "approve",
    Decision.REJECT: "reject",
    Decision.EDIT: "use TEXT instead",
    Decision.INSTRUCT: "run the task again with TEXT added",
    Decision.ANSWER: "reply TEXT",
}


def escalation_panel(escalation: Escalation, *, title: str = "waiting for you") -> Panel:
    """The escalation as a person reads it: its headline, then each field whole (an email's
    body keeps its lines); model text is never read as markup."""
    shown = summary(escalation)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for field in shown.fields:
        grid.add_row(field.label, Text(field.text))
    parts: list[RenderableType] = [Text(shown.headline, style="bold")]
    if shown.fields:
        parts.append(grid)
    return Panel(Group(*parts), title=f"{title}: {escalation.id}", border_style="yellow")


def answer_lines(run_id: str, escalation: Escalation) -> str:
    """The exact commands that answer `escalation`, one per decision it takes."""
    lines = [
        (command, _MEANS[decision]) for decision, command in answer_commands(run_id, escalation)
    ]
    width = max(len(c) for c, _ in lines)
    return "answer it with:\n" + "\n".join(f"  {c.ljust(width)}   # {m}" for c, m in lines)


def print_waiting(console: Console, run_id: str, escalations: Sequence[Escalation]) -> None:
    """A waiting run: each pending escalation, and how to answer it. Commands and paths are
    printed unwrapped (`soft_wrap`), to be copied whole; the panels wrap to the terminal."""
    count = f"{len(escalations)} question{'s' if len(escalations) != 1 else ''}"
    console.print(f"run {run_id} is waiting for a human ({count})", style="yellow", soft_wrap=True)
    for escalation in escalations:
        console.print(escalation_panel(escalation))
        console.print(answer_lines(run_id, escalation), soft_wrap=True, markup=False)


def waiting_document(run_id: str, escalations: Sequence[Escalation]) -> list[dict[str, Any]]:
    """The same for `--json`: per escalation its summary and commands, by decision."""
    return [
        {
            "id": e.id,
            "summary": summary(e).model_dump(mode="json"),
            "commands": {str(d): c for d, c in answer_commands(run_id, e)},
        }
        for e in escalations
    ]


def print_answering(console: Console, escalation: Escalation, answer: HumanAnswer) -> None:
    """What `podium approve` is about to answer, and the decision it sends."""
    console.print(escalation_panel(escalation, title="answering"))
    tool = escalation.tool
    line = f"your decision: {decided(answer, escalation.reason, tool=tool)}"
    console.print(line, style="bold", soft_wrap=True, markup=False)
    given = answer.output or answer.instructions or answer.text or answer.message
    if given:
        console.print(Text(given))


def effect_lines(
    run_id: str,
    answered: Iterable[tuple[Escalation, HumanAnswer]],
    calls: Sequence[ToolCalled],
    outbox: Path | None,
) -> list[str]:
    """What each answer did in the run that followed: the call made (an email: to whom, and
    the .eml written) or not made, the text used, the task run again."""
    return [_effect(run_id, e, a, calls, outbox) for e, a in answered]


def _effect(
    run_id: str,
    escalation: Escalation,
    answer: HumanAnswer,
    calls: Sequence[ToolCalled],
    outbox: Path | None,
) -> str:
    tool, task = escalation.tool, escalation.task_id
    if escalation.reason != "approval":
        return decided(answer, escalation.reason)
    if answer.decision is Decision.REJECT:
        told = f" (told: {answer.message})" if answer.message else ""
        return (
            f"rejected: {tool} was not called; agent {escalation.agent!r} was told to do "
            f"without it{told}"
        )
    made = [c for c in calls if c.task_id == task and c.tool == tool and c.decision == "approved"]
    if not made:
        return f"approved, but agent {escalation.agent!r} did not make the call again"
    if not made[-1].ok:
        return f"approved, but {tool} failed: see `podium show {run_id} {task}`"
    if tool == "send_email" and outbox is not None:
        sent = _sent_email(outbox, f"{run_id}/{task}")
        if sent is not None:
            path, message = sent
            return f"approved: the email to {message['To']} was sent (written to {path})"
    return f"approved: {tool} was called"


def _sent_email(outbox: Path, run_task: str) -> tuple[Path, Message] | None:
    """The newest message `send_email` wrote for this run's task (its X-Podium-Run header)."""
    found = []
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes())
        if message["X-Podium-Run"] == run_task:
            found.append((path.stat().st_mtime, path, message))
    if not found:
        return None
    _, path, message = max(found, key=lambda f: f[0])
    return path, message
