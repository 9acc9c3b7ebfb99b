"""Agent cards, the registry, and the agent loop with tools, permissions and output schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podium.agents import (
    AgentLoopError,
    AgentRegistry,
    AgentRegistryError,
    AgentSpec,
    Message,
    run_agent,
)
from podium.runtime import AgentError, ConfigError, Podium, PodiumConfig
from podium.runtime.testing import ScriptedModel, plan_reply, reply, tool_call
from podium.tools import ToolContext, ToolRegistry

WORKFLOW_AGENTS = {
    "enricher",
    "researcher",
    "analyst",
    "writer",
    "sourcer",
    "screener",
    "scheduler",
    "classifier",
    "router",
    "reviewer",
    "synthesizer",
}


def test_builtin_cards_cover_the_workflows() -> None:
    registry = AgentRegistry.builtin()
    assert set(registry.names()) >= WORKFLOW_AGENTS
    tools = ToolRegistry.with_builtins()
    for spec in registry.specs():
        for name in spec.tools:
            tool = tools.get(name)
            assert set(tool.scopes) <= set(spec.scopes), f"{spec.name} lacks scopes for {name}"


def test_user_cards_from_yaml_override_and_extend(tmp_path: Path) -> None:
    (tmp_path / "cards.yaml").write_text(
        "agents:\n"
        "  - {name: writer, description: terse writer, system_prompt: Be terse.}\n"
        "  - {name: translator, description: translates, system_prompt: Translate., tier: frontier}\n"
    )
    registry = AgentRegistry.builtin()
    registry.load(tmp_path)
    assert registry.get("writer").description == "terse writer"
    assert registry.get("translator").tier == "frontier"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: Bad Name\ndescription: x\nsystem_prompt: y\n",
            r"agent card 'Bad Name' is invalid: name: String should match pattern",
        ),
        ("name: x\ndescription: d\n", r"agent card 'x' is invalid: system_prompt: Field required"),
        ("name: [unclosed\n", r"not valid YAML"),
        (
            "name: x\ndescription: d\nsystem_prompt: p\nmax_steps: 0\n",
            r"max_steps: Input should be greater than or equal to 1",
        ),
    ],
)
def test_malformed_cards_say_what_to_fix(tmp_path: Path, text: str, message: str) -> None:
    card = tmp_path / "bad.yaml"
    card.write_text(text)
    with pytest.raises(AgentRegistryError, match=message):
        AgentRegistry().load(card)


def test_unknown_agent_lists_the_known_ones() -> None:
    with pytest.raises(
        AgentRegistryError, match=r"unknown agent 'ghost': registered agents are \['a'\]"
    ):
        AgentRegistry([AgentSpec(name="a", description="d", system_prompt="p")]).get("ghost")


def test_python_agents_join_the_registry_and_the_planner_sees_them(config: PodiumConfig) -> None:
    poet = AgentSpec(name="poet", description="writes short poems", system_prompt="Write a poem.")
    model = ScriptedModel(
        [
            plan_reply([{"id": "p", "agent": "poet", "instruction": "a haiku", "inputs": []}]),
            reply("five seven five", task="p"),
        ]
    )
    result = Podium(config, model=model, agents=[poet]).run("a poem")
    assert result.answer == "five seven five"
    assert "- poet: writes short poems" in model.calls[0].messages[0]["content"]


def test_config_paths_load_cards_and_bad_ones_are_config_errors(
    config: PodiumConfig, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    broken = config.model_copy(update={"agents": config.agents.model_copy(update={"paths": [bad]})})
    with pytest.raises(ConfigError, match=r"bad\.yaml: agent card 'x' is invalid"):
        Podium(broken, model=ScriptedModel([]))
    with pytest.raises(AgentError, match=r"unknown tool"):
        Podium(
            config,
            model=ScriptedModel([]),
            agents=[AgentSpec(name="z", description="d", system_prompt="p", tools=("teleport",))],
        )


class ScriptChat:
    """Adapts a ScriptedModel to the agent loop's chat protocol."""

    def __init__(self, model: ScriptedModel) -> None:
        self.model = model
        self.seen: list[list[Message]] = []

    async def __call__(self, messages, tools, response_schema, tool_choice="auto"):  # type: ignore[no-untyped-def]
        from podium.runtime import ModelRequest

        self.seen.append(list(messages))
        response = await self.model.complete(
            ModelRequest(
                messages=tuple(messages), tools=tuple(tools), response_schema=response_schema
            )
        )
        return response.message.to_message()


