"""The runtime's exceptions, on the base every Podium exception shares (`podium.errors`).

Two families, as in pydantic-ai: run errors a person reads, and signals whose text goes on as
data (the model sees it, a run records it).

    PodiumError (podium.errors)      every error Podium raises on purpose, in any package
    ├── GoalError                    the goal is empty or too large
    ├── ConfigError                  podium.toml or a config object is wrong
    ├── AgentError                   an agent spec is wrong, or an agent is unknown
    ├── PlanError                    no valid plan after the configured attempts
    ├── RunNotFoundError             resume/result asked for a run id that has no record
    ├── RunStateError                a run cannot do what was asked (resume a finished run)
    │   └── AnswerError              an answer to an escalation is not one it takes
    ├── StorageError                 the run store's database cannot be reached or used
    ├── ModelError                   the model seam failed (provider error, no scripted step)
    │   └── UnexpectedModelBehavior  the model answered, but not in a usable form
    ├── ...                          podium.memory and podium.evals add their own trees, with
    │                                their own codes: the runtime knows nothing of evals
    └── PodiumSignal (podium.errors)
        └── PlanValidationError      a plan broke a rule; the message is fed back to the planner
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from podium.errors import PodiumError as PodiumError, PodiumSignal as PodiumSignal


class ErrorCode(StrEnum):
    """Stable codes, so callers and docs can match errors without parsing messages."""

    CONFIG = "config_invalid"
    AGENT = "agent_invalid"
    PLAN = "plan_invalid"
    RUN_NOT_FOUND = "run_not_found"
    RUN_STATE = "run_state"
    STORAGE = "storage_unavailable"
    MODEL = "model_error"
    MODEL_BEHAVIOR = "model_behavior"
    GOAL = "goal_invalid"
    PLAN_RULE = "plan_rule_broken"
    """A signal: one plan broke a rule (`PlanValidationError`); `PlanError` ends the planning."""
    ATTEMPT = "attempt_failed"
    """A signal: a task's try failed in another process (the Ray executor)."""
    ANSWER = "answer_invalid"


@dataclass(frozen=True)
class PlanAttempt:
    """One planner answer that was rejected, and why."""

    output: str
    problems: tuple[str, ...]


class GoalError(PodiumError):
    """The goal was refused before any work started (empty, or over the size limit)."""

    code = ErrorCode.GOAL


class ConfigError(PodiumError):
    code = ErrorCode.CONFIG


class AgentError(PodiumError):
    code = ErrorCode.AGENT


class PlanError(PodiumError):
    """The planner produced no valid plan within its attempts.

    `attempts` keeps every rejected plan with its reasons, so nothing is lost.
    """

    code = ErrorCode.PLAN

    def __init__(self, message: str, attempts: list[PlanAttempt] | None = None) -> None:
        super().__init__(message)
        self.attempts: list[PlanAttempt] = attempts or []
        self.result: Any = None
        """The failed run's `RunResult` (status failed, error_kind plan, what it spent) when a
        run raised it; None from a dry run (`Podium.plan`). Typed Any: errors sit below the
        engine that defines RunResult."""


class RunNotFoundError(PodiumError):
    code = ErrorCode.RUN_NOT_FOUND


class RunStateError(PodiumError):
    code: StrEnum = ErrorCode.RUN_STATE  # typed as the base's: AnswerError has its own


class AnswerError(RunStateError):
    """A human's answer to an escalation is not one it takes (an unknown decision, an edit
    without its text, text for a tool call): the run keeps waiting. A RunStateError, since the
    run cannot go on with it; its own code, since the fix is the answer (HTTP 422, not 409)."""

    code = ErrorCode.ANSWER


class StorageError(PodiumError):
    """The database holding run records and checkpoints cannot be reached or used.

    The message names the server (never its password) and says what to check.
    """

    code = ErrorCode.STORAGE


class ModelError(PodiumError):
    code: str = ErrorCode.MODEL  # typed as the base's: podium.evals' CassetteMiss has its own


class UnexpectedModelBehavior(ModelError):
    code = ErrorCode.MODEL_BEHAVIOR


class PlanValidationError(PodiumSignal, ValueError):
    """A plan broke one or more rules. Each problem names the task and says what to change."""

    code = ErrorCode.PLAN_RULE

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """The suffix " (did you mean 'x'?)" for a likely typo of one of `known`, else "".

    Compared without case, so "Write:Email" still finds "write:email"."""
    by_folded = {k.casefold(): k for k in known}
    close = difflib.get_close_matches(word.casefold(), list(by_folded), n=2, cutoff=0.6)
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(by_folded[c]) for c in close)}?)"
