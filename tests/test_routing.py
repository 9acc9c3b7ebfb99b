"""Per-task routing: the tier a task starts on, retries, escalation, and the record of each decision."""

from __future__ import annotations

import pytest
from conftest import make, task

from podium.agents import AgentRegistry, AgentSpec
from podium.runtime import (
    ModelError,
    PodiumConfig,
    RoutingConfig,
    RoutingPolicy,
    RoutingRule,
    RunEvent,
    Rung,
    Task,
    TaskStarted,
    Tier,
)
from podium.runtime.testing import ScriptedModel, fail, plan_reply, reply

SPECS = AgentRegistry.builtin()


def ladder(
    t: Task, config: RoutingConfig | None = None, failures: dict[str, int] | None = None
) -> list[tuple[str, str]]:
    return [(r.tier, r.kind) for r in RoutingPolicy(config).ladder(t, SPECS.get(t.agent), failures)]


def test_a_cheap_task_retries_once_then_escalates() -> None:
    t = Task(id="a", agent="writer", instruction="write", tier="cheap")
    assert ladder(t) == [
        ("cheap", "initial"),
        ("cheap", "retry"),
        ("frontier", "escalation"),
        ("frontier", "retry"),
    ]


@pytest.mark.parametrize(
    ("config", "cheap_start", "frontier_start"),
    [
        (
            RoutingConfig(frontier_retries=0),
            ["cheap:initial", "cheap:retry", "frontier:escalation"],
            ["frontier:initial"],
        ),
        (
            RoutingConfig(retries_per_tier=0, frontier_retries=2),
            ["cheap:initial", "frontier:escalation", "frontier:retry", "frontier:retry"],
            ["frontier:initial", "frontier:retry", "frontier:retry"],
        ),
        (
            RoutingConfig(retries_per_tier=2),  # frontier_retries unset: as retries_per_tier
            [
                "cheap:initial",
                "cheap:retry",
                "cheap:retry",
                "frontier:escalation",
                "frontier:retry",
                "frontier:retry",
            ],
            ["frontier:initial", "frontier:retry", "frontier:retry"],
        ),
    ],
)
def test_frontier_retries_are_set_apart_from_cheap_ones(
    config: RoutingConfig, cheap_start: list[str], frontier_start: list[str]
) -> None:
    def tries(start: Tier) -> list[str]:
        t = Task(id="a", agent="writer", instruction="write", tier=start)
        return [f"{tier}:{kind}" for tier, kind in ladder(t, config)]

    assert (tries("cheap"), tries("frontier")) == (cheap_start, frontier_start)


def test_a_ladder_may_start_from_a_rung_chosen_elsewhere() -> None:
    policy = RoutingPolicy(RoutingConfig(frontier_retries=0))
    rungs = policy.ladder_from(Rung("cheap", "chosen by a caller", "initial"))
    assert [(r.tier, r.reason) for r in rungs] == [
        ("cheap", "chosen by a caller"),
        ("cheap", "retry 1 on cheap after a failure"),
        ("frontier", "escalated after 2 failed tries on cheap"),
    ]


def test_the_first_matching_rule_pins_the_tier() -> None:
    rules = [RoutingRule(agent="writer", tier="frontier"), RoutingRule(tier="cheap")]
    policy = RoutingPolicy(RoutingConfig(rules=rules))
    writer, analyst = (
        Task(id="a", agent=agent, instruction="x") for agent in ("writer", "analyst")
    )
    assert (policy.rule_for(writer), policy.rule_for(analyst)) == tuple(rules)
    assert RoutingPolicy().rule_for(writer) is None


def test_past_failures_are_ignored_unless_configured() -> None:
    t = Task(id="a", agent="writer", instruction="x", tier="cheap")
    assert ladder(t, failures={"writer": 5})[0] == ("cheap", "initial")


def test_a_frontier_task_never_goes_down() -> None:
    t = Task(id="a", agent="writer", instruction="write", tier="frontier")
    assert ladder(t) == [("frontier", "initial"), ("frontier", "retry")]


@pytest.mark.parametrize(
    ("t", "config", "failures", "tier", "reason"),
    [
        (
            Task(id="a", agent="writer", instruction="x"),
            None,
            None,
            "cheap",
            "agent 'writer' default",
        ),
        (
            Task(id="a", agent="reviewer", instruction="x"),
            None,
            None,
            "cheap",
            "agent 'reviewer' default",
        ),
        (
            Task(id="a", agent="reviewer", instruction="x", tier="frontier"),
            None,
            None,
            "frontier",
            "planner hint",
        ),
        (
            Task(id="a", agent="writer", instruction="x", tier="cheap"),
            RoutingConfig(rules=[RoutingRule(agent="writer", tier="frontier")]),
            None,
            "frontier",
            "rule agent=writer -> frontier",
        ),
        (
            Task(id="a", agent="writer", instruction="x" * 2000, tier="cheap"),
            RoutingConfig(rules=[RoutingRule(min_instruction_chars=1500, tier="frontier")]),
            None,
            "frontier",
            "rule instruction>=1500 chars -> frontier",
        ),
        (
            Task(id="a", agent="writer", instruction="x", tier="cheap"),
            RoutingConfig(escalate_agent_after_failures=2),
            {"writer": 2},
            "frontier",
            "agent 'writer' already failed 2 time(s) on cheap in this run",
        ),
    ],
)
def test_the_first_tier_and_why(
    t: Task, config: RoutingConfig | None, failures: dict[str, int] | None, tier: str, reason: str
) -> None:
    first = RoutingPolicy(config).initial(t, SPECS.get(t.agent), failures or {})
    assert (first.tier, first.reason) == (tier, reason)


