"""A task that does not complete says why as a kind, whatever its error's words."""

from __future__ import annotations

from typing import Any

from conftest import task

from podium.agents import AgentSpec
from podium.policies import ValidatorRef
from podium.runtime import FailureKind, ModelError, ModelRequest, Podium, PodiumConfig
from podium.runtime.testing import FunctionModel

PLAN = [
    task("m", "researcher"),
    task("g", "scorer"),
    task("after", "writer", ["m"]),
]


def answer(request: ModelRequest) -> Any:
    match request.purpose, request.task_id:
        case "plan", _:
            return {"tasks": PLAN}
        case _, "m":
            raise ModelError("the provider is down")
        case _, "g":
            return "A guaranteed win"
        case _:
            return "done"


def test_each_unfinished_task_carries_the_kind_of_what_stopped_it(config: PodiumConfig) -> None:
    refrains = AgentSpec(
        name="scorer",
        description="Scores leads.",
        system_prompt="Score the lead.",
        validators=(ValidatorRef(name="ban_list", banned_words=["guaranteed"], on_fail="refrain"),),
    )
    ends = config.model_copy(  # no re-plan, no human: the first round's failures end the run
        update={
            "planner": config.planner.model_copy(update={"max_replans": 0}),
            "policies": config.policies.model_copy(update={"escalation": "fail"}),
        }
    )
    result = Podium(ends, model=FunctionModel(answer), agents=[refrains]).run("goal")

    assert result.status == "failed"
    kinds = {i: (r.status, r.failure) for i, r in result.tasks.items()}
    assert kinds == {
        "m": ("failed", FailureKind.MODEL),
        "g": ("failed", FailureKind.GUARD),
        "after": ("skipped", FailureKind.UPSTREAM),
    }
