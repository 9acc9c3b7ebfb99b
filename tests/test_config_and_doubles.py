"""Configuration loading, goal limits, the model doubles, and the suite's refusal of the network."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from podium.runtime import (
    ConfigError,
    GoalError,
    ModelError,
    ModelRequest,
    ModelsConfig,
    Podium,
    PodiumConfig,
)
from podium.runtime._config_file import load_storage
from podium.runtime.models._model import LiteLLMBackend
from podium.runtime.testing import FunctionModel, ScriptedModel, UnexpectedModelCall, reply


def test_toml_config_loads_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "podium.toml").write_text(
        '[run]\nconcurrency = 3\n[storage]\ndata_dir = "state"\n[models]\ncheap = "openai/gpt-4o-mini"\n'
    )
    config = PodiumConfig.from_toml(tmp_path / "podium.toml")
    assert config.run.concurrency == 3
    assert config.storage.data_dir == tmp_path / "state"
    assert config.models.cheap == "openai/gpt-4o-mini"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[run]\nconcurrency = 0\n",
            r"run.concurrency: Input should be greater than or equal to 1",
        ),
        (
            "[run]\nconcurency = 2\n",
            r"run.concurency: unknown key \(did you mean 'concurrency'\?\); run takes concurrency",
        ),
        ("[run\n", r"is not valid TOML"),
    ],
)
def test_a_broken_config_names_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "podium.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        PodiumConfig.from_toml(path)


def test_the_storage_table_alone_reads_as_the_whole_config_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`podium runs`, `show` and `audit` read `[storage]` alone (`load_storage`): the same
    folder, the same environment overrides and the same errors as `PodiumConfig.load`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PODIUM_CONFIG", raising=False)
    monkeypatch.delenv("PODIUM_DATA_DIR", raising=False)
    assert load_storage() == PodiumConfig.load().storage  # no file: the defaults
    conf = tmp_path / "conf"
    conf.mkdir()
    path = conf / "podium.toml"
    path.write_text('[storage]\ndata_dir = "state"\n[run]\nconcurrency = 3\n')
    assert load_storage(path).data_dir == PodiumConfig.load(path).storage.data_dir
    assert load_storage(path).runs_dir == conf / "state" / "runs"
    monkeypatch.setenv("PODIUM_CONFIG", str(path))
    assert load_storage() == PodiumConfig.load().storage
    monkeypatch.setenv("PODIUM_DATA_DIR", str(tmp_path / "elsewhere"))
    assert load_storage().data_dir == tmp_path / "elsewhere" == PodiumConfig.load().storage.data_dir
    path.write_text('[storage]\ndata_dri = "state"\n')
    with pytest.raises(ConfigError) as whole:
        PodiumConfig.load()
    with pytest.raises(ConfigError) as alone:
        load_storage()
    assert str(alone.value) == str(whole.value)
    assert "storage.data_dri: unknown key (did you mean 'data_dir'?)" in str(alone.value)


def test_with_no_provider_key_both_tiers_are_the_embedded_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    models = PodiumConfig.from_mapping({}).models
    assert (models.cheap, models.frontier) == (
        "podium-local/smollm2-135m",
        "podium-local/smollm2-135m",
    )
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    models = PodiumConfig.from_mapping({}).models
    assert models.cheap.startswith("anthropic/") and models.frontier.startswith("anthropic/")


def test_environment_overrides_models_and_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PODIUM_MODEL_FRONTIER", "anthropic/claude-sonnet-4-5")
    monkeypatch.setenv("PODIUM_DATA_DIR", str(tmp_path))
    config = PodiumConfig.from_mapping({})
    assert config.models.frontier == "anthropic/claude-sonnet-4-5"
    assert config.storage.data_dir == tmp_path


def test_an_oversized_or_empty_goal_is_refused_before_any_call(config: PodiumConfig) -> None:
    model = ScriptedModel([])
    podium = Podium(config, model=model)
    with pytest.raises(GoalError, match="over the limit of 20000"):
        podium.run("x" * 20_001)
    with pytest.raises(GoalError, match="empty"):
        podium.run("   ")
    assert model.calls == []


async def test_scripted_model_names_an_unexpected_call() -> None:
    model = ScriptedModel([reply("only for t1", task="t1")])
    with pytest.raises(
        UnexpectedModelCall, match=r"purpose='task', task='t2'.*steps left: Step\(task='t1'\)"
    ):
        await model.complete(
            ModelRequest(messages=({"role": "user", "content": "hi"},), task_id="t2")
        )
    with pytest.raises(AssertionError, match="1 scripted step"):
        model.assert_complete()


async def test_function_model_answers_and_counts_usage() -> None:
    model = FunctionModel(lambda req: {"echo": req.messages[-1]["content"]})
    response = await model.complete(ModelRequest(messages=({"role": "user", "content": "ping"},)))
    assert response.message.content == '{"echo": "ping"}'
    assert response.usage.calls == 1 and response.usage.input_tokens > 0
    assert len(model.calls) == 1


def test_the_suite_refuses_network_sockets() -> None:
    with pytest.raises(Exception, match="socket"):
        socket.create_connection(("192.0.2.1", 443), timeout=1)


async def test_a_real_provider_call_is_refused_and_reported_as_a_model_error() -> None:
    models = ModelsConfig(
        cheap="openai/gpt-4o-mini", frontier="openai/gpt-4o", timeout_s=5, num_retries=0
    )
    backend = LiteLLMBackend(models)
    with pytest.raises(
        ModelError, match=r"cheap tier failed after retries and fallbacks: provider 'openai'"
    ):
        await backend.complete(ModelRequest(messages=({"role": "user", "content": "hi"},)))
