"""The embedded model (SmolLM2-135M via llama-cpp-python): real inference, so marked `integration`."""

from __future__ import annotations

import pytest
from embedded_support import EMBEDDED_MODEL

from podium.agents import AgentRegistry
from podium.runtime import ModelRequest, ModelsConfig, Podium, PodiumConfig
from podium.runtime.models._model import LiteLLMBackend

pytestmark = EMBEDDED_MODEL

GOALS = [
    "Qualify the lead Dana Reyes at Northwind Analytics and draft a first outreach email",
    "Find candidates for the senior backend engineer opening and schedule interviews",
    "Triage today's support tickets and escalate anything urgent",
]


@pytest.fixture(scope="module")
def backend() -> LiteLLMBackend:
    local = "podium-local/smollm2-135m"
    return LiteLLMBackend(ModelsConfig(cheap=local, frontier=local))


@pytest.mark.parametrize("goal", GOALS)
def test_the_embedded_model_plans_validly_under_constraint(config: PodiumConfig, goal: str) -> None:
    # As a user's goal is planned: constrained decoding, then the plan's rules, and a rejected
    # plan fed back (a 135M model sometimes repeats a task; the duplicate check turns it back).
    result = Podium(config).plan(goal)
    assert 2 <= len(result.plan.tasks) <= 6
    assert result.attempts <= 3 and result.usage.output_tokens > 0


def test_a_goal_runs_end_to_end_on_the_embedded_model(config: PodiumConfig) -> None:
    result = Podium(config).run(GOALS[0])
    assert result.status == "completed", result.error
    assert result.answer and result.answer.strip()
    assert all(r.status == "completed" for r in result.tasks.values())
    assert all((r.model or "").startswith("podium-local/") for r in result.tasks.values())


@pytest.mark.parametrize(
    "agent", [s.name for s in AgentRegistry.builtin().specs() if s.tools], ids=str
)
async def test_every_agents_tools_compile_to_a_grammar_the_model_accepts(
    backend: LiteLLMBackend, agent: str, capfd: pytest.CaptureFixture[str]
) -> None:
    # llama.cpp builds the grammar lazily and only complains on stderr when the schema is too
    # big (a long maxLength did it once): decode one tool-constrained turn and read stderr.
    from podium.tools import ToolContext, ToolRegistry, default_datasets_dir

    spec = AgentRegistry.builtin().get(agent)
    ctx = ToolContext(workspace=default_datasets_dir())  # grounded: datasets, records, files
    tools = tuple(t.openai_schema(ctx) for t in ToolRegistry.with_builtins().for_agent(spec.tools))
    request = ModelRequest(
        tier="cheap",
        messages=({"role": "user", "content": "Use one of your tools for the lead Maya Chen."},),
        tools=tools,
        tool_choice="required" if spec.tool_first else "auto",
        purpose="task",
    )
    response = await backend.complete(request)
    assert response.message.content is not None or response.message.tool_calls
    assert "error parsing grammar" not in capfd.readouterr().err


def test_the_grammar_keeps_raw_control_characters_out_of_json_strings() -> None:
    # llama-cpp-python's converter allows them; on this prompt SmolLM2 wrote a raw newline
    # inside a string on every release from 0.3.16 to 0.3.36 before the rule was narrowed.
    import json

    from podium.runtime.models._local_model import _Engine

    schema = {
        "type": "object",
        "properties": {
            "tasks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"agent": {"type": "string"}, "instruction": {"type": "string"}},
                    "required": ["agent", "instruction"],
                },
            }
        },
        "required": ["tasks"],
    }
    prompt = (
        "Create a plan: look up the CRM record for Bob Smith, check his last order, "
        "and write a follow-up note."
    )
    out = _Engine.shared().chat([{"role": "user", "content": prompt}], schema, 300)
    text = out["choices"][0]["message"]["content"]
    assert isinstance(json.loads(text)["tasks"], list)  # strict: no control character in a string


def test_make_runs_default_goal_takes_the_sales_playbook_on_the_embedded_model(
    config: PodiumConfig,
) -> None:
    config = config.model_copy(
        update={"planner": config.planner.model_copy(update={"playbooks": True})}
    )
    goal = (
        "Qualify the lead Maya Chen at Brightforge Analytics and draft a short personalised "
        "first outreach email"
    )
    result = Podium(config).run(goal)
    assert result.status == "completed", result.error
    assert result.playbook is not None and result.playbook.mode == "filled"
    # The first plan is the playbook's; a guard may refuse a 135M writer's output (an echoed
    # `</input>` fence) and the re-plan replace that task, so the final plan can differ.
    assert {"enrich", "score", "outreach"} <= set(result.tasks)
    assert result.answer and result.answer.strip()
    # Grounded: the enricher looked the lead up (a real dataset, chosen by the grammar), and
    # the answer, assembled on the embedded model, carries the record it found.
    calls = result.tasks["enrich"].tool_calls
    assert calls and all(c.name in ("query_dataset", "list_datasets") for c in calls)
    assert "VP of Finance" in result.answer and "L-1001" in result.answer
