"""Plan validation: every kind of bad plan is refused with a reason naming the task."""

from __future__ import annotations

import json

import pytest
from conftest import make, task

from podium.runtime import PlanError, PlanValidationError, PodiumConfig, validate_plan
from podium.runtime.engine._planner import parse_plan
from podium.runtime.testing import ScriptedModel, plan_reply, reply

AGENTS = ["researcher", "writer"]


def problems_of(data: object, *, max_tasks: int = 10) -> list[str]:
    with pytest.raises(PlanValidationError) as info:
        validate_plan(data, agents=AGENTS, max_tasks=max_tasks)
    return info.value.problems


def test_a_valid_plan_keeps_its_shape() -> None:
    plan = validate_plan(
        {
            "tasks": [
                task("a", "researcher"),
                task("b", "researcher"),
                task("c", "writer", ["a", "b"]),
            ]
        },
        agents=AGENTS,
        max_tasks=10,
    )
    assert [t.id for t in plan.topological_order()] == ["a", "b", "c"]
    assert [t.id for t in plan.sinks()] == ["c"]
    assert plan.dependents("a") == {"c"}
    assert plan.critical_path({"a": 1, "b": 3, "c": 1}) == 4


@pytest.mark.parametrize(
    ("tasks", "expected"),
    [
        pytest.param(
            [task("a", "researcher", ["b"]), task("b", "writer", ["a"])],
            r"tasks (a -> b -> a|b -> a -> b) form a cycle",
            id="cycle",
        ),
        pytest.param(
            [task("a", "researcher"), task("a", "writer")],
            r"task 'a' is defined twice \(positions 1 and 2\)",
            id="duplicate-id",
        ),
        pytest.param(
            [task("a", "astrologer")],
            r"task 'a' names agent 'astrologer', which is not registered: use one of \['researcher', 'writer'\]",
            id="unknown-agent",
        ),
        pytest.param(
            [task("a", "researcher"), task("b", "writer", ["zz"])],
            r"task 'b' takes input from 'zz', which is not in the plan",
            id="missing-input",
        ),
        pytest.param(
            [task("a", "researcher", ["a"])], r"task 'a' lists itself as an input", id="self-input"
        ),
        pytest.param(
            [task(f"t{i}", "researcher") for i in range(11)],
            r"the plan has 11 tasks, over the limit of 10",
            id="over-size",
        ),
        pytest.param(
            [
                task("a", "researcher", instruction="Look up Maya Chen in crm_leads."),
                task("b", "researcher", instruction="look up  maya chen in CRM_LEADS"),
            ],
            r"task 'b' repeats task 'a' \(same agent 'researcher', instruction and inputs\)",
            id="duplicate-work",
        ),
        pytest.param([], r"field 'tasks'", id="empty"),
        pytest.param(
            [{"id": "a", "agent": "writer"}],
            r"task 'a': field 'instruction': Field required",
            id="missing-field",
        ),
    ],
)
def test_bad_plans_are_rejected_with_their_reason(
    tasks: list[dict[str, object]], expected: str
) -> None:
    problems = problems_of({"tasks": tasks})
    assert any(__import__("re").search(expected, p) for p in problems), problems


def test_a_reply_that_is_not_json_says_so() -> None:
    with pytest.raises(PlanValidationError, match="not a JSON object"):
        parse_plan("I think we should research first.", agents=AGENTS, max_tasks=5)


def test_json_inside_prose_or_fences_is_accepted() -> None:
    text = "Here is the plan:\n```json\n" + json.dumps({"tasks": [task("a", "writer")]}) + "\n```"
    assert parse_plan(text, agents=AGENTS, max_tasks=5).ids == ["a"]


async def test_planner_gets_the_problems_back_and_tries_again(config: PodiumConfig) -> None:
    model = ScriptedModel(
        [
            plan_reply([task("a", "writer", ["ghost"])]),
            plan_reply([task("a", "writer")]),
            reply("done", task="a"),
        ]
    )
    result = await make(config, model).arun("write something")
    assert result.status == "completed"
    retry_messages = model.calls[1].messages
    assert "task 'a' takes input from 'ghost'" in retry_messages[-1]["content"]
    model.assert_complete()


async def test_no_valid_plan_ends_with_plan_error_and_keeps_the_attempts(
    config: PodiumConfig,
) -> None:
    bad = [task("a", "astrologer")]
    model = ScriptedModel([plan_reply(bad) for _ in range(config.planner.attempts)])
    podium = make(config, model)
    with pytest.raises(PlanError, match="no valid plan after 3 attempt") as info:
        await podium.arun("read the stars", run_id="stars")
    assert len(info.value.attempts) == 3
    record = podium.store.get("stars")
    assert record.status == "failed"
    assert len(record.rejected_plans) == 3
    assert "astrologer" in record.rejected_plans[0]["problems"][0]


def test_the_same_instruction_for_another_agent_or_other_inputs_is_not_a_duplicate() -> None:
    same = "Summarise the findings"
    plan = validate_plan(
        {
            "tasks": [
                task("a", "researcher"),
                task("b", "researcher"),
                task("c", "writer", ["a"], instruction=same),
                task("d", "writer", ["b"], instruction=same),
                task("e", "researcher", ["a"], instruction=same),
            ]
        },
        agents=AGENTS,
        max_tasks=10,
    )
    assert len(plan.tasks) == 5
