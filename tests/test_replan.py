"""A failed task makes the supervisor re-plan; completed work is kept, not redone."""

from __future__ import annotations

from conftest import make, task

from podium.runtime import ModelError, PodiumConfig, Replanned, RunEvent
from podium.runtime.testing import ScriptedModel, fail, plan_reply, reply

TRIES = 4
"""A cheap-tier task's ladder by default: cheap, cheap retry, frontier, frontier retry."""


def failing(task_id: str, times: int) -> list:  # type: ignore[type-arg]
    return [fail(ModelError("provider answered 500"), task=task_id) for _ in range(times)]


async def test_a_failed_task_is_replaced_by_a_replan(config: PodiumConfig) -> None:
    first = [task("a", "researcher"), task("side", "enricher"), task("b", "writer", ["a", "side"])]
    second = [
        task("a2", "enricher"),
        task("side", "enricher", instruction="do side"),
        task("b", "writer", ["a2", "side"]),
    ]
    model = ScriptedModel(
        [
            plan_reply(first),
            *failing("a", TRIES),
            reply("side facts", task="side"),
            plan_reply(second, purpose="replan"),
            reply("a2 facts", task="a2"),
            reply("the answer", task="b"),
        ]
    )
    events: list[RunEvent] = []
    result = await make(config, model).arun("goal", on_event=events.append)

    assert result.status == "completed", result.error
    assert result.answer == "the answer"
    assert result.plan_revisions == 1
    assert result.tasks["a"].status == "failed"
    assert "provider answered 500" in (result.tasks["a"].error or "")
    assert result.tasks["side"].status == "completed"
    assert result.tasks["a2"].status == "completed"
    replans = [e for e in events if isinstance(e, Replanned)]
    assert len(replans) == 1
    assert replans[0].added == ("a2",) and replans[0].removed == ("a",)
    replan_prompt = next(c for c in model.calls if c.purpose == "replan").messages[-1]["content"]
    assert "a FAILED" in replan_prompt and "side completed: side facts" in replan_prompt
    # `side` ran once: the re-plan reused its result (a second call would find no scripted step).
    assert [c.task_id for c in model.calls].count("side") == 1
    model.assert_complete()


async def test_a_replan_may_not_rewrite_a_completed_task(config: PodiumConfig) -> None:
    first = [task("a", "researcher"), task("side", "enricher"), task("b", "writer", ["a", "side"])]
    rewrites_side = [
        task("side", "enricher", instruction="something else"),
        task("b", "writer", ["side"]),
    ]
    fixed = [task("side", "enricher"), task("b", "writer", ["side"])]
    model = ScriptedModel(
        [
            plan_reply(first),
            *failing("a", TRIES),
            reply("side facts", task="side"),
            plan_reply(rewrites_side, purpose="replan"),
            plan_reply(fixed, purpose="replan"),
            reply("answer", task="b"),
        ]
    )
    result = await make(config, model).arun("goal")
    assert result.status == "completed"
    second_try = [c for c in model.calls if c.purpose == "replan"][1]
    assert (
        "task 'side' has already completed, so it cannot change"
        in second_try.messages[-1]["content"]
    )
    model.assert_complete()


async def test_when_replans_run_out_the_run_fails_and_keeps_its_results(
    config: PodiumConfig,
) -> None:
    config = config.model_copy(
        update={"planner": config.planner.model_copy(update={"max_replans": 0})}
    )
    plan = [task("a", "researcher"), task("side", "enricher"), task("b", "writer", ["a", "side"])]
    model = ScriptedModel(
        [
            plan_reply(plan),
            *failing("a", TRIES),
            reply("side facts", task="side"),
        ]
    )
    podium = make(config, model)
    result = await podium.arun("goal", run_id="partial")
    assert result.status == "failed"
    assert "did not complete after 0 re-plan(s)" in (result.error or "")
    assert result.tasks["side"].output == "side facts"
    assert result.tasks["b"].status == "skipped"
    assert podium.store.get("partial").result == result
    model.assert_complete()


async def test_a_task_that_fails_once_is_retried_before_any_replan(config: PodiumConfig) -> None:
    model = ScriptedModel(
        [
            plan_reply([task("a", "writer")]),
            fail(TimeoutError("slow"), task="a"),
            reply("ok", task="a"),
        ]
    )
    result = await make(config, model).arun("goal")
    assert result.status == "completed"
    assert result.tasks["a"].attempts == 2
    assert result.plan_revisions == 0


async def test_a_review_round_may_add_tasks_then_finish(config: PodiumConfig) -> None:
    config = config.model_copy(
        update={"run": config.run.model_copy(update={"review": "each_round"})}
    )
    first = [task("a", "researcher"), task("b", "writer", ["a"])]
    extended = [*first, task("c", "writer", ["b"], instruction="add a call to action")]
    model = ScriptedModel(
        [
            plan_reply(first),
            reply("facts", task="a"),
            reply("draft", task="b"),
            plan_reply(extended, purpose="review"),
            reply("draft with a call to action", task="c"),
            plan_reply(extended, purpose="review"),  # unchanged: the reviewer is satisfied
        ]
    )
    events: list[RunEvent] = []
    result = await make(config, model).arun("write to a lead", on_event=events.append)

    assert result.status == "completed"
    assert result.answer == "draft with a call to action"
    assert result.plan_revisions == 1
    assert [c.purpose for c in model.calls if c.task_id is None] == ["plan", "review", "review"]
    assert [e.added for e in events if isinstance(e, Replanned)] == [("c",)]
    review_prompt = next(c for c in model.calls if c.purpose == "review").messages[-1]["content"]
    assert "Every task of the plan below has completed" in review_prompt
    model.assert_complete()
