"""One process of the crash torture: runs or resumes a workflow, logging what it does, until killed.

    python -m podium.evals.bench.torture_worker run|resume DATA_DIR RUN_ID LOG LEDGER

The workflow: two lookups in parallel (a, b), a booking after each (c, d: `ledger_append`, a
side-effecting tool), and a writer joining them (e). Models are deterministic doubles with
latencies, so a killed and resumed run must end with the same answer as an uninterrupted one.
The storage backend comes from the environment (PODIUM_CHECKPOINTER, PODIUM_POSTGRES_URL).

The log (JSON lines, one write each) holds every run event, `tool` lines when a tool body
starts, and `persisted` lines when the checkpointer has durably written a task's result (the
saver's `aput_writes` returned): what "completed" means for the torture's checks.
The ledger is the outside world: a SQLite file where `ledger_append` applies an entry once per
idempotency key (as a payments or mail API would) and records every attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from podium.agents import AgentSpec
from podium.runtime import (
    AssistantMessage,
    ModelRequest,
    Podium,
    PodiumConfig,
    RunStateError,
    ToolCall,
)
from podium.runtime.testing import FunctionModel
from podium.tools import JSONValue, Tool, ToolContext, tool

PLAN = [
    {"id": "a", "agent": "fetcher", "instruction": "Look up Northwind.", "inputs": []},
    {"id": "b", "agent": "fetcher", "instruction": "Look up Globex.", "inputs": []},
    {"id": "c", "agent": "booker", "instruction": "Book a call for Northwind.", "inputs": ["a"]},
    {"id": "d", "agent": "booker", "instruction": "Book a call for Globex.", "inputs": ["b"]},
    {"id": "e", "agent": "writer", "instruction": "Summarise the bookings.", "inputs": ["c", "d"]},
]
TOOL_OF = {"fetcher": "lookup", "booker": "ledger_append"}
LATENCY_S = {"plan": 0.15, "a": 0.1, "b": 0.25, "c": 0.1, "d": 0.15, "e": 0.1}
TOOL_LATENCY_S = 0.12


class Log:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, **record: Any) -> None:
        line = json.dumps({"pid": os.getpid(), "t": time.time(), **record}) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


class LookupArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str


class LedgerArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entry: str


def tools(log: Log, ledger: Path) -> list[Tool]:
    @tool(name="lookup", scopes=("read:data",))
    async def lookup(args: LookupArgs, ctx: ToolContext) -> JSONValue:
        """Look a company up."""
        log.write(kind="tool", tool="lookup", task_id=ctx.task_id)
        await asyncio.sleep(TOOL_LATENCY_S)
        return f"{args.topic}: 40 staff, renews in March"

    @tool(name="ledger_append", scopes=("write:ledger",), side_effects=True)
    async def ledger_append(args: LedgerArgs, ctx: ToolContext) -> JSONValue:
        """Append an entry to the bookings ledger (applied once per idempotency key)."""
        log.write(kind="tool", tool="ledger_append", task_id=ctx.task_id, key=ctx.idempotency_key)
        await asyncio.sleep(TOOL_LATENCY_S / 2)
        with contextlib.closing(sqlite3.connect(ledger, timeout=30)) as db, db:
            db.execute(
                "INSERT INTO attempts(key, run_id, task_id, entry) VALUES (?, ?, ?, ?)",
                (ctx.idempotency_key, ctx.run_id, ctx.task_id, args.entry),
            )
            db.execute(
                "INSERT OR IGNORE INTO applied(key, run_id, task_id, entry) VALUES (?, ?, ?, ?)",
                (ctx.idempotency_key, ctx.run_id, ctx.task_id, args.entry),
            )
        await asyncio.sleep(TOOL_LATENCY_S / 2)
        return f"booked: {args.entry}"

    return [lookup, ledger_append]


def init_ledger(ledger: Path) -> None:
    with contextlib.closing(sqlite3.connect(ledger)) as db, db:
        db.execute("CREATE TABLE IF NOT EXISTS attempts(key, run_id, task_id, entry)")
        db.execute("CREATE TABLE IF NOT EXISTS applied(key PRIMARY KEY, run_id, task_id, entry)")


AGENTS = [
    AgentSpec(
        name="fetcher",
        description="Looks companies up.",
        system_prompt="Look the company up with your tool and report what you found.",
        tools=("lookup",),
        scopes=("read:data",),
    ),
    AgentSpec(
        name="booker",
        description="Books calls in the ledger.",
        system_prompt="Book the call with your tool, then confirm it.",
        tools=("ledger_append",),
        scopes=("write:ledger",),
    ),
]


async def answer(request: ModelRequest) -> Any:
    if request.purpose in ("plan", "replan", "review"):
        await asyncio.sleep(LATENCY_S["plan"])
        return {"tasks": PLAN}
    task_id = request.task_id or "?"
    await asyncio.sleep(LATENCY_S.get(task_id, 0.1))
    messages = list(request.messages)
    results = [str(m.get("content")) for m in messages if m.get("role") == "tool"]
    name = TOOL_OF.get(request.agent or "")
    if name and not results and request.tools:
        argument = "topic" if name == "lookup" else "entry"
        target = "Northwind" if task_id in ("a", "c") else "Globex"
        return AssistantMessage(
            tool_calls=(
                ToolCall(
                    id=f"call-{task_id}",
                    name=name,
                    arguments=json.dumps({argument: f"call with {target}"}),
                ),
            )
        )
    # The answer carries its inputs and tool results, so the final answer reflects every task.
    prompt = str(messages[1].get("content", ""))
    inputs = re.findall(r"<input from='(\w+)'[^>]*>\n(.*?)\n</input>", prompt, re.S)
    found = [re.sub(r"<[^>]+>|\(Data from a tool[^)]*\)", "", r).strip() for r in results]
    parts = [f"{i}: {text}" for i, text in inputs] + found
    return f"{task_id} done [" + " | ".join(parts) + "]"


class TorturedPodium(Podium):
    """Podium whose checkpointer reports each task result it has durably written."""

    log: Log

    @contextlib.asynccontextmanager
    async def _checkpointer(self) -> AsyncIterator[Any]:
        async with super()._checkpointer() as saver:
            original = saver.aput_writes

            async def aput_writes(config: Any, writes: Any, task_id: str, *a: Any, **k: Any) -> Any:
                done = await original(config, writes, task_id, *a, **k)
                for _, value in writes:
                    if isinstance(value, dict) and "task" in value and "status" in value:
                        self.log.write(
                            kind="persisted", task_id=value["task"]["id"], status=value["status"]
                        )
                return done

            saver.aput_writes = aput_writes
            yield saver


def main() -> None:
    mode, data_dir, run_id, log_path, ledger = sys.argv[1:6]
    log = Log(Path(log_path))
    init_ledger(Path(ledger))
    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": data_dir},
            "memory": {"enabled": False},
            "policies": {"tools": {"ledger_append": {"approval": "never"}}},
        }
    )
    podium = TorturedPodium(
        config, model=FunctionModel(answer), agents=AGENTS, tools=tools(log, Path(ledger))
    )
    podium.log = log

    def on_event(event: Any) -> None:
        log.write(
            kind=event.kind,
            task_id=getattr(event, "task_id", None),
            restored=getattr(event, "restored", None),
        )

    async def go() -> Any:
        if mode == "run":
            return await podium.arun(
                "Book calls with Northwind and Globex", run_id=run_id, on_event=on_event
            )
        try:
            return await podium.aresume(run_id, on_event=on_event)
        except RunStateError:
            # Killed after the run had ended (its record saved, its answer not yet printed): an
            # ended run is not resumed, and its stored result is the outcome.
            stored = podium.store.get(run_id)
            if stored.result is None:
                raise
            return stored.result

    result = asyncio.run(go())
    podium.close()
    print(json.dumps({"status": result.status, "answer": result.answer, "error": result.error}))


if __name__ == "__main__":
    main()
