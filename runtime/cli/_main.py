"""The `podium` command. Imports stay inside the commands so `podium --help` answers at once.

Other packages add commands through the `podium.commands` entry-point group (`COMMANDS_GROUP`):
podium.evals adds `eval` and `bench`, and `run --record`. Entry points are the packaging
standard's plug-in registry (pytest's plugins and console scripts use it): the CLI finds the
commands in installed metadata without importing the packages that provide them, so the runtime
never imports podium.evals, and an install without it simply has no such commands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._api import Podium
    from .._config import PodiumConfig
    from .._config_file import StorageConfig
    from ..engine._plan import Plan
    from ..engine._result import Escalation, RunResult
    from ..storage._store import RunRecord


def main(argv: list[str] | None = None) -> int:
    # jsonschema imports rfc3987_syntax when it is installed (a transitive dependency here), which
    # builds a parser at import: 3.2 s of every command, measured. Podium validates schemas
    # without format checks, so the `podium` process (not a library user's) goes without it.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    if args.verbose:
        import logging

        # INFO reaches every logger, llama-cpp-python's too: the embedded model then loads
        # with llama.cpp's messages shown (`llama_verbose`).
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from .._errors import PodiumError

    try:
        code: int = args.handler(args)
    except PodiumError as exc:
        from ._outcome import error_exit_code

        if getattr(args, "json", False):  # one JSON document whatever happens: the error's
            import json

            from ._outcome import error_document

            print(json.dumps(error_document(exc, getattr(args, "goal", None)), indent=2))
        print(f"error: {exc}", file=sys.stderr)
        return error_exit_code(exc)
    except Exception as exc:
        # A full or read-only disk, or an OSError on a file under the data folder, met outside
        # the run store's seams (which raise StorageError, above): one line, like any other
        # error. Anything else is a bug (a tool's, a dataset's) and keeps its traceback.
        from ..storage._store import storage_failure

        failure = storage_failure(exc, _data_dir(args))
        if failure is None:
            raise
        print(f"error: {failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(_interrupted(args), file=sys.stderr)
        return 130
    return code


def _interrupted(args: argparse.Namespace) -> str:
    """What Ctrl-C says: the exact command that continues the run it stopped, if one started
    (`podium run` sets `started_run` once the run exists; resume and approve name theirs)."""
    run_id = getattr(args, "started_run", None)
    if run_id is None and getattr(args, "names_run", False):
        run_id = args.run_id
    if run_id is None:
        return "interrupted"
    import shlex

    config = f" --config {shlex.quote(str(args.config))}" if args.config else ""
    command = f"podium{config} resume {shlex.quote(run_id)}"
    return f"interrupted: run {run_id} stopped; its finished tasks are kept. Continue it with:\n  {command}"


class _VersionAction(argparse.Action):
    """argparse's "version" action, but reading the installed version only when asked: the
    package metadata scan costs every other command ~60 ms."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(f"podium {_version()}")
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("podium")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _data_dir(args: argparse.Namespace) -> Path | None:
    """The data folder the configuration names, to tell its failures from other errors; None
    when the configuration cannot be read (the error being reported may be why)."""
    try:
        return _storage(args).data_dir
    except Exception:  # any reason at all: the error already being reported is what matters
        return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="podium",
        description="Podium: plan a goal into a task graph and run it with specialist agents.",
    )
    parser.add_argument(
        "--config", type=Path, help="path to podium.toml (default: ./podium.toml if present)"
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="show the installed version and exit"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log what happens on stderr, llama.cpp's messages included (quiet by default)",
    )
    sub = parser.add_subparsers(metavar="COMMAND")

    run = sub.add_parser("run", help="run a goal and print the answer")
    run.add_argument("goal")
    run.add_argument(
        "--json", action="store_true", help="print the RunResult as JSON instead of live progress"
    )
    run.add_argument("--run-id", help="choose the run id (default: generated)")
    run.set_defaults(handler=_cmd_run)

    resume = sub.add_parser("resume", help="continue a crashed or stopped run")
    resume.add_argument("run_id")
    resume.add_argument("--json", action="store_true")
    resume.set_defaults(handler=_cmd_resume, names_run=True)

    runs = sub.add_parser("runs", help="list runs and their status")
    runs.add_argument("--tenant", help="only this tenant's runs")
    runs.add_argument("--limit", type=int, default=50, help="newest N runs (default 50)")
    runs.set_defaults(handler=_cmd_runs)

    approve = sub.add_parser(
        "approve",
        help="answer a run's pending escalation (approve, reject, edit, or answer the planner's "
        "question) and resume it",
    )
    approve.add_argument("run_id")
    approve.add_argument("escalation_id", nargs="?", help="needed when several are pending")
    verdict = approve.add_mutually_exclusive_group()
    verdict.add_argument("--reject", action="store_true", help="refuse the call or the output")
    verdict.add_argument("--edit", metavar="TEXT", help="use TEXT as the output instead")
    verdict.add_argument(
        "--instruct", metavar="TEXT", help="run the task again with TEXT added to its instructions"
    )
    verdict.add_argument(
        "--answer", metavar="TEXT", help="answer the planner's question (a clarify escalation)"
    )
    approve.add_argument("--json", action="store_true")
    approve.set_defaults(handler=_cmd_approve, names_run=True)

    audit = sub.add_parser("audit", help="print a run's audit trail")
    audit.add_argument("run_id")
    audit.add_argument("--json", action="store_true", help="one JSON record per line, as stored")
    audit.add_argument(
        "--full", action="store_true", help="every field whole (default: cut, marked)"
    )
    audit.set_defaults(handler=_cmd_audit)

    show = sub.add_parser(
        "show",
        help="a stored run: status, goal, plan and answer; with TASK, everything about that task",
        description="Without TASK: the run's status, goal, plan (a row per task: status, agent, "
        "model, tokens, cost, instruction) and answer. With TASK: its instruction, inputs, "
        "tiers and models tried, usage, guard verdicts, tool calls and output. Long text is "
        "cut, each cut marked with what was left out.",
    )
    show.add_argument("run_id")
    show.add_argument("task", nargs="?", help="a task id of the run (see the plan)")
    show.add_argument("--full", action="store_true", help="every text whole")
    show.add_argument(
        "--json",
        action="store_true",
        help="the stored run record as JSON (with TASK: that task's TaskResult)",
    )
    show.set_defaults(handler=_cmd_show)

    doctor = sub.add_parser(
        "doctor",
        help="check this install: Python, lock, embedded model, embeddings, Chroma, guards, tiers",
    )
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.add_argument(
        "--only",
        type=lambda v: [c.strip() for c in v.split(",") if c.strip()],
        help="comma-separated checks to run (default: all): " + ", ".join(_doctor_checks()),
    )
    doctor.add_argument("--quiet", action="store_true", help="print only warnings and failures")
    doctor.set_defaults(handler=_cmd_doctor)
    agents = sub.add_parser("agents", help="list the registered agents")
    agents.set_defaults(handler=_cmd_agents)
    playbooks = sub.add_parser(
        "playbooks", help="list the playbooks (plan templates) goals are matched to"
    )
    playbooks.add_argument("--json", action="store_true", help="print them as JSON")
    playbooks.set_defaults(handler=_cmd_playbooks)

    _memory_parser(sub)
    _serve_parsers(sub)
    _plugged_in(sub)
    return parser