async def test_a_failing_cheap_task_escalates_and_the_run_records_why(config: PodiumConfig) -> None:
    model = ScriptedModel(
        [
            plan_reply([task("a", "writer", tier="cheap")]),
            fail(ModelError("cheap model garbled it"), task="a", tier="cheap"),
            fail(ModelError("cheap model garbled it again"), task="a", tier="cheap"),
            reply("a good answer", task="a", tier="frontier"),
        ]
    )
    events: list[RunEvent] = []
    result = await make(config, model).arun("goal", on_event=events.append)

    assert result.status == "completed"
    routes = result.tasks["a"].routes
    assert [(r.tier, r.outcome) for r in routes] == [
        ("cheap", "failed"),
        ("cheap", "failed"),
        ("frontier", "completed"),
    ]
    assert routes[0].reason == "planner hint"
    assert routes[2].reason == "escalated after 2 failed tries on cheap"
    assert "cheap model garbled it" in (routes[0].error or "")
    assert [(tid, r.tier) for tid, r in result.routing] == [
        ("a", "cheap"),
        ("a", "cheap"),
        ("a", "frontier"),
    ]
    started = [(e.tier, e.reason) for e in events if isinstance(e, TaskStarted)]
    assert started[-1] == ("frontier", "escalated after 2 failed tries on cheap")
    model.assert_complete()


async def test_output_that_fails_validation_escalates_too(config: PodiumConfig) -> None:
    scorer = AgentSpec(
        name="scorer",
        description="scores",
        system_prompt="Score it.",
        max_steps=1,
        output_schema={
            "type": "object",
            "properties": {"score": {"type": "integer"}},
            "required": ["score"],
        },
    )
    model = ScriptedModel(
        [
            plan_reply([task("s", "scorer")]),
            reply("about 80", task="s", tier="cheap"),
            reply('{"score": "high"}', task="s", tier="cheap"),
            reply('{"score": 80}', task="s", tier="frontier"),
        ]
    )
    result = await make(config, model, agents=[scorer]).arun("score the lead")
    assert result.tasks["s"].data == {"score": 80}
    assert [r.tier for r in result.tasks["s"].routes] == ["cheap", "cheap", "frontier"]


async def test_without_frontier_retries_a_frontier_failure_goes_to_the_replan(
    config: PodiumConfig,
) -> None:
    config = config.model_copy(update={"routing": RoutingConfig(frontier_retries=0)})
    model = ScriptedModel(
        [
            plan_reply([task("a", "writer", tier="frontier")]),
            fail(ModelError("frontier garbled it"), task="a", tier="frontier"),
            plan_reply([task("a2", "writer", tier="frontier")], purpose="replan"),
            reply("a good answer", task="a2", tier="frontier"),
        ]
    )
    result = await make(config, model).arun("goal")
    assert result.status == "completed", result.error
    assert [(r.tier, r.outcome) for r in result.tasks["a"].routes] == [("frontier", "failed")]
    assert result.plan_revisions == 1
    model.assert_complete()


async def test_past_failures_send_an_agents_later_tasks_to_frontier(config: PodiumConfig) -> None:
    config = config.model_copy(update={"routing": RoutingConfig(escalate_agent_after_failures=2)})
    model = ScriptedModel(
        [
            plan_reply([task("a", "writer"), task("b", "writer", ["a"])]),
            fail(ModelError("no"), task="a", tier="cheap"),
            fail(ModelError("no"), task="a", tier="cheap"),
            reply("A", task="a", tier="frontier"),
            reply("B", task="b", tier="frontier"),  # b never tries cheap
        ]
    )
    result = await make(config, model).arun("goal")
    assert result.tasks["b"].routes[0].tier == "frontier"
    assert "already failed 2 time(s) on cheap" in result.tasks["b"].routes[0].reason
    model.assert_complete()


async def test_usage_and_cost_are_summed_per_task_agent_and_run(config: PodiumConfig) -> None:
    model = ScriptedModel(
        [
            plan_reply([task("a", "writer"), task("b", "analyst", ["a"])]),
            reply("A", task="a"),
            reply("B", task="b"),
        ],
        usd_per_token=0.001,
    )
    result = await make(config, model).arun("goal")
    by_agent = result.usage_by_agent()
    assert by_agent["writer"].cost_usd == pytest.approx(
        result.tasks["a"].usage.total_tokens * 0.001
    )
    assert set(by_agent) == {"writer", "analyst"}
    planner_tokens = result.usage.total_tokens - sum(u.total_tokens for u in by_agent.values())
    assert planner_tokens > 0
    assert result.usage.cost_usd == pytest.approx(result.usage.total_tokens * 0.001)