async def test_the_loop_calls_tools_and_feeds_results_back(tmp_path: Path) -> None:
    spec = AgentRegistry.builtin().get("analyst")
    model = ScriptedModel(
        [tool_call("calculator", {"expression": "40 * 2 + 5"}), reply("score is 85")]
    )
    chat = ScriptChat(model)
    out = await run_agent(
        spec,
        instruction="score it",
        inputs={"t1": "facts"},
        chat=chat,
        tools=ToolRegistry.with_builtins().for_agent(spec.tools),
        tool_context=ToolContext(workspace=tmp_path),
    )
    assert out.text == "score is 85"
    assert out.steps == 2
    assert out.tool_uses[0].ok and json.loads(out.tool_uses[0].result)["result"] == 85
    assert chat.seen[1][-1]["role"] == "tool"


async def test_a_tool_outside_the_agents_scopes_is_refused(tmp_path: Path) -> None:
    registry = ToolRegistry.with_builtins()
    spec = AgentSpec(
        name="sneaky", description="d", system_prompt="p", tools=("read_file",), scopes=()
    )
    (tmp_path / "secret.txt").write_text("top secret")
    model = ScriptedModel(
        [tool_call("read_file", {"path": "secret.txt"}), reply("could not read it")]
    )
    out = await run_agent(
        spec,
        instruction="read",
        inputs={},
        chat=ScriptChat(model),
        tools=registry.for_agent(spec.tools),
        tool_context=ToolContext(workspace=tmp_path),
    )
    assert not out.tool_uses[0].ok
    assert (
        "permission denied" in out.tool_uses[0].result
        and "read:workspace" in out.tool_uses[0].result
    )
    assert "top secret" not in out.tool_uses[0].result


async def test_an_output_schema_is_enforced_with_a_retry(tmp_path: Path) -> None:
    spec = AgentSpec(
        name="scorer",
        description="d",
        system_prompt="p",
        output_schema={
            "type": "object",
            "properties": {"score": {"type": "integer"}},
            "required": ["score"],
        },
    )
    model = ScriptedModel([reply('{"score": "high"}'), reply('```json\n{"score": 90}\n```')])
    chat = ScriptChat(model)
    out = await run_agent(
        spec,
        instruction="score",
        inputs={},
        chat=chat,
        tools=[],
        tool_context=ToolContext(workspace=tmp_path),
    )
    assert out.data == {"score": 90}
    assert "at score: 'high' is not of type 'integer'" in chat.seen[1][-1]["content"]


async def test_max_steps_bounds_the_loop(tmp_path: Path) -> None:
    spec = AgentSpec(
        name="looper",
        description="d",
        system_prompt="p",
        tools=("calculator",),
        scopes=("compute",),
        max_steps=2,
    )
    model = ScriptedModel(
        [
            tool_call("calculator", {"expression": "1+1"}),
            tool_call("calculator", {"expression": "2+2"}),
        ]
    )
    with pytest.raises(AgentLoopError, match="no acceptable answer within max_steps=2"):
        await run_agent(
            spec,
            instruction="loop",
            inputs={},
            chat=ScriptChat(model),
            tools=ToolRegistry.with_builtins().for_agent(spec.tools),
            tool_context=ToolContext(workspace=tmp_path),
        )


def test_the_loops_own_prompt_labels_copied_into_an_answer_are_removed() -> None:
    from podium.agents._loop import _DATA_NOTE, _without_prompt_labels

    text, repairs = _without_prompt_labels(f"Maya Chen is VP of Finance.\n{_DATA_NOTE}")
    assert text == "Maya Chen is VP of Finance."
    assert repairs == ["removed a prompt label or closing fence the model repeated"]
    assert (
        _without_prompt_labels("Dear Maya,\nThanks.\n</input>\n</input>")[0]
        == "Dear Maya,\nThanks."
    )
    assert _without_prompt_labels("Data from a tool.") == ("Data from a tool.", [])
    assert _without_prompt_labels(_DATA_NOTE)[0] == ""  # nothing left: refused as empty