COMMANDS_GROUP = "podium.commands"
"""The entry-point group of command plugins. Each entry point names an `AddCommands`."""

Handler = Callable[[argparse.Namespace], int]
"""What a command runs: the parsed arguments in, the exit code out (set as `handler` default)."""

AddCommands = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
"""A plugin: adds its commands to `podium`'s subcommands (argparse's subparsers action), each
with a `Handler` as its `handler` default. It may extend a built-in command, found in the
action's `choices` (podium.evals adds `--record` to `run`, wrapping its handler)."""


def _plugged_in(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from importlib.metadata import entry_points

    for plugin in sorted(entry_points(group=COMMANDS_GROUP), key=lambda p: p.name):
        add: AddCommands = plugin.load()
        add(sub)


def _memory_parser(sub: Any) -> None:
    mem = sub.add_parser("memory", help="shared memory: search, forget, stats")
    mem_sub = mem.add_subparsers(metavar="MEMORY")
    search = mem_sub.add_parser("search", help="entries closest to a query, with provenance")
    search.add_argument("query")
    search.add_argument("--tenant", help="default: [memory] tenant")
    search.add_argument(
        "--namespace", help="tenant | run:RUN_ID | agent:NAME (default: every namespace)"
    )
    search.add_argument("-k", type=int, default=None, help="how many (default: [memory] top_k)")
    search.set_defaults(handler=_cmd_memory_search)
    forget = mem_sub.add_parser("forget", help="delete an entry, a run's memory or a tenant's")
    what = forget.add_mutually_exclusive_group(required=True)
    what.add_argument("--id", dest="entry_id", help="one entry")
    what.add_argument("--run", dest="run_id", help="everything a run wrote")
    what.add_argument("--all", action="store_true", help="the whole tenant")
    forget.add_argument("--tenant", help="default: [memory] tenant")
    forget.set_defaults(handler=_cmd_memory_forget)
    stats = mem_sub.add_parser("stats", help="entries and plans per tenant and namespace")
    stats.add_argument("--tenant")
    stats.set_defaults(handler=_cmd_memory_stats)


def _memory_store(args: argparse.Namespace) -> Any:
    from .._config import PodiumConfig
    from .._errors import ConfigError

    config = PodiumConfig.load(args.config)
    if not config.memory.enabled:
        raise ConfigError("shared memory is off in this configuration ([memory] enabled = false)")
    from podium.memory import MemoryStoreError, open_store
    from podium.policies import Redactor

    try:
        redact = Redactor(pii=frozenset(config.memory.redact_pii)).redact
        return open_store(config.memory, config.storage.data_dir, redact=redact)
    except MemoryStoreError as exc:
        raise ConfigError(f"[memory]: {exc}") from None


def _cmd_memory_search(args: argparse.Namespace) -> int:
    from podium.memory import MemoryStoreError, provenance, search_memory

    with _memory_store(args) as store:
        try:
            hits = search_memory(
                store, args.query, tenant=args.tenant, namespace=args.namespace, k=args.k
            )
        except MemoryStoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for number, hit in enumerate(hits, start=1):
            print(f"[{number}] {hit.entry.id} | {provenance(hit.entry, hit.score)}")
            print("    " + hit.entry.text.replace("\n", "\n    "))
        if not hits:
            print("nothing found")
    return 0


def _cmd_memory_forget(args: argparse.Namespace) -> int:
    from podium.memory import MemoryStoreError, forget_memory

    with _memory_store(args) as store:
        tenant = args.tenant or store.config.tenant
        try:
            removed = forget_memory(
                store, tenant=tenant, run_id=args.run_id, entry_id=args.entry_id
            )
        except MemoryStoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(f"forgot {removed} entr{'y' if removed == 1 else 'ies'} of tenant {tenant!r}")
    return 0


def _cmd_memory_stats(args: argparse.Namespace) -> int:
    from podium.memory import memory_stats, render_stats

    with _memory_store(args) as store:
        print(render_stats(memory_stats(store, args.tenant)))
    return 0


def _config(args: argparse.Namespace) -> PodiumConfig:
    """The configuration `--config` names (else $PODIUM_CONFIG, ./podium.toml or defaults)."""
    from .._config import PodiumConfig

    return PodiumConfig.load(args.config)


def _storage(args: argparse.Namespace) -> StorageConfig:
    """Where the configuration keeps the runs, read without the rest of it: what `runs`,
    `show` and `audit` need (importing the whole configuration's models costs them ~0.2 s)."""
    from .._config_file import load_storage

    return load_storage(args.config)


def _stored(args: argparse.Namespace, storage: StorageConfig) -> RunRecord:
    """`args.run_id`'s record, read from the run store alone (no Podium: no model, LangGraph
    or memory is loaded to read it); a "running" run whose process is gone reads cancelled."""
    from ..storage._store import open_run_store, settle_stale

    store = open_run_store(storage)
    try:
        return settle_stale(store, store.get(args.run_id))
    finally:
        store.close()


def _podium(args: argparse.Namespace) -> Podium:
    """A `Podium` for commands that run or plan something; the listing commands (`agents`,
    `runs`, `audit`) read the configuration alone, and load no model, LangGraph or Chroma."""
    from .._api import Podium

    return Podium(_config(args))


def _cmd_run(args: argparse.Namespace) -> int:
    from ..engine._policy import check_goal_input
    from ..storage._store import new_run_id

    args.started_run = run_id = args.run_id or new_run_id()
    # An empty or refused goal is one error line (with --json, its document), at once: before
    # the model stack loads, and before any live view is drawn.
    config = _config(args)
    goal = check_goal_input(
        args.goal, max_chars=config.planner.max_goal_chars, config=config.policies
    )
    if args.json:  # one JSON document whatever happens
        from ._outcome import print_json_outcome

        return print_json_outcome(
            lambda: _podium(args),
            lambda podium, run_id: podium.run(goal, run_id=run_id),
            run_id=run_id,
            goal=args.goal,
        )
    podium = _podium(args)
    import asyncio

    from ._progress import follow

    return asyncio.run(follow(podium.astream(goal, run_id=run_id), pending=_pending(podium)))


def _pending(podium: Podium) -> Callable[[str], list[Escalation]]:
    """A run's pending escalations as stored: what `follow` shows when the run waits."""

    def pending(run_id: str) -> list[Escalation]:
        result = podium.store.get(run_id).result
        return list(result.escalations) if result else []

    return pending


def _cmd_resume(args: argparse.Namespace) -> int:
    from ._outcome import ExitCode, print_json_outcome, print_waiting_json

    record = _stored(args, _storage(args))  # the store alone: a waiting run needs no model
    if record.status == "waiting_for_human" and record.result is not None:
        # Nothing to resume until it is answered: say what it asks and how, not an error.
        if args.json:
            return print_waiting_json(record.result)
        from rich.console import Console

        from ._escalations import print_waiting

        console = Console()
        print_waiting(console, record.run_id, record.result.escalations)
        console.print("`podium resume` continues a stopped run; this one goes on once answered.")
        return ExitCode.WAITING
    podium = _podium(args)
    podium.check_resumable(record)  # a run with nothing to resume: one line, no live panel
    if args.json:
        return print_json_outcome(
            lambda: podium,
            lambda podium, run_id: podium.resume(run_id),
            run_id=args.run_id,
        )
    import asyncio

    from ._progress import follow

    return asyncio.run(follow(podium.astream_resume(args.run_id), pending=_pending(podium)))


def _cmd_runs(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..storage._store import listed_runs, open_run_store, storing

    storage = _storage(args)
    with storing(storage.data_dir):
        store = open_run_store(storage)
        try:
            records = listed_runs(store, tenant=args.tenant, limit=args.limit)
        finally:
            store.close()

    from ..server._conversation import request_of
    from ._clip import clip

    table = Table("run id", "status", "goal", "done", "tokens")
    for column in table.columns[:2]:  # the id is what every other command takes: never cut
        column.no_wrap = True
    for record in records:
        result = record.result
        tasks, tokens = "-", "-"
        if result is not None:
            planned = len(result.plan.tasks) if result.plan else len(result.tasks)
            done = sum(1 for r in result.tasks.values() if r.status == "completed")
            tasks = f"{done}/{planned}" if planned else "-"  # "-": it never had a plan
            tokens = str(result.usage.total_tokens)
        goal = clip(request_of(record.goal), 60, flat=True)
        table.add_row(record.run_id, record.status, goal, tasks, tokens)
    Console().print(table)
    return 0


def _cmd_approve(args: argparse.Namespace) -> int:
    import asyncio

    from .._errors import RunStateError

    podium = _podium(args)
    record = podium.store.get(args.run_id)
    podium.check_resumable(record, answering=True)
    pending = record.result.escalations if record.result else []
    chosen = [e for e in pending if e.id == args.escalation_id] if args.escalation_id else pending
    if len(chosen) != 1:
        from ..engine._escalation import summary

        listing = "; ".join(
            f"`podium approve {args.run_id} {e.id}` ({summary(e).headline})" for e in pending
        )
        raise RunStateError(
            f"name one pending escalation of run {args.run_id!r}: {listing}"
            if not args.escalation_id
            else f"run {args.run_id!r} has no pending escalation {args.escalation_id!r}: {listing}"
        )
    escalation = chosen[0]
    answer = podium.check_answers(record, {escalation.id: _answer_of(args)})[escalation.id]
    outbox = podium.config.tools.outbox or podium.config.storage.data_dir / "outbox"
    from ._escalations import effect_lines

    if args.json:
        from ..engine._events import RunEvent, ToolCalled
        from ._outcome import print_json_outcome

        calls: list[ToolCalled] = []

        def seen(event: RunEvent) -> None:
            if isinstance(event, ToolCalled):
                calls.append(event)

        def answered(result: RunResult) -> dict[str, Any]:
            """The effect, as `answered` beside the RunResult and as a line on stderr."""
            (effect,) = effect_lines(args.run_id, [(escalation, answer)], calls, outbox)
            print(effect, file=sys.stderr)
            decision = {"escalation_id": escalation.id, "decision": answer.decision.value}
            return {"answered": [decision | {"effect": effect}]}

        return print_json_outcome(
            lambda: podium,
            lambda podium, run_id: asyncio.run(
                podium.aresume(run_id, answers={escalation.id: answer}, on_event=seen)
            ),
            run_id=args.run_id,
            extra=answered,
        )
    from rich.console import Console

    from ._escalations import print_answering
    from ._progress import ProgressView, follow

    console = Console()
    print_answering(console, escalation, answer)
    view = ProgressView()
    stream = podium.astream_resume(args.run_id, answers={escalation.id: answer})
    code = asyncio.run(follow(stream, console, pending=_pending(podium), view=view))
    for line in effect_lines(args.run_id, [(escalation, answer)], view.calls, outbox):
        console.print(line, style="bold", soft_wrap=True, markup=False)
    return code


def _answer_of(args: argparse.Namespace) -> dict[str, str]:
    """`podium approve`'s flags as a HumanAnswer's fields (`engine/_escalation.py`)."""
    if args.reject:
        return {"decision": "reject"}
    if args.edit is not None:
        return {"decision": "edit", "output": args.edit}
    if args.instruct is not None:
        return {"decision": "instruct", "instructions": args.instruct}
    if args.answer is not None:
        return {"decision": "answer", "text": args.answer}
    return {"decision": "approve"}


def _cmd_show(args: argparse.Namespace) -> int:
    from ._show import Shown

    storage = _storage(args)
    record = _stored(args, storage)
    shown = Shown.of(record, storage.runs_dir / record.run_id)
    if args.json:
        from ._show import run_json

        print(run_json(shown, args.task))
        return 0
    from rich.console import Console

    from ._show import Room, show_run, show_task

    room = Room(full=args.full)
    parts = show_run(shown, room) if args.task is None else show_task(shown, args.task, room)
    console = Console()
    for part in parts:  # a str is commands: printed whole, never wrapped, never read as markup
        console.print(part, soft_wrap=isinstance(part, str), markup=False)
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    import json

    from podium.policies import AUDIT_FILE, read_audit

    from .._errors import RunNotFoundError

    path = _storage(args).runs_dir / args.run_id / AUDIT_FILE
    if not path.is_file():
        raise RunNotFoundError(
            f"no audit trail for run {args.run_id!r} at {path}: list runs with `podium runs` "
            "(runs made with `[policies] audit = false` have none)"
        )
    for record in read_audit(path):
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(_audit_line(record, full=args.full))
    return 0


def _audit_line(record: dict[str, Any], *, full: bool = False) -> str:
    """A readable line per audit record: time, kind, then the fields that say what happened,
    each cut (and marked) unless `full`; a plan adds a line per task with its instruction."""
    import datetime

    from ._clip import clip

    at = datetime.datetime.fromtimestamp(record.get("at", 0), datetime.UTC).strftime("%H:%M:%S.%f")[
        :-3
    ]
    kind = record.get("kind", "?")
    skip = {"at", "kind", "run_id", "usage", "plan", "tasks"}
    fields = []
    for key, value in record.items():
        if key in skip or value in (None, "", [], {}):
            continue
        text = value if isinstance(value, str) else json_compact(value)
        fields.append(f"{key}={text if full else clip(text, 160)}")
    lines = [f"{at} {kind:<14} " + " ".join(fields)]
    for task in record.get("tasks") or []:
        inputs = f" ← {', '.join(task.get('inputs') or [])}" if task.get("inputs") else ""
        instruction = str(
            task.get("instruction") or ""
        )  # absent in trails written before it was kept
        shown = instruction if full else clip(instruction, 140, flat=True)
        lines.append(
            f"    {task.get('id')} [{task.get('agent')}]{inputs}" + (f": {shown}" if shown else "")
        )
    return "\n".join(lines)


def json_compact(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _doctor_checks() -> tuple[str, ...]:
    # Listed here, not imported: `podium --help` must not pay for the doctor's imports.
    return (
        "python", "lock", "data_dir", "embedded_model", "embeddings",
        "chroma", "guardrails", "tiers", "postgres", "ray",
    )  # fmt: skip


def _cmd_doctor(args: argparse.Namespace) -> int:
    import json

    from .._config import PodiumConfig
    from ._doctor import CHECKS, render, run_checks, to_json

    unknown = sorted(set(args.only or ()) - set(CHECKS))
    if unknown:
        print(f"error: unknown check(s) {unknown}: known are {', '.join(CHECKS)}", file=sys.stderr)
        return 2
    checks = run_checks(PodiumConfig.load(args.config), args.only)
    report = to_json(checks)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        text = render(checks, quiet=args.quiet)
        if text:
            print(text, file=sys.stderr if args.quiet else sys.stdout)
    return 0 if report["ok"] else 1


def _cmd_agents(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from podium.tools import BuiltinTools, compose_tools

    from .._grants import check_grants

    config = _config(args)
    agents = config.agent_registry()
    # The listing is light (no model, LangGraph or Chroma), but a grant or scope typo is still
    # refused here as `Podium(...)` would refuse it: the CLI's tools are the built-ins.
    builtin = BuiltinTools()
    check_grants(agents, compose_tools([(builtin.name, builtin.tools)]), config)
    table = Table("agent", "tier", "tools", "description")
    for spec in agents.specs():
        table.add_row(spec.name, spec.tier, ", ".join(spec.tools) or "-", spec.description)
    Console().print(table)
    return 0


def _cmd_playbooks(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    podium = _podium(args)
    found = podium.playbooks
    if found is None:
        print("playbooks are off ([planner] playbooks = false)")
        return 0
    if args.json:
        data = {
            "playbooks": [p.model_dump(mode="json") for p in found.playbooks],
            "problems": found.problems,
        }
        print(json.dumps(data, indent=2))
        return 1 if found.problems else 0
    table = Table("playbook", "workflow", "tasks", "goals it matches (and ones like them)", "from")
    for p in found.playbooks:
        table.add_row(p.name, p.workflow, _graph(p.plan(p.slots)), "\n".join(p.goals), p.source)
    Console().print(table)
    for problem in found.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    return 1 if found.problems else 0


def _graph(plan: Plan) -> str:
    """A plan in one line, in waves: "company (researcher) + contacts (enricher) → brief (...)"."""
    depth: dict[str, int] = {}
    for t in plan.topological_order():
        depth[t.id] = 1 + max((depth[i] for i in t.inputs), default=-1)
    waves = [
        " + ".join(f"{t.id} ({t.agent})" for t in plan.tasks if depth[t.id] == level)
        for level in range(max(depth.values()) + 1)
    ]
    return " → ".join(waves)


def _serve_parsers(sub: Any) -> None:
    serve = sub.add_parser(
        "serve", help="the HTTP server: runs API with live events, OpenAI endpoint, web chat"
    )
    serve.add_argument("--host", help="address to listen on (default: [server] host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: [server] port, 8321; 0: any free)")
    serve.add_argument(
        "--api-key",
        help="a bearer token for the default tenant (prefer the PODIUM_API_KEY variable: "
        "command lines are visible to other users); [server.keys] adds keys per tenant",
    )
    serve.add_argument("--concurrency", type=int, help="runs executing at once")
    serve.add_argument("--queue-size", type=int, help="runs waiting beyond those")
    serve.add_argument("--no-access-log", action="store_true", help="no line per request")
    serve.set_defaults(handler=_cmd_serve)
    chat = sub.add_parser("chat", help="a terminal chat: each message is a goal, shown live")
    chat.set_defaults(handler=_cmd_chat)


def _cmd_serve(args: argparse.Namespace) -> int:
    from .._config import PodiumConfig
    from ..server._server import bind, check_binding, create_app, resolve_tokens, serve

    config = PodiumConfig.load(args.config)
    updates = {
        key: value
        for key, value in (
            ("host", args.host),
            ("port", args.port),
            ("concurrency", args.concurrency),
            ("queue_size", args.queue_size),
        )
        if value is not None
    }
    settings = config.server.model_validate({**config.server.model_dump(), **updates})
    tokens = resolve_tokens(settings, api_key=args.api_key, default_tenant=config.memory.tenant)
    check_binding(settings.host, tokens)
    sock = bind(settings.host, settings.port)  # a busy port is one line now, not after loading
    config = config.model_copy(update={"server": settings})
    try:
        app = create_app(config, tokens=tokens)
    except BaseException:
        sock.close()
        raise

    def ready(port: int) -> None:
        auth = f"{len(tokens)} API key(s)" if tokens else "no API key (loopback only)"
        print(f"podium serve: http://{settings.host}:{port}/ ({auth})", flush=True)

    serve(
        app,
        host=settings.host,
        port=settings.port,
        access_log=not args.no_access_log,
        on_ready=ready,
        sock=sock,
    )
    return 0


def _cmd_chat(args: argparse.Namespace) -> int:
    from ._chat import run_chat

    return run_chat(_podium(args))
