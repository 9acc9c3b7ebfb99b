"""The langgraph-supervisor peer for `podium bench peers`: the published supervisor pattern, fake models."""

from __future__ import annotations

import asyncio
import json
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.prebuilt import create_react_agent
from langgraph.pregel import Pregel
from langgraph_supervisor import create_supervisor

from podium.runtime.testing import estimate_tokens

from .peer_workloads import PeerTask, PeerWorkload

SYSTEM = "langgraph-supervisor"
NOTE = (
    "hand-offs are sequential (one per supervisor turn, parallel_tool_calls=False, the default): "
    "dependencies are honoured by hand-off order, with no dependency-driven parallelism"
)
SUPERVISOR_PROMPT = (
    "You are a team supervisor. Hand each task to the agent that does it, one at a time, "
    "only after the tasks it needs are done. When every task is done, answer the user."
)
# OpenAI-shaped roles, as Podium's own messages carry them, so token estimates line up.
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


@dataclass(frozen=True)
class PeerRun:
    system: str
    workload: str
    makespan_s: float
    model_calls: int
    total_tokens: int
    tasks_run: int
    expressible: bool
    note: str


@dataclass
class CallLog:
    """Every model call of one run, in order: (caller, task id); the final answer's task id is None."""

    calls: list[tuple[str, str | None]] = field(default_factory=list)
    tokens: int = 0
    # What create_supervisor asked the supervisor's model for, read from the bound call kwargs.
    parallel_tool_calls: bool | None = None

    def record(
        self, caller: str, task: str | None, prompt: Sequence[BaseMessage], out: AIMessage
    ) -> None:
        self.calls.append((caller, task))
        self.tokens += _prompt_tokens(prompt) + _output_tokens(out)


def _prompt_tokens(messages: Sequence[BaseMessage]) -> int:
    prompt = [{"role": _ROLES.get(m.type, m.type), "content": m.content} for m in messages]
    return estimate_tokens(json.dumps(prompt, default=str))  # as the doubles count a request


def _output_tokens(out: AIMessage) -> int:
    # Podium counts the reply's content plus each tool call's JSON arguments.
    args = "".join(json.dumps(c["args"]) for c in out.tool_calls)
    return estimate_tokens(f"{out.text}{args}")


def tool_name(agent: str) -> str:
    """The hand-off tool name langgraph-supervisor creates for an agent (`transfer_to_<agent>`)."""
    return "transfer_to_" + re.sub(r"\s+", "_", agent.strip()).lower()


class _LatencyChat(BaseChatModel):
    """A fake chat model whose replies come from `_answer`, each after `units * latency_s` of sleep."""

    caller: str
    latency_s: float
    log: Any  # CallLog; Any because pydantic would otherwise try to validate the dataclass

    @property
    def _llm_type(self) -> str:
        return "latency-fake"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        # Bind like ChatOpenAI does (a RunnableBinding carrying `tools`), so create_react_agent
        # sees the tools as already bound. The explicit `parallel_tool_calls` parameter is what
        # create_supervisor looks for before passing its setting on; it then reaches every call.
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError("async only: the benchmark runs everything on one event loop")

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        task, units, reply = self._answer(messages, kwargs)
        if self.latency_s:
            await asyncio.sleep(units * self.latency_s)
        self.log.record(self.caller, task, messages, reply)
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def _answer(
        self, messages: list[BaseMessage], kwargs: dict[str, Any]
    ) -> tuple[str | None, float, AIMessage]:
        raise NotImplementedError


