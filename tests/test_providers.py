"""litellm's Router behind the seam, driven through provider faults by a fault-injecting provider (offline)."""

from __future__ import annotations

import pytest
from conftest import task

from podium.runtime import (
    ModelError,
    ModelRequest,
    ModelsConfig,
    Podium,
    PodiumConfig,
    UnexpectedModelBehavior,
)
from podium.runtime.models._model import LiteLLMBackend
from podium.runtime.testing import Fault, FaultyProvider

HI = ModelRequest(messages=({"role": "user", "content": "hi"},))


@pytest.fixture
def faults() -> FaultyProvider:
    return FaultyProvider().register()


def backend(**models: object) -> LiteLLMBackend:
    settings = {
        "cheap": "podium-fault/c1",
        "frontier": "podium-fault/f1",
        "timeout_s": 0.3,
        "num_retries": 1,
        **models,
    }
    return LiteLLMBackend(ModelsConfig.model_validate(settings))


@pytest.mark.parametrize("fault", ["rate_limit", "server_error", "timeout"])
async def test_a_passing_fault_is_retried_on_the_same_tier(
    faults: FaultyProvider, fault: Fault
) -> None:
    faults.script("c1", [fault])
    response = await backend().complete(HI)
    assert response.message.content == "answer from c1"
    assert faults.calls == ["c1", "c1"]


@pytest.mark.parametrize("fault", ["rate_limit", "server_error", "timeout"])
async def test_a_tier_that_keeps_failing_falls_back_to_frontier(
    faults: FaultyProvider, fault: Fault
) -> None:
    faults.script("c1", [fault] * 5)
    response = await backend().complete(HI)
    assert response.message.content == "answer from f1"
    assert faults.calls == ["c1", "c1", "f1"]


async def test_when_everything_fails_the_error_names_provider_model_and_cause(
    faults: FaultyProvider,
) -> None:
    faults.script("c1", ["server_error"] * 5).script("f1", ["server_error"] * 5)
    with pytest.raises(ModelError) as info:
        await backend().complete(HI)
    message = str(info.value)
    assert (
        "provider 'podium-fault'" in message
        and "InternalServerError" in message
        and "upstream 500" in message
    )


async def test_a_malformed_response_is_an_unexpected_model_behavior(faults: FaultyProvider) -> None:
    faults.script("c1", ["malformed"])
    with pytest.raises(UnexpectedModelBehavior, match="neither content nor tool calls"):
        await backend().complete(HI)


async def test_several_deployments_share_a_tier_and_a_failing_one_cools_down(
    faults: FaultyProvider,
) -> None:
    models = backend(
        deployments=[
            {"tier": "cheap", "model": "podium-fault/c1"},
            {"tier": "cheap", "model": "podium-fault/c2"},
            {"tier": "frontier", "model": "podium-fault/f1"},
        ],
        allowed_fails=0,
        cooldown_s=60,
    )
    faults.script("c1", ["server_error"] * 50)
    answers = {(await models.complete(HI)).message.content for _ in range(6)}
    assert answers <= {"answer from c2", "answer from f1"}
    # Once c1 is cooling down, the Router stops sending it traffic.
    assert faults.calls.count("c1") <= 2


def test_keys_come_from_the_environment_never_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAM_OPENAI_KEY", "sk-from-env")
    models = backend(
        deployments=[
            {"tier": "cheap", "model": "openai/gpt-4o-mini", "api_key_env": "TEAM_OPENAI_KEY"}
        ]
    )
    entry = next(d for d in models.router.model_list if d["model_name"] == "cheap")
    assert entry["litellm_params"]["api_key"] == "sk-from-env"
    assert (
        "sk-from-env"
        not in ModelsConfig.model_validate(
            {"deployments": [{"tier": "cheap", "model": "x", "api_key_env": "TEAM_OPENAI_KEY"}]}
        ).model_dump_json()
    )


async def test_custom_prices_give_a_cost_per_call(faults: FaultyProvider) -> None:
    models = backend(
        deployments=[
            {
                "tier": "cheap",
                "model": "podium-fault/c1",
                "input_cost_per_token": 0.001,
                "output_cost_per_token": 0.002,
            }
        ]
    )
    response = await models.complete(HI)
    assert response.usage.cost_usd == pytest.approx(10 * 0.001 + 5 * 0.002)


async def test_a_run_through_the_router_records_the_model_that_answered(
    faults: FaultyProvider, config: PodiumConfig
) -> None:
    import json

    models = ModelsConfig(
        cheap="podium-fault/c1", frontier="podium-fault/f1", timeout_s=0.3, num_retries=0
    )
    config = config.model_copy(update={"models": models})
    faults.reply(
        "f1", json.dumps({"tasks": [task("a", "writer", tier="cheap")]})
    )  # f1 plans; its plan text also serves as a fallback answer
    faults.script("c1", ["server_error"])
    result = await Podium(config).arun("write something")
    assert result.status == "completed"
    route = result.tasks["a"].routes[0]
    assert (route.tier, route.model, route.outcome) == (
        "cheap",
        "podium-fault/f1",
        "completed",
    )  # the Router fell back within the try
    assert faults.calls == ["f1", "c1", "f1"]
