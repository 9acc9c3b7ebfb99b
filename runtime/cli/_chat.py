"""`podium chat`: a terminal conversation. Each message is a goal (a follow-up sees the earlier
turns); its plan fills in live; the run's questions are answered in place."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from podium.policies import Redactor

from .._errors import AnswerError, PodiumError
from ..engine._escalation import Decision, HumanAnswer, decisions_for, parse_answer
from ..engine._events import RunEvent
from ..engine._result import Escalation
from ..models._usage import Usage
from ..server._conversation import Turn, goal_with_context
from ._clip import clip
from ._escalations import effect_lines, escalation_panel
from ._progress import ProgressView

if TYPE_CHECKING:
    from .._api import Podium

HELP = """\
Type a goal and press Enter; a follow-up sees the earlier turns of this conversation.
  /runs          recent runs            /resume ID   continue a run (answer its questions)
  /cost          this session's cost    /agents      the registered agents
  /new           forget the earlier turns            /help        this text
  /quit          leave (Ctrl-D too); Ctrl-C stops a run, /resume continues it"""
CHAT_KEYS: dict[str, str] = {
    "a": Decision.APPROVE,
    "y": Decision.APPROVE,
    "yes": Decision.APPROVE,
    "e": Decision.EDIT,
    "r": Decision.REJECT,
    "n": Decision.REJECT,
    "no": Decision.REJECT,
    "i": Decision.INSTRUCT,
}
"""The chat's keystrokes for decisions (its own affordance: every interface sends the words)."""
FOLLOW_UP: dict[str, tuple[str, str]] = {
    Decision.EDIT: ("output", "text to use instead> "),
    Decision.INSTRUCT: ("instructions", "instructions for the agent> "),
}
"""What a decision that carries text asks for next: its field, and the prompt."""
MAX_TURNS = 20
"""Earlier turns kept for context (the goal size limit bounds them further)."""

Ask = Callable[[str], str]
"""Reads one line after showing a prompt (`input`, or a test's script)."""


