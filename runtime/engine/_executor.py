"""The executor seam: where the agent work of one task attempt runs.

The supervisor keeps the graph, the checkpoints, the failure ladder, the budget and the events.
An executor runs one rung of the ladder: the agent loop (model turns, tool calls, output guard)
of one task on one tier, and answers as `run_agent` does: an `AgentOutput`, or GuardRejected,
BudgetExceeded, or any other exception for a failed try. `InProcessExecutor` runs it on the
supervisor's event loop; `RayExecutor` (podium.runtime.executors._ray) runs it as a Ray task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from podium.agents import AgentOutput, AgentSpec, Message, Tier, ToolChoice, run_agent
from podium.errors import PodiumSignal
from podium.policies import BudgetTracker
from podium.tools import DEFAULT_MAX_RESULT_TOKENS, Tool, ToolContext

from .._errors import ErrorCode
from ..models._model import ModelRequest, ModelSeam
from ..models._usage import Usage
from ._plan import Task

if TYPE_CHECKING:
    from ._effects import EffectJournal
    from ._policy import TaskPolicy

ExecutorName = Literal["asyncio", "ray"]


@dataclass
class AgentAttempt:
    """One try of one task on one tier, as the failure ladder hands it to an executor."""

    run_id: str
    goal: str
    task: Task
    spec: AgentSpec
    inputs: Mapping[str, str]
    """Upstream outputs by task id."""
    untrusted_inputs: frozenset[str]
    """Ids of the inputs whose tasks saw untrusted data: fenced as data in the prompt."""
    memory: str
    """The prompt's memory section, retrieved by the supervisor ("" when memory is off)."""
    trusted: Sequence[str]
    """Texts the taint tracker trusts besides the agent's system prompt (goal, instruction, inputs)."""
    untrusted: Sequence[str]
    """Texts it does not (tainted inputs, the memory section)."""
    chat: TaskChat
    """The model seam bound to this task and tier; it sums the attempt's usage."""
    policy: TaskPolicy
    """Tool gate, taint and output guard; it keeps the attempt's verdicts."""
    tools: Sequence[Tool]
    """The agent's tools, as registered."""
    tool_context: ToolContext
    budget: BudgetTracker
    """The run's budget (the seam behind `chat` checks it before every call)."""
    effects: EffectJournal | None = None
    """The run's journal of side-effecting calls, when it keeps one."""
    max_result_tokens: int = DEFAULT_MAX_RESULT_TOKENS
    """The bound on one tool message for this tier's models (larger results are offloaded)."""
    prompt_room: int | None = None
    """Tokens a prompt may take on this tier's smallest window, less the reply's (None: unknown):
    a tool message is bounded by what the prompt so far leaves of it too."""


class TaskExecutor(Protocol):
    """Runs task attempts. `start` is awaited before a run's graph starts (connect, check)."""

    name: ExecutorName

    async def start(self) -> None: ...

    async def run(self, attempt: AgentAttempt) -> AgentOutput: ...


class InProcessExecutor:
    """The default: the agent loop runs on the supervisor's event loop, in this process."""

    name: ExecutorName = "asyncio"

    async def start(self) -> None:
        return None

    async def run(self, attempt: AgentAttempt) -> AgentOutput:
        return await run_agent(
            attempt.spec,
            instruction=attempt.task.instruction,
            inputs=attempt.inputs,
            chat=attempt.chat,
            tools=journaled_tools(attempt.tools, attempt.effects),
            tool_context=attempt.tool_context,
            output_schema=attempt.task.output_schema,
            goal=attempt.goal,
            memory=attempt.memory,
            policy=attempt.policy,
            max_result_tokens=attempt.max_result_tokens,
            prompt_room=attempt.prompt_room,
            untrusted_inputs=attempt.untrusted_inputs,
        )


def journaled_tools(tools: Sequence[Tool], effects: EffectJournal | None) -> list[Tool]:
    """The tools with their side-effecting calls journaled (as they are when there is no journal)."""
    if effects is None:
        return list(tools)
    from ._effects import journaled

    return [journaled(t, effects) for t in tools]


class AttemptFailed(PodiumSignal):
    """A try that failed where the exception itself could not travel (another process): the
    failure as the ladder reports it, "<ExceptionType>: <message>"."""

    code = ErrorCode.ATTEMPT

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def describe_failure(exc: BaseException) -> str:
    """How a failed try reads in TaskFailed and the task's routes."""
    if isinstance(exc, AttemptFailed):
        return exc.description
    return f"{type(exc).__name__}: {exc}"


class TaskChat:
    """The agent loop's view of the model seam for one task: tier bound, usage summed."""

    def __init__(self, seam: ModelSeam, run_id: str, task: Task, tier: Tier) -> None:
        self.seam, self.run_id, self.task, self.tier = seam, run_id, task, tier
        self.usage = Usage()
        self.model: str | None = None
        self.repairs: list[str] = []

    async def __call__(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        response_schema: dict[str, Any] | None,
        tool_choice: ToolChoice = "auto",
    ) -> Message:
        response = await self.seam.complete(
            ModelRequest(
                tier=self.tier,
                messages=tuple(messages),
                tools=tuple(tools),
                tool_choice=tool_choice,
                response_schema=response_schema,
                purpose="task",
                run_id=self.run_id,
                task_id=self.task.id,
                agent=self.task.agent,
            )
        )
        self.usage += response.usage
        self.model = response.model
        self.repairs.extend(response.repairs)
        message = response.message.to_message()
        if response.cut:
            message["finish_reason"] = "length"  # read by the agent loop, never sent back
        return message
