"""Hard budgets: each limit stops new calls, the run ends `budget_exceeded`, completed work is kept."""

from __future__ import annotations

import asyncio

import pytest
from conftest import make, task

from podium.policies import BudgetExceeded, BudgetTracker
from podium.runtime import BudgetConfig, ModelRequest, Podium, PodiumConfig
from podium.runtime.testing import FunctionModel, Reply, ScriptedModel, plan_reply, reply

CHAIN = [task("a", "writer"), task("b", "writer", ["a"]), task("c", "writer", ["b"])]


def with_budget(config: PodiumConfig, **limits: float) -> PodiumConfig:
    return config.model_copy(update={"budget": BudgetConfig.model_validate(limits)})


def chain_model(**kwargs: float) -> ScriptedModel:
    return ScriptedModel(
        [plan_reply(CHAIN), reply("A", task="a"), reply("B", task="b"), reply("C", task="c")],
        **kwargs,
    )


@pytest.mark.parametrize(
    ("limits", "limit_name"),
    [
        ({"max_calls": 2}, "calls limit of 2 model calls"),
        ({"max_tokens": 1}, "tokens limit of 1 tokens"),
        ({"max_usd": 0.000001}, "usd limit of 1e-06 USD"),
    ],
)
async def test_each_limit_stops_the_run_and_keeps_what_completed(
    config: PodiumConfig, limits: dict[str, float], limit_name: str
) -> None:
    model = chain_model(usd_per_token=0.001)
    podium = make(with_budget(config, **limits), model)
    result = await podium.arun("a chain of three", run_id="budgeted")

    assert result.status == "budget_exceeded"
    assert limit_name in (result.error or "")
    assert result.answer is None
    statuses = {i: r.status for i, r in result.tasks.items()}
    stopped_at = "b" if limits.get("max_calls") else "a"
    assert statuses[stopped_at] == "skipped"
    assert all(s == "completed" for i, s in statuses.items() if i < stopped_at)
    assert "budget exceeded" in (result.tasks[stopped_at].error or "")
    assert podium.store.get("budgeted").result == result  # the partial result is kept on disk


async def test_the_calls_limit_counts_the_planner_too(config: PodiumConfig) -> None:
    result = await make(with_budget(config, max_calls=1), chain_model()).arun("goal")
    assert result.status == "budget_exceeded"
    assert result.tasks["a"].status == "skipped"
    assert result.usage.calls == 1


async def test_a_budget_spent_by_planning_ends_the_run_before_any_task(
    config: PodiumConfig,
) -> None:
    model = ScriptedModel([plan_reply([task("a", "writer", ["ghost"])]), plan_reply(CHAIN)])
    result = await make(with_budget(config, max_calls=1), model).arun("goal")
    assert result.status == "budget_exceeded"
    assert result.plan is None and result.tasks == {}
    assert "calls limit" in (result.error or "")


async def test_the_wall_time_limit_stops_calls_in_flight(config: PodiumConfig) -> None:
    async def slow(request: ModelRequest) -> Reply:
        if request.purpose == "plan":
            return {"tasks": [task("quick", "writer"), task("stuck", "writer")]}
        await asyncio.sleep(0.05 if request.task_id == "quick" else 60)
        return "done"

    result = await Podium(with_budget(config, max_wall_s=1.0), model=FunctionModel(slow)).arun(
        "goal"
    )
    assert result.status == "budget_exceeded"
    assert "wall_time limit of 1 seconds" in (result.error or "")
    assert result.tasks["quick"].status == "completed"
    assert result.tasks["stuck"].status == "skipped"


async def test_the_dollar_limit_is_overshot_by_at_most_the_calls_in_flight(
    config: PodiumConfig,
) -> None:
    concurrency, per_call = 4, 0.01
    config = with_budget(config, max_usd=0.025).model_copy(
        update={"run": config.run.model_copy(update={"concurrency": concurrency})}
    )
    plan = [task(f"t{i}", "researcher") for i in range(12)]

    async def priced(request: ModelRequest) -> Reply:
        await asyncio.sleep(0.02)
        return {"tasks": plan} if request.purpose == "plan" else "fact"

    model = FunctionModel(priced)
    podium = Podium(config, model=model)
    podium.model = _Priced(model, per_call)
    result = await podium.arun("twelve facts")
    assert result.status == "budget_exceeded"
    assert result.usage.cost_usd <= 0.025 + concurrency * per_call
    assert any(r.status == "completed" for r in result.tasks.values())
    assert any(r.status == "skipped" for r in result.tasks.values())


class _Priced:
    """Wraps a double so every call costs exactly `usd`."""

    def __init__(self, inner: FunctionModel, usd: float) -> None:
        self.inner, self.usd = inner, usd

    async def complete(self, request: ModelRequest):  # type: ignore[no-untyped-def]
        response = await self.inner.complete(request)
        return response.model_copy(
            update={"usage": response.usage.model_copy(update={"cost_usd": self.usd})}
        )


def test_the_tracker_refuses_once_a_limit_is_reached() -> None:
    tracker = BudgetTracker(max_calls=2)
    tracker.begin_call()
    tracker.begin_call()
    with pytest.raises(BudgetExceeded, match="calls limit of 2") as info:
        tracker.begin_call()
    assert info.value.limit == "calls"
    assert tracker.stopped is info.value
