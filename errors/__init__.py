"""podium.errors: the one base every Podium exception shares, so `except PodiumError` catches
whatever Podium raises on purpose, from any of its packages.

It sits beneath every other package and imports nothing, because the leaf packages (tools,
memory, policies) must stay independent of each other and of the runtime, and a common base
cannot live in any of them. Each package keeps its own classes and its own stable codes:

    PodiumError                      an error a person reads: str() is "[code] message"
    ├── podium.runtime's tree        GoalError, ConfigError, PlanError, ... (runtime.ErrorCode)
    ├── podium.memory's tree         MemoryStoreError and its kinds (memory.MemoryErrorCode)
    ├── podium.evals' tree           ScenarioError, CassetteError, CassetteMiss (EvalErrorCode)
    └── PodiumSignal                 text that goes on as data: str() is the message alone
        ├── ToolError                a tool call failed; the model reads why (tools)
        ├── BudgetExceeded           a run budget is spent (policies)
        ├── AgentLoopError           no acceptable answer within the agent's steps (agents)
        ├── PlanValidationError      a plan broke a rule; fed back to the planner (runtime)
        └── ...                      config slips inside a larger message (a tool's choices,
                                     a validator reference, an agent card)

A signal's text is read by a model, recorded in a run (a task's error, a cassette) or folded
into another error's message, so it must not change shape: stored runs and recordings hold it.
"""

from __future__ import annotations

__all__ = ["PodiumError", "PodiumSignal"]


class PodiumError(Exception):
    """Base of every exception Podium raises on purpose. `code` is stable: match on it, never on
    the message. Each package brings its codes as a `StrEnum`; a few carry a plain string."""

    code: str = "podium_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class PodiumSignal(PodiumError):
    """A Podium exception whose text is data (see the module's docstring): str() is the message
    alone, exactly as models, run records and cassettes have always seen it."""

    def __str__(self) -> str:
        return self.message
