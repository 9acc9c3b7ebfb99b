"""Tool permissions, checked by the runtime at call time, outside the model's reach.

Deny by default: an agent may call a tool only when the tool is on its card and the agent
holds every scope the tool needs (card scopes, plus `[policies.agents.X] scopes`, minus
`revoke`). Then the rate limits (per tool per run, per tool per minute across runs, all
tools per run), then the injection check (untrusted data carried into a side effect), then
human approval where the tool's policy asks for it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from ._config import PoliciesConfig

Decision = Literal["allowed", "denied", "needs_approval"]


@dataclass(frozen=True)
class ToolCheck:
    """The gate's answer for one tool call, as written to the audit log."""

    decision: Decision
    reason: str
    needed: tuple[str, ...] = ()
    granted: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


class MinuteLimiter:
    """Calls per tool in the last 60 s, shared by every run in the process."""

    def __init__(self) -> None:
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, per_minute: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            window = self._calls.setdefault(key, deque())
            while window and now - window[0] >= 60.0:
                window.popleft()
            if len(window) >= per_minute:
                return False
            window.append(now)
            return True


PROCESS_LIMITER = MinuteLimiter()


@dataclass
class ToolGate:
    """One run's tool permissions and counters."""

    config: PoliciesConfig
    limiter: MinuteLimiter = field(default_factory=lambda: PROCESS_LIMITER)
    calls: dict[str, int] = field(default_factory=dict)
    total: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def granted(self, agent: str, card_scopes: Iterable[str]) -> frozenset[str]:
        policy = self.config.agent(agent)
        return (frozenset(card_scopes) | frozenset(policy.scopes)) - frozenset(policy.revoke)

    def check(
        self,
        *,
        agent: str,
        card_tools: Iterable[str],
        card_scopes: Iterable[str],
        tool: str,
        known: bool,
        needs: Iterable[str],
        side_effects: bool,
        carries_untrusted: Mapping[str, Sequence[str]] = MappingProxyType({}),
        content_args: Iterable[str] = (),
        card_untrusted_to: Iterable[str] = (),
    ) -> ToolCheck:
        """`carries_untrusted`: per argument, what in it came from tools or memory (see
        `Taint.carried_by_argument`); `content_args`: the tool's content arguments;
        `card_untrusted_to`: the card's own `allow_untrusted_to` (tool names: content only)."""
        needed = tuple(sorted(needs))
        granted = self.granted(agent, card_scopes)
        shown = tuple(sorted(granted))
        if not known or tool not in set(card_tools):
            return ToolCheck(
                "denied",
                f"agent {agent!r} has no tool {tool!r}; its tools are {sorted(set(card_tools))}",
                needed,
                shown,
            )
        missing = sorted(set(needed) - granted)
        if missing:
            return ToolCheck(
                "denied",
                f"permission denied: {tool!r} needs scope(s) {missing} that agent {agent!r} was not granted",
                needed,
                shown,
            )
        if side_effects:
            blocked = self._untrusted_blocked(
                agent, tool, carries_untrusted, frozenset(content_args), card_untrusted_to
            )
            if blocked:
                return ToolCheck("denied", blocked, needed, shown)
        limited = self._take(tool)
        if limited:
            return ToolCheck("denied", limited, needed, shown)
        approval = self.config.tool(tool).approval
        if approval == "always" or (approval == "auto" and side_effects):
            return ToolCheck("needs_approval", f"{tool!r} needs a human's approval", needed, shown)
        return ToolCheck("allowed", "scopes granted", needed, shown)

    def _untrusted_blocked(
        self,
        agent: str,
        tool: str,
        carried: Mapping[str, Sequence[str]],
        content_args: frozenset[str],
        card_allows: Iterable[str] = (),
    ) -> str | None:
        """Why untrusted data may not go where it is going, or None.

        Judged per argument: `allow_untrusted_to = ["send_email"]` opens the tool's content
        arguments (its body, its subject), never a sink (its recipient): an injection in a
        tool result may shape what an email says, not whom it goes to. `"send_email.to"`
        opens one argument by name, `"send_email.*"` all of them. The card's entries
        (`card_allows`, tool names only) add to the configuration's: a `[policies.agents.X]`
        table written for other reasons does not silently take them away.
        """
        allowed = set(self.config.agent(agent).allow_untrusted_to) | set(card_allows)
        refused = [
            (argument, findings)
            for argument, findings in carried.items()
            if findings
            and not (
                f"{tool}.*" in allowed
                or f"{tool}.{argument}" in allowed
                or (tool in allowed and argument in content_args)
            )
        ]
        if not refused:
            return None
        shown = "; ".join(
            f"{argument or 'its arguments'}: {', '.join(list(findings)[:2])}"
            for argument, findings in refused[:3]
        )
        sinks = [a for a, _ in refused if a not in content_args]
        if sinks:
            how = (
                f"{', '.join(repr(a or '*') for a in sinks)} takes data from trusted sources only "
                f"(the goal, the task's instruction): name it in the goal, or accept the risk "
                f'with `[policies.agents.{agent}] allow_untrusted_to = ["{tool}.{sinks[0] or "*"}"]`'
            )
        else:
            how = (
                f"its content arguments {sorted(content_args)} may carry it only when "
                f'`[policies.agents.{agent}] allow_untrusted_to` lists "{tool}"'
            )
        return (
            f"blocked: side-effecting tool {tool!r} would carry data from untrusted sources "
            f"({shown}); {how}"
        )

    def _take(self, tool: str) -> str | None:
        policy = self.config.tool(tool)
        with self._lock:
            if self.total >= self.config.max_tool_calls_per_run:
                return (
                    f"rate limit: this run has made {self.total} tool calls, the limit "
                    f"(`[policies] max_tool_calls_per_run`)"
                )
            used = self.calls.get(tool, 0)
            if policy.max_calls_per_run and used >= policy.max_calls_per_run:
                return (
                    f"rate limit: {tool!r} may be called {policy.max_calls_per_run} time(s) per run"
                )
            if policy.max_calls_per_minute and not self.limiter.take(
                tool, policy.max_calls_per_minute
            ):
                return f"rate limit: {tool!r} may be called {policy.max_calls_per_minute} time(s) per minute; try later"
            self.calls[tool] = used + 1
            self.total += 1
        return None
