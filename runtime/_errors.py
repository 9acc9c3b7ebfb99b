"""Podium's exception tree.

Two families, as in pydantic-ai: signals the model sees, and run errors.

    PodiumError                      every error Podium raises on purpose
    ├── GoalError                    the goal is empty or too large
    ├── ConfigError                  podium.toml or a config object is wrong
    ├── AgentError                   an agent spec is wrong, or an agent is unknown
    ├── PlanError                    no valid plan after the configured attempts
    ├── RunNotFoundError             resume/result asked for a run id that has no record
    ├── RunStateError                a run cannot do what was asked (resume a finished run)
    ├── StorageError                 the run store's database cannot be reached or used
    ├── ModelError                   the model seam failed (provider error, no scripted step)
    │   └── UnexpectedModelBehavior  the model answered, but not in a usable form
    └── ...                          podium.evals adds its own, with its own codes
                                     (podium.evals.EvalErrorCode): the runtime knows nothing of it

    PlanValidationError(ValueError)  a plan broke a rule; the message is fed back to the planner
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


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


@dataclass(frozen=True)
class PlanAttempt:
    """One planner answer that was rejected, and why."""

    output: str
    problems: tuple[str, ...]


class PodiumError(Exception):
    """Base of every error Podium raises on purpose."""

    code: StrEnum = ErrorCode.MODEL
    """The runtime's codes are `ErrorCode`s; a package built on it (podium.evals) brings its own."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


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
    code = ErrorCode.RUN_STATE


class StorageError(PodiumError):
    """The database holding run records and checkpoints cannot be reached or used.

    The message names the server (never its password) and says what to check.
    """

    code = ErrorCode.STORAGE


class ModelError(PodiumError):
    code: StrEnum = ErrorCode.MODEL  # typed as the base's: podium.evals' CassetteMiss has its own


class UnexpectedModelBehavior(ModelError):
    code = ErrorCode.MODEL_BEHAVIOR


class PlanValidationError(ValueError):
    """A plan broke one or more rules. Each problem names the task and says what to change."""

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
