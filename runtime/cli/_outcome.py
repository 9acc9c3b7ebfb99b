"""How a command's outcome reaches the shell: one exit code per outcome, and with `--json` one
JSON document on stdout whatever happened (the README's "Exit codes" lists them)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from .._errors import (
    AgentError,
    ConfigError,
    GoalError,
    PodiumError,
    RunNotFoundError,
    RunStateError,
)
from ..engine._result import RunErrorKind, RunResult

if TYPE_CHECKING:
    from .._api import Podium


class ExitCode(IntEnum):
    """`podium run`, `resume` and `approve` exit with the run's outcome, one code each."""

    COMPLETED = 0
    FAILED = 1
    """The run failed (in planning, a task, its answer); or, for any command, it could not be
    carried out (a wrong configuration, an unknown run): the `error:` line says what to fix."""
    USAGE = 2
    """The command line itself is wrong (argparse's own code)."""
    WAITING = 3
    """The run waits for a human: `podium approve RUN_ID` answers it."""
    BUDGET = 4
    """A `[budget]` limit stopped the run."""
    REFUSED = 5
    """The goal was refused (empty, too long, or by the input guard): no run was started."""
    CANCELLED = 6
    """The run was stopped before its end (on request, or its storage failed): resumable."""
    INTERRUPTED = 130
    """Ctrl-C."""


_BY_STATUS = {
    "completed": ExitCode.COMPLETED,
    "failed": ExitCode.FAILED,
    "waiting_for_human": ExitCode.WAITING,
    "budget_exceeded": ExitCode.BUDGET,
    "cancelled": ExitCode.CANCELLED,
}


def exit_code(status: str) -> ExitCode:
    """The exit code of a run that ended (or paused) with `status`."""
    return _BY_STATUS.get(status, ExitCode.FAILED)


def error_exit_code(exc: PodiumError) -> ExitCode:
    """The exit code of an error that stopped a command before (or instead of) a run's end."""
    return ExitCode.REFUSED if isinstance(exc, GoalError) else ExitCode.FAILED


def error_document(exc: PodiumError, goal: str | None = None) -> dict[str, Any]:
    """What `--json` prints when no run exists to print: the RunResult's fields, as they are
    with no run (no id, no status, nothing spent), so scripts read `error_kind` and `error`
    alike; `code` is the error's stable code."""
    kind = RunErrorKind.REFUSED if isinstance(exc, GoalError) else RunErrorKind.ERROR
    return {
        "run_id": None,
        "goal": goal,
        "status": None,
        "error_kind": kind.value,
        "error": exc.message,
        "code": str(exc.code),
        "usage": {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0},
    }


def stored_result(podium: Podium, run_id: str) -> RunResult | None:
    """The result a run left in its record, if it got as far as having one."""
    try:
        return podium.store.get(run_id).result
    except Exception:  # no record, or the store failing too: the error being reported says why
        return None


def print_json_outcome(
    podium_of: Callable[[], Podium],
    run: Callable[[Podium, str], RunResult],
    *,
    run_id: str | None,
    goal: str | None = None,
    extra: Callable[[RunResult], dict[str, Any]] | None = None,
) -> int:
    """`--json`: run, then print the RunResult on stdout (a failed run's too: PlanError and
    storage failures leave theirs in the run's record) and exit with its outcome. With no run to
    print (a refused goal, a wrong configuration) the error is raised: `main` prints its
    document (`error_document`) and reports it. A run's error also goes to stderr, in a line.
    `extra`: keys the command adds beside the RunResult's (`podium approve`'s `answered`)."""
    from ..storage._store import new_run_id

    run_id = run_id or new_run_id()
    podium: Podium | None = None
    try:
        podium = podium_of()
        result = run(podium, run_id)
    except PodiumError as exc:
        stored = stored_result(podium, run_id) if podium is not None else None
        # Asked what cannot be done (resume a finished run, a wrong configuration): nothing
        # ran, so a stored result is an earlier outcome, not this command's.
        asked_wrong = isinstance(exc, ConfigError | AgentError | RunNotFoundError | RunStateError)
        if asked_wrong or stored is None or stored.status in ("queued", "running"):
            raise  # `main` prints the error's document (`error_document`)
        result = stored
    added = extra(result) if extra else {}
    if result.status == "waiting_for_human":
        return print_waiting_json(result, added)
    if added:
        print(
            json.dumps(json.loads(result.model_dump_json()) | added, indent=2, ensure_ascii=False)
        )
    else:
        print(result.model_dump_json(indent=2))
    if result.error:
        print(outcome_line(result.status, result.error_kind, result.error), file=sys.stderr)
    return exit_code(result.status)


def print_waiting_json(result: RunResult, extra: Mapping[str, Any] | None = None) -> int:
    """A waiting run's `--json`: the RunResult, with `answer_with` (per pending escalation what
    it is about and the command of each decision it takes), and on stderr the first command."""
    from ._escalations import waiting_document

    document = json.loads(result.model_dump_json()) | dict(extra or {})
    document["answer_with"] = waiting_document(result.run_id, result.escalations)
    print(json.dumps(document, indent=2, ensure_ascii=False))
    for waiting in document["answer_with"]:
        first = next(iter(waiting["commands"].values()))
        print(f"waiting for a human: {first} (all answers: answer_with)", file=sys.stderr)
    return ExitCode.WAITING


def outcome_line(status: str, kind: str | None, error: str | None) -> str:
    """The one stderr line of a run that did not complete: "error: run failed (plan): ..."."""
    why = f" ({kind})" if kind and kind not in status else ""
    return f"error: run {status}{why}: {error or 'no answer'}"
