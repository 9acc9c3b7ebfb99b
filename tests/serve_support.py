"""A scripted model for the server, chat and web tests (not a test module).

Plans by the goal: a goal that mentions email is a draft task and a send task (the `outreach`
agent calls `send_email`, a side effect that waits for a human's approval); any other goal is
two researchers and a writer; a goal that says "unplannable" gets no valid plan (the run fails
in planning), one that says "at length" gets a long first finding, and in one that says "b
fails" every call for task b fails (the run fails in a task). Each call can take a fixed
latency, so a page can watch the graph fill in. A follow-up (a goal carrying earlier turns) is
answered as one.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import sys
import threading
from pathlib import Path
from typing import Any

from podium.agents import AgentSpec
from podium.runtime import (
    AssistantMessage,
    ModelError,
    ModelRequest,
    Podium,
    PodiumConfig,
    ToolCall,
)
from podium.runtime.testing import FunctionModel, Reply

OUTREACH = AgentSpec(
    name="outreach",
    description="Sends the emails a task asks for.",
    system_prompt="Send the email the task asks for, then say what you sent.",
    tools=("send_email",),
    scopes=("write:email",),
)
RESEARCH_PLAN = [
    {"id": "a", "agent": "researcher", "instruction": "Find the facts about A.", "inputs": []},
    {"id": "b", "agent": "researcher", "instruction": "Find the facts about B.", "inputs": []},
    {"id": "c", "agent": "writer", "instruction": "Write a summary.", "inputs": ["a", "b"]},
]
CHAIN_PLAN = [  # four columns: wider than the web page's graph box at desktop width
    {"id": "a", "agent": "researcher", "instruction": "Find the facts about A.", "inputs": []},
    {"id": "b", "agent": "researcher", "instruction": "Find the facts about B.", "inputs": ["a"]},
    {"id": "c", "agent": "writer", "instruction": "Write a summary.", "inputs": ["b"]},
    {"id": "d", "agent": "writer", "instruction": "Check the summary.", "inputs": ["c"]},
]
EMAIL_PLAN = [
    {"id": "draft", "agent": "writer", "instruction": "Draft the email to Dana.", "inputs": []},
    {
        "id": "send",
        "agent": "outreach",
        "instruction": "Send the drafted email to dana@northwind.example.",
        "inputs": ["draft"],
    },
]
DRAFT = "Hi Dana,\n\nshall we talk next week?\n\nSam"
EMAIL = {"to": "dana@northwind.example", "subject": "Hello", "body": DRAFT}
_ids = itertools.count(1)


def text_of(request: ModelRequest) -> str:
    return "\n".join(str(m.get("content") or "") for m in request.messages)


class ScriptedBackend(FunctionModel):
    """A FunctionModel that remembers each run's goal, so task answers can depend on it."""

    def __init__(
        self,
        latency_s: float = 0.0,
        *,
        plan_latency_s: float | None = None,
        one_at_a_time: bool = False,
    ) -> None:
        super().__init__(self.answer, name="scripted-model", one_at_a_time=one_at_a_time)
        self.delay_s = latency_s
        self.plan_delay_s = latency_s if plan_latency_s is None else plan_latency_s
        self.goals: dict[str, str] = {}
        self.started: collections.defaultdict[str, threading.Event] = collections.defaultdict(
            threading.Event
        )
        """Set when a call for that task id (or purpose) begins: tests wait on it."""

    async def answer(self, request: ModelRequest) -> Reply:
        self.started[request.task_id or request.purpose].set()
        delay = self.plan_delay_s if request.purpose in ("plan", "replan") else self.delay_s
        if delay:
            await asyncio.sleep(delay)
        return self.reply(request)

    def reply(self, request: ModelRequest) -> Reply:
        if request.purpose in ("plan", "replan", "review"):
            goal = next(
                (
                    str(m["content"]).removeprefix("Goal: ")
                    for m in request.messages
                    if str(m.get("content", "")).startswith("Goal: ")
                ),
                text_of(request),
            )
            self.goals[request.run_id] = goal
            request_line = goal.split("\n", 1)[0].lower()
            if "unplannable" in request_line:
                return {"tasks": []}  # no valid plan on any attempt: planning fails
            if "step by step" in request_line:
                return {"tasks": CHAIN_PLAN}
            return {"tasks": EMAIL_PLAN if "email" in request_line else RESEARCH_PLAN}
        if request.purpose == "synthesis":
            return "Synthesised."
        goal = self.goals.get(request.run_id, "")
        match request.task_id:
            case "send":
                if any(m.get("role") == "tool" for m in request.messages):
                    return "Sent the email to Dana."
                call = ToolCall(
                    id=f"call_{next(_ids)}", name="send_email", arguments=json.dumps(EMAIL)
                )
                return AssistantMessage(tool_calls=(call,))
            case "draft":
                return DRAFT
            case "b" if "b fails" in goal.split("\n", 1)[0]:
                raise ModelError("the scripted model is down for task b")
            case "a" if "at length" in goal.split("\n", 1)[0]:
                return "\n".join(f"Fact {n} about A: it holds." for n in range(1, 41))
            case "c":
                follow_up = " (a follow-up)" if "Earlier turns of this conversation" in goal else ""
                return f"Summary of A and B for: {goal.split(chr(10), 1)[0]}{follow_up}"
            case other:
                return f"Facts about {other}."


def podium_for(
    data_dir: Path, latency_s: float = 0.0, *, model: ScriptedBackend | None = None, **sections: Any
) -> Podium:
    """A Podium on the scripted backend (`model`, else one with `latency_s`): its own data
    folder, memory off, the outreach agent."""
    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(data_dir)},
            "tools": {"workspace": str(data_dir)},
            "memory": {"enabled": False},
            **sections,
        }
    )
    return Podium(config, model=model or ScriptedBackend(latency_s), agents=[OUTREACH])


if __name__ == "__main__":
    # python tests/serve_support.py serve DATA_DIR LATENCY_S: a real uvicorn server on a free
    # port of 127.0.0.1; prints "PORT <n>" when it listens.
    # python tests/serve_support.py chat DATA_DIR: `podium chat` on the scripted backend.
    # python tests/serve_support.py cli DATA_DIR LATENCY_S PLAN_LATENCY_S ARGS...: the `podium`
    # command on the scripted backend, serving one call at a time as the embedded model does.
    mode, data_dir, *rest = sys.argv[1:]
    if mode == "serve":
        from podium.runtime import create_app, serve

        podium = podium_for(Path(data_dir), float(rest[0]) if rest else 0.0)
        app = create_app(podium, tokens={})
        serve(
            app, host="127.0.0.1", port=0, on_ready=lambda port: print(f"PORT {port}", flush=True)
        )
    elif mode == "chat":
        from podium.runtime.cli._chat import run_chat

        raise SystemExit(run_chat(podium_for(Path(data_dir), float(rest[0]) if rest else 0.0)))
    elif mode == "cli":
        from podium.runtime.cli import _main

        latency, plan_latency, *argv = rest
        backend = ScriptedBackend(
            float(latency), plan_latency_s=float(plan_latency), one_at_a_time=True
        )
        podium = podium_for(Path(data_dir), model=backend)
        _main._podium = lambda args: podium  # type: ignore[assignment]  # the scripted backend
        raise SystemExit(_main.main(argv))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
