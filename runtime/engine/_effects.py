"""The effect journal: side-effecting tool calls recorded durably, so a resumed run never repeats one.

LangGraph checkpoints a task's result when the task finishes; a task killed half-way runs again
from its start on resume, and every tool call in it would run again (LangGraph's open reports
#8039, #6792). Podium closes that gap for side-effecting tools: before such a call runs, its
idempotency key is journaled as `intent`; when it returns, as `done` with its result (each line
fsync'd). On resume a call whose key is `done` returns the journaled result without running;
a call left at `intent` (killed mid-call) runs again with the same key, for the receiving
system to apply once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from pathlib import Path
from typing import Any

from podium.tools import JSONValue, Tool, ToolContext

EFFECTS_FILE = "effects.jsonl"


class EffectJournal:
    """One run's journal of side-effecting calls (`run_dir/effects.jsonl`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._done: dict[str, JSONValue] = {}
        self._lock = threading.Lock()
        self.replayed = 0
        """Calls answered from the journal instead of running again (in this process)."""
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by a kill: its call is re-run under the same key
                if record.get("state") == "done":
                    self._done[record["key"]] = record.get("result")

    def done(self, key: str) -> tuple[bool, JSONValue]:
        with self._lock:
            return (key in self._done, self._done.get(key))

    def write(self, key: str, state: str, tool: str, result: JSONValue = None) -> None:
        line = json.dumps({"key": key, "state": state, "tool": tool, "result": result}, default=str)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\n").encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            if state == "done":
                self._done[key] = result


def journaled(tool: Tool, journal: EffectJournal) -> Tool:
    """`tool` with its calls journaled: a call whose key is done is answered from the journal."""
    if not tool.side_effects:
        return tool

    async def run(args: Any, ctx: ToolContext) -> JSONValue:
        key = ctx.idempotency_key
        if not key:
            return await tool.fn(args, ctx)
        found, result = journal.done(key)
        if found:
            journal.replayed += 1
            return result
        journal.write(key, "intent", tool.name)
        result = await tool.fn(args, ctx)
        journal.write(key, "done", tool.name, result)
        return result

    return dataclasses.replace(tool, fn=run)
