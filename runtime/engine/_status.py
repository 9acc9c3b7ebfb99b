"""A run's status: what each one means, which may follow which, and the one rule for resuming.

Every interface (the Python API, `podium resume` and `podium approve`, the chat, the HTTP
server and its workers) and the run store ask this module, so they agree. `MOVES`:

    queued             -> running, cancelled, failed (its worker broke)
    running            -> completed, failed, budget_exceeded (ended: nothing follows),
                          waiting_for_human, cancelled, running (taken up by another process)
    waiting_for_human  -> running (answered), cancelled
    cancelled          -> running (resumed)

The resume rule (`check_resume`), the same everywhere:
- completed, failed, budget_exceeded have ended: resuming is refused (RunStateError, HTTP 409)
  with what to do instead. A finished run's result stays readable; its goal can run again.
- cancelled resumes: its completed tasks are restored from their checkpoints, not run again.
- waiting_for_human resumes once its pending escalations are answered (and only then); answers
  to a run in any other status are refused.
- queued and running are refused while the run is under way (a live process executes it, or a
  server holds it in its queue): wait for it, or cancel it. A record whose process is seen to be
  gone reads "cancelled" (`storage.settle_stale`) and resumes; one left queued by a stopped
  server, or running by a process that cannot be checked from here (another machine, no owner
  recorded), resumes as well: the caller's call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from .._errors import RunStateError

RunStatus = Literal[
    "queued", "running", "completed", "failed", "budget_exceeded", "waiting_for_human", "cancelled"
]
"""waiting_for_human: paused at an escalation (a LangGraph interrupt); answering it resumes the run.
queued: accepted by the HTTP server, waiting for a free slot. cancelled: stopped before its end,
on request or by what the run cannot help (its process died, the disk filled up): its error says
which; its completed tasks stay checkpointed, so resuming it continues where it stopped."""

RestingStatus = Literal["completed", "failed", "budget_exceeded", "waiting_for_human", "cancelled"]
"""Where a run comes to rest: what its run_finished event says."""

ENDED: frozenset[RunStatus] = frozenset({"completed", "failed", "budget_exceeded"})
"""Terminal: nothing follows, and resuming is refused."""

UNDER_WAY: frozenset[RunStatus] = frozenset({"queued", "running"})
"""Not at rest: a process executes the run, or a server holds it in its queue (or did, and is gone)."""

MOVES: Mapping[RunStatus, frozenset[RunStatus]] = {
    # A server's queue hands the run to the runtime; it can be cancelled before it starts, or
    # fail to start at all (a worker that breaks).
    "queued": frozenset({"running", "cancelled", "failed"}),
    # running -> running: a process takes up a run whose own process is gone or cannot be checked.
    "running": frozenset(
        {"running", "completed", "failed", "budget_exceeded", "waiting_for_human", "cancelled"}
    ),
    "waiting_for_human": frozenset({"running", "cancelled"}),
    # cancelled -> cancelled: a resume withdrawn while it was queued leaves it as it was.
    "cancelled": frozenset({"running", "cancelled"}),
    "completed": frozenset(),
    "failed": frozenset(),
    "budget_exceeded": frozenset(),
}
"""Which status may follow which: every change of a stored record's status is checked here."""

CANCELLABLE: frozenset[RunStatus] = frozenset(
    s for s, nexts in MOVES.items() if "cancelled" in nexts and s != "cancelled"
)
"""What a cancel stops (or withdraws from a queue): a run not at its end and not cancelled yet."""

_ENDED_HOW: Mapping[RunStatus, tuple[str, str]] = {
    "completed": ("completed", "its result stays readable; to do it again, start a new run"),
    "failed": ("failed", "fix what failed and start a new run"),
    "budget_exceeded": (
        "exceeded its budget",
        "raise the limit in `[budget]` and start a new run",
    ),
}


def can_move(before: RunStatus, after: RunStatus) -> bool:
    return after in MOVES[before]


def check_move(run_id: str, before: RunStatus, after: RunStatus) -> None:
    """RunStateError when a run in `before` cannot become `after` (see MOVES)."""
    if not can_move(before, after):
        allowed = ", ".join(sorted(MOVES[before])) or "nothing: it has ended"
        raise RunStateError(
            f"run {run_id!r} is {before} and cannot become {after}: it can become {allowed}"
        )


def check_resume(
    run_id: str,
    status: RunStatus,
    *,
    under_way: str | None = None,
    answering: bool = False,
    pending: Sequence[str] = (),
    error: str | None = None,
) -> None:
    """The resume rule: RunStateError, saying what to do, unless a run in `status` can go on now.

    `under_way` says where the run executes when something does ("running in another process
    (pid 7 on host)", "queued on this server"); `answering`: the caller brings answers to its
    escalations (`pending`, their ids); `error`: the record's, shown when the run failed."""
    if status in ENDED:
        ended, instead = _ENDED_HOW[status]
        why = f". How it ended: {error}" if error else ""
        raise RunStateError(f"run {run_id!r} {ended} and has nothing to resume: {instead}{why}")
    if under_way is not None:
        raise RunStateError(f"run {run_id!r} is {under_way}: wait for it, or cancel it first")
    if answering and status != "waiting_for_human":
        raise RunStateError(
            f"run {run_id!r} is {status}: nothing waits for an answer; resume it without one"
        )
    if status == "waiting_for_human" and not answering:
        ids = list(dict.fromkeys(pending)) or ["ID"]
        first = ids[0]
        raise RunStateError(
            f"run {run_id!r} is waiting for a human to answer {', '.join(ids)}: `podium resume "
            f"{run_id}` shows what it asks and the `podium approve {run_id} {first} ...` command "
            f"of each answer; or POST /runs/{run_id}/escalations/{first} with a decision, or "
            f"`Podium.resume({run_id!r}, answers={{{first!r}: ...}})`"
        )
