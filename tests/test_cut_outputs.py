"""An output the model stopped writing at its output limit (max_tokens) is marked as cut,
wherever it is read: a task's output, the answer, a cassette's replay. Before, a cut answer
ended mid-word ("... for mid-market finance teams. Her role is a part of a") and read as whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import litellm
import pytest

from podium.agents import CUT_MARK, mark_cut
from podium.runtime import ModelRequest, ModelResponse, Podium, PodiumConfig
from podium.runtime.models import _local_model
from podium.runtime.models._model import _from_openai_response
from podium.runtime.testing import ScriptedModel, plan_reply, reply


class CutsTheseTasks:
    """A backend whose replies for some tasks (or the synthesis) stop at the output limit."""

    def __init__(self, model: ScriptedModel, cut: set[str]) -> None:
        self.model, self.cut = model, cut

    async def complete(self, request: ModelRequest) -> ModelResponse:
        response = await self.model.complete(request)
        if request.task_id in self.cut or request.purpose in self.cut:
            return response.model_copy(update={"cut": True})
        return response


@pytest.fixture
def config(tmp_path: Path) -> PodiumConfig:
    return PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(tmp_path / "data")},
            "memory": {"enabled": False},
            "planner": {"playbooks": False},
        }
    )


def test_a_cut_task_output_and_the_answer_it_becomes_are_marked(config: PodiumConfig) -> None:
    model = ScriptedModel(
        [
            plan_reply([{"id": "a", "agent": "writer", "instruction": "draft it", "inputs": []}]),
            reply("Dear Maya, our platform helps finance teams close their", task="a"),
        ]
    )
    result = Podium(config, model=CutsTheseTasks(model, {"a"})).run("Draft an email to Maya")
    assert result.status == "completed"
    expected = f"Dear Maya, our platform helps finance teams close their {CUT_MARK}"
    assert result.tasks["a"].output == expected
    assert result.answer is not None and result.answer.endswith(CUT_MARK)


def test_a_whole_output_is_not_marked(config: PodiumConfig) -> None:
    model = ScriptedModel(
        [
            plan_reply([{"id": "a", "agent": "writer", "instruction": "draft it", "inputs": []}]),
            reply("Dear Maya, thank you.", task="a"),
        ]
    )
    result = Podium(config, model=CutsTheseTasks(model, set())).run("Draft an email to Maya")
    assert result.tasks["a"].output == "Dear Maya, thank you."
    assert CUT_MARK not in (result.answer or "")


def test_a_cut_synthesis_is_marked(config: PodiumConfig) -> None:
    model = ScriptedModel(
        [
            plan_reply(
                [
                    {"id": "a", "agent": "researcher", "instruction": "find A", "inputs": []},
                    {"id": "b", "agent": "researcher", "instruction": "find B", "inputs": []},
                ]
            ),
            reply("Facts about A.", task="a"),
            reply("Facts about B.", task="b"),
            reply("A and B share their", purpose="synthesis"),
        ]
    )
    backend = CutsTheseTasks(model, {"synthesis"})
    result = Podium(config, model=backend).run("Research A and B and say what they share")
    assert result.status == "completed"
    assert result.answer == f"A and B share their {CUT_MARK}"
    assert result.tasks["a"].output == "Facts about A."


def test_the_mark_is_added_once() -> None:
    assert mark_cut(mark_cut("half a ")) == f"half a {CUT_MARK}"


def test_a_provider_reply_stopped_by_length_is_cut() -> None:
    def raw(finish: str) -> Any:
        return litellm.ModelResponse(
            model="m",
            choices=[
                {
                    "index": 0,
                    "finish_reason": finish,
                    "message": {"role": "assistant", "content": "x"},
                }
            ],
        )

    assert _from_openai_response(raw("length"), "cheap").cut
    assert not _from_openai_response(raw("stop"), "cheap").cut


def test_the_embedded_model_reports_its_output_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    class Engine:
        def chat(self, messages: Any, schema: Any, max_tokens: int) -> dict[str, Any]:
            message = {"role": "assistant", "content": "cut he"}
            return {"choices": [{"message": message, "finish_reason": "length"}], "usage": {}}

    monkeypatch.setattr(_local_model._Engine, "shared", classmethod(lambda cls: Engine()))
    out = _local_model._complete("podium-local/x", [], {}, litellm.ModelResponse)
    assert out.choices[0].finish_reason == "length"
    assert _from_openai_response(out, "cheap").cut


async def test_the_openai_endpoint_says_a_cut_answer_stopped_at_length(
    config: PodiumConfig,
) -> None:
    import httpx

    from podium.runtime import create_app

    def scripted() -> ScriptedModel:
        return ScriptedModel(
            [
                plan_reply([{"id": "a", "agent": "writer", "instruction": "w", "inputs": []}]),
                reply("Dear Maya, our platform helps", task="a"),
            ]
        )

    backend = CutsTheseTasks(scripted(), {"a"})
    app = create_app(Podium(config, model=backend), tokens={})
    body = {"model": "podium", "messages": [{"role": "user", "content": "Draft an email"}]}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://podium") as client:
            done = (await client.post("/v1/chat/completions", json=body)).json()
            backend.model = scripted()
            streamed = await client.post("/v1/chat/completions", json={**body, "stream": True})
    [choice] = done["choices"]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["content"].endswith(CUT_MARK)
    assert (
        '"finish_reason": "length"' in streamed.text or '"finish_reason":"length"' in streamed.text
    )
