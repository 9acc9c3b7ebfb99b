"""How the embedded model's constrained replies become chat messages (no inference needed)."""

from __future__ import annotations

import json

import pytest

from podium.runtime.models._local_model import _as_tool_message


def test_a_tool_call_becomes_a_tool_call() -> None:
    message = _as_tool_message('{"tool": "lookup", "arguments": {"dataset": "crm_leads"}}')
    (call,) = message["tool_calls"]
    assert call["function"]["name"] == "lookup"
    assert json.loads(call["function"]["arguments"]) == {"dataset": "crm_leads"}
    assert message["content"] is None


@pytest.mark.parametrize(
    "cut",
    [
        '{"tool": "read_file", "arguments": {"path": "1983-02-47T:56.1\\n',
        '{"tool": "lookup", "argu',
        "]\n<tool result>\n  <data:output_format=",
    ],
)
def test_a_reply_cut_off_mid_tool_call_is_never_an_answer(cut: str) -> None:
    message = _as_tool_message(cut)
    assert message == {"role": "assistant", "content": ""}  # the agent loop asks again


def test_an_answer_cut_off_keeps_the_text_that_arrived() -> None:
    message = _as_tool_message('{"answer": "Maya Chen is VP of Finance at Brightforge and')
    assert message["content"] == "Maya Chen is VP of Finance at Brightforge and"


def test_a_grounded_tool_gives_the_grammar_one_branch_per_dataset() -> None:
    from pathlib import Path

    from podium.runtime.models._local_model import grammar_for, tool_choice_schema
    from podium.tools import ToolContext, ToolRegistry, for_provider

    registry = ToolRegistry.with_builtins()
    ctx = ToolContext(workspace=Path("."))
    tools = [
        for_provider(registry.get(name).openai_schema(ctx), variants=True)
        for name in ("query_dataset", "calculator")
    ]
    schema = tool_choice_schema(tools)
    branches = [b["properties"]["arguments"] for b in schema["anyOf"][:-1]]
    datasets = [
        b["properties"]["dataset"].get("enum") for b in branches if "dataset" in b["properties"]
    ]
    assert len(datasets) == 6 and all(len(d) == 1 for d in datasets)
    assert all("x-podium-variants" not in b for b in branches)
    grammar_for(schema)  # llama.cpp accepts it


def test_only_an_all_embedded_setup_sends_variants() -> None:
    from podium.runtime._config import ModelsConfig
    from podium.runtime.models._model import LiteLLMBackend

    local = "podium-local/smollm2-135m"
    assert LiteLLMBackend(ModelsConfig(cheap=local, frontier=local))._variants
    mixed = LiteLLMBackend(ModelsConfig(cheap=local, frontier="openai/gpt-4o-mini"))
    assert not mixed._variants


async def test_a_llama_cpp_server_gets_its_dialect() -> None:
    from podium.runtime._config import ModelsConfig
    from podium.runtime.models._model import LiteLLMBackend, ModelRequest

    sent: list[dict[str, object]] = []

    class Router:
        async def acompletion(self, **kwargs: object) -> object:
            sent.append(kwargs)
            raise RuntimeError("not sent")

    server = {"model": "openai/smollm2", "api_base": "http://127.0.0.1:1/v1"}
    models = ModelsConfig.model_validate(
        {
            "deployments": [
                {"tier": "cheap", **server, "server": "llama-cpp"},
                {"tier": "frontier", **server},
            ]
        }
    )
    backend = LiteLLMBackend(models)
    backend.router = Router()  # type: ignore[assignment]
    tool = {"type": "function", "function": {"name": "t", "parameters": {"type": "object"}}}
    turn = {"role": "assistant", "content": None, "tool_calls": []}
    schema = {"type": "object"}
    for tier in ("cheap", "frontier"):
        request = ModelRequest(
            tier=tier,  # type: ignore[arg-type]
            messages=({"role": "user", "content": "hi"}, turn),
            tools=(tool,),
            tool_choice="required",
            response_schema=schema,
        )
        with pytest.raises(Exception, match="not sent"):
            await backend.complete(request)
    llama, openai = sent[:2]
    # It fails on "required": the one tool is named instead (the server's grammar forces it).
    assert llama["tool_choice"] == {"type": "function", "function": {"name": "t"}}
    assert llama["response_format"] == {"type": "json_object", "schema": schema}
    assert llama["messages"][1]["content"] == ""  # type: ignore[index]
    assert openai["tool_choice"] == "required"
    assert openai["response_format"]["type"] == "json_schema"  # type: ignore[index]
    other = {"type": "function", "function": {"name": "u", "parameters": {"type": "object"}}}
    for tools, choice in (((tool, other), "required"), ((tool,), "auto")):
        with pytest.raises(Exception, match="not sent"):
            await backend.complete(
                ModelRequest(
                    messages=({"role": "user", "content": "hi"},),
                    tools=tools,
                    tool_choice=choice,  # type: ignore[arg-type]
                )
            )
        # Several tools, or a free choice: "auto", the only other choice it calls tools on.
        assert sent[-1]["tool_choice"] == "auto"
    assert openai["messages"][1]["content"] is None  # type: ignore[index]


def test_a_tier_mixing_dialects_is_a_config_error() -> None:
    from podium.runtime import ConfigError, PodiumConfig

    deployments = [
        {"tier": "cheap", "model": "openai/smollm2", "server": "llama-cpp"},
        {"tier": "cheap", "model": "openai/gpt-4o-mini"},
    ]
    with pytest.raises(ConfigError, match="mixes server dialects"):
        PodiumConfig.from_mapping({"models": {"deployments": deployments}})