class SupervisorChat(_LatencyChat):
    """Hands the workload's tasks off in workload (topological) order, one per turn, then answers."""

    tasks: tuple[PeerTask, ...]
    next_task: int = 0

    def _answer(
        self, messages: list[BaseMessage], kwargs: dict[str, Any]
    ) -> tuple[str | None, float, AIMessage]:
        self.log.parallel_tool_calls = kwargs.get("parallel_tool_calls")
        if self.next_task == len(self.tasks):
            return None, 1.0, AIMessage(content=f"done: {len(self.tasks)} tasks")
        t = self.tasks[self.next_task]
        self.next_task += 1
        name = tool_name(t.agent)
        bound = {tool["function"]["name"] for tool in kwargs.get("tools", [])}
        if name not in bound:  # the hand-off tools are langgraph-supervisor's, not ours
            raise LookupError(f"no hand-off tool {name!r} bound; got {sorted(bound)}")
        call = {"name": name, "args": {}, "id": f"call_{t.id}", "type": "tool_call"}
        return t.id, 1.0, AIMessage(content=f"do {t.id}", tool_calls=[call])


class AgentChat(_LatencyChat):
    """Answers the task whose hand-off brought control here (read from the hand-off's tool_call_id)."""

    tasks: dict[str, PeerTask]  # by hand-off tool_call_id

    def _answer(
        self, messages: list[BaseMessage], kwargs: dict[str, Any]
    ) -> tuple[str | None, float, AIMessage]:
        handoff = next(m for m in reversed(messages) if isinstance(m, ToolMessage))
        t = self.tasks[handoff.tool_call_id]
        if t.agent != self.caller:
            raise LookupError(f"{t.id} belongs to {t.agent}, but was handed to {self.caller}")
        return t.id, t.units, AIMessage(content=f"output of {t.id}")


def build_supervisor(workload: PeerWorkload, latency_s: float, log: CallLog) -> Any:
    """create_supervisor over one create_react_agent per distinct agent name, uncompiled."""
    by_call = {f"call_{t.id}": t for t in workload.tasks}
    names = list(dict.fromkeys(t.agent for t in workload.tasks))
    # create_react_agent is deprecated in langgraph 1.x in favour of langchain.agents, but
    # langgraph_supervisor 0.0.31 builds its own supervisor with it and documents it for
    # agents; `langchain` is not installed here anyway.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        agents: list[Pregel[Any, Any, Any, Any]] = [
            create_react_agent(
                AgentChat(caller=n, latency_s=latency_s, log=log, tasks=by_call),
                tools=[],
                name=n,
            )
            for n in names
        ]
        supervisor = SupervisorChat(
            caller="supervisor", latency_s=latency_s, log=log, tasks=workload.tasks
        )
        return create_supervisor(agents, model=supervisor, prompt=SUPERVISOR_PROMPT)


def recursion_limit(workload: PeerWorkload) -> int:
    # The outer graph takes two supersteps per hand-off (supervisor, then agent) plus the
    # final supervisor turn; subgraph steps are counted per subgraph run, so this bounds it.
    return 2 * len(workload.tasks) + 10


async def run_langgraph_supervisor(
    workload: PeerWorkload,
    latency_s: float,
    *,
    log: CallLog | None = None,
    checkpointer: Any = None,
) -> PeerRun:
    """Run the workload through a compiled supervisor graph; `makespan_s` is `ainvoke`'s wall time."""
    log = log if log is not None else CallLog()
    graph = build_supervisor(workload, latency_s, log).compile(checkpointer=checkpointer)
    config: dict[str, Any] = {"recursion_limit": recursion_limit(workload)}
    if checkpointer is not None:
        config["configurable"] = {"thread_id": f"{SYSTEM}-{workload.name}"}
    request = {"messages": [{"role": "user", "content": workload.description}]}
    started = time.perf_counter()
    await graph.ainvoke(request, config)
    makespan = time.perf_counter() - started
    done = {task for caller, task in log.calls if caller != "supervisor" and task is not None}
    return PeerRun(
        system=SYSTEM,
        workload=workload.name,
        makespan_s=makespan,
        model_calls=len(log.calls),
        total_tokens=log.tokens,
        tasks_run=len(done),
        expressible=True,
        note=NOTE,
    )