@dataclass
class ChatSession:
    """One terminal conversation with a Podium instance."""

    podium: Podium
    console: Console
    history_dir: Path
    ask: Ask = input
    turns: list[Turn] = field(default_factory=list)
    spent: dict[str, Usage] = field(default_factory=dict)
    """Usage per run started or continued in this session."""

    @property
    def _turns_file(self) -> Path:
        return self.history_dir / "conversation.json"

    def load(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            raw = json.loads(self._turns_file.read_text(encoding="utf-8"))
            self.turns = [Turn.model_validate(t) for t in raw][-MAX_TURNS:]

    def save(self) -> None:
        self.history_dir.mkdir(parents=True, exist_ok=True)
        data = [t.model_dump() for t in self.turns[-MAX_TURNS:]]
        self._turns_file.write_text(json.dumps(data, indent=1), encoding="utf-8")

    # -- the loop

    def loop(self) -> int:
        self.load()
        self.console.print(
            f"[bold]podium chat[/bold] · {len(self.podium.agents.names())} agents · "
            f"{len(self.turns) // 2} earlier turn(s) kept (/new forgets them) · /help"
        )
        while True:
            try:
                line = self.ask("you> ").strip()
            except EOFError:
                self.console.print()
                return 0
            except KeyboardInterrupt:
                self.console.print()
                continue
            if not line:
                continue
            if line.startswith("/"):
                if self.command(line) == "quit":
                    return 0
                continue
            self.goal(line)

    def command(self, line: str) -> str | None:
        name, _, argument = line.partition(" ")
        match name:
            case "/quit" | "/exit" | "/q":
                return "quit"
            case "/help" | "/?":
                self.console.print(HELP)
            case "/runs":
                self.show_runs()
            case "/resume" if argument.strip():
                self.resume(argument.strip())
            case "/resume":
                self.console.print("[yellow]usage: /resume RUN_ID[/yellow] (see /runs)")
            case "/cost":
                self.show_cost()
            case "/agents":
                self.show_agents()
            case "/new":
                self.turns = []
                self.save()
                self.console.print("earlier turns forgotten")
            case _:
                self.console.print(f"[yellow]unknown command {name}[/yellow]: /help lists them")
        return None

    def goal(self, message: str) -> None:
        limit = self.podium.config.planner.max_goal_chars
        goal = goal_with_context(message, self.turns, max_chars=limit)
        from ..storage._store import new_run_id

        run_id = new_run_id()
        view = self._follow(lambda: self.podium.astream(goal, run_id=run_id))
        if view is None:
            return
        view = self._answer_escalations(run_id, view)
        if view.status == "completed":
            self.turns += [
                Turn(role="user", content=Redactor().redact(message)),  # saved: never a secret
                Turn(role="assistant", content=view.answer or ""),
            ]
            self.save()

    def resume(self, run_id: str) -> None:
        try:
            record = self.podium.store.get(run_id)
        except PodiumError as exc:
            self.console.print(Text(str(exc), style="red"))
            return
        if record.status == "waiting_for_human":
            self._answer_escalations(run_id, None)
            return
        view = self._follow(lambda: self.podium.astream_resume(run_id))
        if view is not None:
            self._answer_escalations(run_id, view)

    # -- showing a run

    def _follow(self, start: Callable[[], AsyncIterator[RunEvent]]) -> ProgressView | None:
        """Run the stream with the live tree; None when it could not start (the error shown)."""
        view = ProgressView()
        run_id = ""

        async def show() -> None:
            nonlocal run_id
            with Live(view.render(), console=self.console, refresh_per_second=8) as live:
                async for event in start():
                    run_id = event.run_id
                    view.emit(event)
                    live.update(view.render())

        try:
            asyncio.run(show())
        except PodiumError as exc:
            if view.status == "running":  # it never started, or never said how it ended
                self.console.print(Text(str(exc), style="red"))
                return None
        except KeyboardInterrupt:
            self.console.print(
                f"[yellow]stopped[/yellow]: the run is cancelled; `/resume {run_id}` continues it"
            )
            return None
        if run_id:  # the run's result counts everything it spent, over all its resumes
            self.spent[run_id] = self._usage(run_id)
        self._print_outcome(view, run_id)
        return view

    def _usage(self, run_id: str) -> Usage:
        record = self.podium.store.get(run_id)
        return record.result.usage if record.result else Usage()

    def _print_outcome(self, view: ProgressView, run_id: str) -> None:
        cost = f"{view.tokens} tokens · ${view.cost_usd:.4f} · run {run_id}"
        if view.status == "completed":
            answer = Text(view.answer or "")  # model text: never read as markup
            self.console.print(Panel(answer, title="answer", subtitle=cost, border_style="green"))
        elif view.status != "waiting_for_human":
            kind = f" ({view.error_kind})" if view.error_kind else ""
            line = f"run {view.status}{kind}: {view.error} ({cost})"
            self.console.print(Text(line, style="red"))

    def _answer_escalations(self, run_id: str, view: ProgressView | None) -> ProgressView:
        """While the run waits for a human: ask each question here, then continue the run."""
        while True:
            record = self.podium.store.get(run_id)
            pending = record.result.escalations if record.result else []
            if record.status != "waiting_for_human" or not pending:
                return view or ProgressView(status=record.status)
            answers = {e.id: self._ask_one(e) for e in pending}
            answered = {k: v for k, v in answers.items() if v is not None}
            if not answered:
                self.console.print(f"left waiting: `/resume {run_id}` answers it later")
                return view or ProgressView(status=record.status)
            resumed = self._follow(
                functools.partial(self.podium.astream_resume, run_id, answers=answered)
            )
            if resumed is None:
                return view or ProgressView(status="cancelled")
            view = resumed
            asked = [(e, answered[e.id]) for e in pending if e.id in answered]
            outbox = (
                self.podium.config.tools.outbox or self.podium.config.storage.data_dir / "outbox"
            )
            for line in effect_lines(run_id, asked, view.calls, outbox):
                self.console.print(line, style="bold", soft_wrap=True, markup=False)

    def _ask_one(self, escalation: Escalation) -> HumanAnswer | None:
        """The person's answer to one escalation, or None when they skip it (it stays pending)."""
        self.console.print(escalation_panel(escalation, title="the run asks"))
        takes = decisions_for(escalation.reason, escalation.task_id)
        if escalation.reason == "clarify":  # the planner's question: answered in words
            prompt = "your answer (empty: skip; reject: refuse to answer)> "
        else:
            prompt = f"{', '.join(takes)} or skip? [{'/'.join(d[0] for d in takes)}/s] "
        while True:
            try:
                typed = self.ask(prompt).strip()
                if typed.lower() in ("", "s", "skip"):
                    return None
                return parse_answer(self._answer_typed(typed, escalation.reason), escalation)
            except (EOFError, KeyboardInterrupt):
                return None
            except AnswerError as exc:
                self.console.print(Text(exc.message, style="yellow"))

    def _answer_typed(self, typed: str, reason: str) -> str | dict[str, str]:
        """What was typed, with the chat's keystrokes read as decisions and the text an edit or
        instructions need asked for."""
        if reason == "clarify":
            return typed
        decision = CHAT_KEYS.get(typed.lower(), typed.lower())
        if decision in FOLLOW_UP:
            field, prompt = FOLLOW_UP[decision]
            return {"decision": decision, field: self.ask(prompt)}
        return decision

    # -- commands

    def show_runs(self) -> None:
        table = Table("run id", "status", "goal", "tokens", "cost")
        for record in self.podium.runs(limit=15):
            usage = record.result.usage if record.result else None
            table.add_row(
                record.run_id,
                record.status,
                clip(record.goal.split("\n", 1)[0], 60),
                str(usage.total_tokens) if usage else "-",
                f"${usage.cost_usd:.4f}" if usage else "-",
            )
        self.console.print(table)

    def show_cost(self) -> None:
        total = sum(self.spent.values(), Usage())
        table = Table("run id", "calls", "tokens", "cost", title="this session")
        for run_id, usage in self.spent.items():
            table.add_row(
                run_id, str(usage.calls), str(usage.total_tokens), f"${usage.cost_usd:.4f}"
            )
        table.add_row("total", str(total.calls), str(total.total_tokens), f"${total.cost_usd:.4f}")
        self.console.print(table)

    def show_agents(self) -> None:
        table = Table("agent", "tier", "tools", "description")
        for spec in self.podium.agents.specs():
            table.add_row(spec.name, spec.tier, ", ".join(spec.tools) or "-", spec.description)
        self.console.print(table)


def run_chat(podium: Podium, *, console: Console | None = None, ask: Ask | None = None) -> int:
    """The `podium chat` loop on the terminal, with line editing and history between sessions."""
    history_dir = podium.config.storage.data_dir / "chat"
    console = console or Console(highlight=False)
    session = ChatSession(podium, console, history_dir, ask=ask or input)
    with _line_history(history_dir / "input_history"):
        return session.loop()


@contextlib.contextmanager
def _line_history(path: Path) -> Any:
    try:
        import readline
    except ImportError:  # not on every platform: chat works without line history
        yield
        return
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(1000)
    try:
        yield
    finally:
        # Lines are kept on disk: a secret typed into a goal is masked there too.
        redact = Redactor().redact
        for index in range(readline.get_current_history_length()):
            line = readline.get_history_item(index + 1)
            if line and (masked := redact(line)) != line:
                readline.replace_history_item(index, masked)
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            readline.write_history_file(path)
