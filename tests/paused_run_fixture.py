"""A run paused for a human's approval, kept on disk as the code that made it left it.

`tests/fixtures/paused_run/` holds the data folder of one run (its record, audit trail and the
SQLite checkpoints) that stopped at an approval after two of its four tasks had finished. It was
made before the runtime was re-laid into sub-packages (issue 18) by running this file:

    .venv/bin/python tests/paused_run_fixture.py

and is committed as made: `test_paused_run_fixture.py` resumes it with today's code, which must
finish it without running the finished tasks again. LangGraph finds a task's checkpointed result
by the task's name and call order, so the test fails if a refactor changes either. Remake the
fixture only when a change to the stored format is deliberate (and say so in the commit).
`checkpoint_fixture.py` keeps a second stored run, paused after a re-plan at a guard's refusal.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from podium.agents import AgentSpec
from podium.runtime import Podium, PodiumConfig, RunResult
from podium.runtime.testing import ScriptedModel, Step, plan_reply, reply, tool_call

FIXTURE = Path(__file__).with_name("fixtures") / "paused_run"
RUN_ID = "paused-at-approval"
GOAL = "Research Northwind, note its risks, email Dana about it and summarise what was done"
EMAIL = {"to": "dana@northwind.example", "subject": "Northwind", "body": "Hi Dana, a note."}
PLAN = [
    {"id": "research", "agent": "researcher", "instruction": "research Northwind", "inputs": []},
    {"id": "notes", "agent": "analyst", "instruction": "note Northwind's risks", "inputs": []},
    {"id": "send", "agent": "outreach", "instruction": "email Dana", "inputs": ["research"]},
    {
        "id": "summary",
        "agent": "writer",
        "instruction": "summarise what was done",
        "inputs": ["send", "notes"],
    },
]
FINISHED = {"research": "Northwind sells analytics.", "notes": "Risk: one large customer."}
"""The outputs of the tasks that finished before the run paused."""

OUTREACH = AgentSpec(
    name="outreach",
    description="Sends emails.",
    system_prompt="Send the email the task asks for.",
    tools=("send_email",),
    scopes=("write:email",),
)


def config(data_dir: Path, workspace: Path) -> PodiumConfig:
    """The configuration the run was made with (and is resumed with), rooted at `data_dir`."""
    workspace.mkdir(parents=True, exist_ok=True)
    return PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(data_dir)},
            "tools": {"workspace": str(workspace)},
            "memory": {"enabled": False},
            "planner": {"playbooks": False},
        }
    )


def first_part() -> list[Step]:
    """What the model answered up to the pause: the plan, two tasks, the email's tool call."""
    return [
        plan_reply(PLAN),
        *(reply(text, task=task_id) for task_id, text in FINISHED.items()),
        tool_call("send_email", EMAIL, task="send"),
    ]


def second_part() -> list[Step]:
    """What the model answers after the approval: only the unfinished tasks' steps. The
    approved task runs again from its start (its tool call is journaled, so it sends once)."""
    return [
        tool_call("send_email", EMAIL, task="send"),
        reply("Sent.", task="send"),
        reply("Researched, noted and emailed Dana.", task="summary"),
    ]


def podium(data_dir: Path, workspace: Path, model: ScriptedModel, **kwargs: Any) -> Podium:
    return Podium(config(data_dir, workspace), model=model, agents=[OUTREACH], **kwargs)


def make(into: Path = FIXTURE) -> RunResult:
    """Run until the approval and keep the data folder under `into` (replacing it)."""
    shutil.rmtree(into, ignore_errors=True)
    result = podium(into / "data", into / "workspace", ScriptedModel(first_part())).run(
        GOAL, run_id=RUN_ID
    )
    if result.status != "waiting_for_human":
        raise SystemExit(f"the run should wait for a human, it is {result.status}: {result.error}")
    shutil.rmtree(into / "workspace")
    return result


if __name__ == "__main__":
    made = make(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURE)
    print(f"{made.run_id}: {made.status}, waiting on {[e.id for e in made.escalations]}")
