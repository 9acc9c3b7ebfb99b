"""Hard run budgets: dollars, tokens, model calls and wall time, checked before every model call."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Literal

from podium.errors import PodiumSignal

Limit = Literal["usd", "tokens", "calls", "wall_time"]


class BudgetExceeded(PodiumSignal):
    """A run budget is spent: no new model call may start. Carries which limit and the figures.

    A signal: its text is the stopped task's and the run's recorded error."""

    code = "budget_exceeded"

    def __init__(self, limit: Limit, spent: float, allowed: float) -> None:
        self.limit = limit
        self.spent = spent
        self.allowed = allowed
        units = {"usd": "USD", "tokens": "tokens", "calls": "model calls", "wall_time": "seconds"}[
            limit
        ]
        super().__init__(
            f"budget exceeded: {limit} limit of {allowed:g} {units} reached ({spent:g} spent); "
            f"raise `budget.max_{'wall_s' if limit == 'wall_time' else limit}` to allow more"
        )


@dataclass
class BudgetTracker:
    """Counts what a run spends and refuses new calls once a limit is reached.

    A call is refused when a limit is already reached, never cut off mid-flight, so a limit is
    overshot by at most what the calls already in flight cost.
    """

    max_usd: float = 0.0
    max_tokens: int = 0
    max_calls: int = 0
    max_wall_s: float = 0.0
    started: float = field(default_factory=time.monotonic)
    usd: float = 0.0
    tokens: int = 0
    calls: int = 0
    in_flight: int = 0
    stopped: BudgetExceeded | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def remaining_wall_s(self) -> float | None:
        if not self.max_wall_s:
            return None
        return self.max_wall_s - (time.monotonic() - self.started)

    def begin_call(self) -> None:
        """Reserve a call, or raise BudgetExceeded (and remember it) if any limit is reached."""
        with self._lock:
            exceeded = self._exceeded()
            if exceeded is not None:
                self.stopped = self.stopped or exceeded
                raise exceeded
            self.in_flight += 1
            self.calls += 1

    def end_call(self, *, usd: float = 0.0, tokens: int = 0) -> None:
        with self._lock:
            self.in_flight -= 1
            self.usd += usd
            self.tokens += tokens

    def add(self, *, usd: float = 0.0, tokens: int = 0, calls: int = 0) -> None:
        """Count spending that happened elsewhere (results restored from a checkpoint)."""
        with self._lock:
            self.usd += usd
            self.tokens += tokens
            self.calls += calls

    def _exceeded(self) -> BudgetExceeded | None:
        checks: list[tuple[Limit, float, float]] = [
            ("usd", self.usd, self.max_usd),
            ("tokens", self.tokens, self.max_tokens),
            ("calls", self.calls, self.max_calls),
            ("wall_time", round(time.monotonic() - self.started, 3), self.max_wall_s),
        ]
        for limit, spent, allowed in checks:
            if allowed and spent >= allowed:
                return BudgetExceeded(limit, spent, allowed)
        return None
