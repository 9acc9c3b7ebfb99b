"""The floor for framework overhead: a LangGraph graph of the workload's shape, built by hand, no Podium."""

from __future__ import annotations

import asyncio
import json
import operator
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.graph import END, START, StateGraph

from podium.runtime.testing import estimate_tokens

from .peer_workloads import PeerTask, PeerWorkload


class LatencyFakeChat(BaseChatModel):
    """A LangChain fake chat model whose every call takes `units x latency_s` (asyncio sleep)."""

    latency_s: float = 0.0
    units: float = 1.0
    calls: int = 0
    tokens: int = 0

    @property
    def _llm_type(self) -> str:
        return "latency-fake"

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
        if self.latency_s:
            await asyncio.sleep(self.units * self.latency_s)
        answer = f"output of {messages[-1].content!s:.40}"
        self.calls += 1
        prompt = [{"role": m.type, "content": m.content} for m in messages]
        self.tokens += estimate_tokens(json.dumps(prompt, default=str)) + estimate_tokens(answer)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=answer))])


class _State(TypedDict):
    outputs: Annotated[dict[str, str], operator.or_]


@dataclass(frozen=True)
class RawRun:
    makespan_s: float
    model_calls: int
    total_tokens: int


def build_graph(
    workload: PeerWorkload, latency_s: float, checkpointer: Any
) -> tuple[Any, list[LatencyFakeChat]]:
    """One node per task, an edge from each input; a task with several inputs waits for all of them."""
    builder = StateGraph(_State)
    models = []
    consumed = {i for t in workload.tasks for i in t.inputs}
    for t in workload.tasks:
        model = LatencyFakeChat(latency_s=latency_s, units=t.units)
        models.append(model)
        builder.add_node(t.id, _node(t, model))
        if not t.inputs:
            builder.add_edge(START, t.id)
        elif len(t.inputs) == 1:
            builder.add_edge(t.inputs[0], t.id)
        else:
            builder.add_edge(list(t.inputs), t.id)
        if t.id not in consumed:
            builder.add_edge(t.id, END)
    return builder.compile(checkpointer=checkpointer), models


def _node(t: PeerTask, model: LatencyFakeChat) -> Any:
    async def run(state: _State) -> dict[str, Any]:
        context = "\n".join(state["outputs"].get(i, "") for i in t.inputs)
        reply = await model.ainvoke([HumanMessage(content=f"{t.id}: do {t.id}\n{context}")])
        return {"outputs": {t.id: str(reply.content)}}

    return run


@asynccontextmanager
async def sqlite_saver(path: Path) -> AsyncIterator[Any]:
    """LangGraph's SQLite saver with the settings Podium uses (WAL, synchronous=NORMAL), for a fair floor."""
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with aiosqlite.connect(str(path)) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        yield AsyncSqliteSaver(conn)


async def run_raw_langgraph(workload: PeerWorkload, latency_s: float, db: Path) -> RawRun:
    async with sqlite_saver(db) as saver:
        graph, models = build_graph(workload, latency_s, saver)
        started = time.perf_counter()
        await graph.ainvoke(
            {"outputs": {}}, {"configurable": {"thread_id": "raw"}, "recursion_limit": 1000}
        )
        makespan = time.perf_counter() - started
    return RawRun(makespan, sum(m.calls for m in models), sum(m.tokens for m in models))
