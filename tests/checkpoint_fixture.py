"""A run checkpointed by the supervisor before it was split into `runtime/engine/` (commit f4dbb2c).

LangGraph names a task call by the task's name and its place in the call order. The fixture in
`fixtures/run-before-engine-split/` holds a run paused for a human after a failed task, a
re-plan, and a refused output: three plan steps' worth of checkpointed calls. `python
tests/checkpoint_fixture.py DIR` wrote it (the code of that commit); test_checkpoint_compat.py
resumes it with today's code. Its sibling, `paused_run_fixture.py`, stores a run paused at a tool
call's approval (the approved task runs again, its journaled effect does not); this one holds
what that one has not: a refusal's re-plan, a guard's escalation to a human and the synthesis.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from podium.agents import AgentSpec
from podium.policies import ValidatorRef
from podium.runtime import Podium, PodiumConfig
from podium.runtime.testing import ScriptedModel, Step, plan_reply, reply

RUN_ID = "before-split"
GOAL = "Research Northwind, score the lead and write to them"
FIXTURE = Path(__file__).with_name("fixtures") / "run-before-engine-split"


def task(id: str, agent: str, inputs: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"id": id, "agent": agent, "instruction": f"do {id}", "inputs": list(inputs)}


AGENTS = [
    AgentSpec(
        name="refuser",
        description="Scores leads, and refrains from promises.",
        system_prompt="Score the lead.",
        validators=(ValidatorRef(name="ban_list", banned_words=["guaranteed"], on_fail="refrain"),),
    ),
    AgentSpec(
        name="scorer",
        description="Scores leads; a human judges its promises.",
        system_prompt="Score the lead.",
        validators=(
            ValidatorRef(name="ban_list", banned_words=["guaranteed"], on_fail="exception"),
        ),
    ),
]

FIRST: list[Step] = [
    plan_reply([task("a", "researcher"), task("r", "refuser"), task("c", "writer")]),
    reply("Northwind: 40 staff, renews in March.", task="a"),
    reply("A guaranteed win", task="r"),  # refrain: the task fails and the supervisor re-plans
    reply("Draft: hello Northwind.", task="c"),
    plan_reply(
        [
            task("a", "researcher"),
            task("c", "writer"),
            task("s", "scorer", ("a",)),
            task("w", "writer", ("s",)),
        ],
        purpose="replan",
    ),
    reply("A guaranteed lead, score 9", task="s"),  # exception: a human decides
]
"""What the run asks before it waits for the human (guard-s)."""

RESUMED: list[Step] = [
    reply("Dear Northwind, about your renewal.", task="w"),
    reply("Scored 9; the email is written.", purpose="synthesis"),
]
"""What it asks once the human approves s: only the tasks not yet done, then the synthesis."""


def config(data: Path) -> PodiumConfig:
    workspace = data.parent / "workspace"
    workspace.mkdir(parents=True, exist_ok=True)
    return PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(data)},
            "tools": {"workspace": str(workspace)},
            "memory": {"enabled": False},
            "planner": {"playbooks": False},
        }
    )


def podium(data: Path, steps: list[Step]) -> tuple[Podium, ScriptedModel]:
    model = ScriptedModel(steps)
    return Podium(config(data), model=model, agents=AGENTS), model


def main(out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    first, model = podium(out / "data", FIRST)
    result = first.run(GOAL, run_id=RUN_ID)
    assert result.status == "waiting_for_human", result
    model.assert_complete()
    shutil.rmtree(out / "workspace", ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURE)
