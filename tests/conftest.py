"""Shared fixtures. The suite refuses network sockets (pytest-socket, see pyproject addopts)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from podium.runtime import Podium, PodiumConfig
from podium.runtime.testing import ScriptedModel, Step, plan_reply, reply


@pytest.fixture
def config(tmp_path: Path) -> PodiumConfig:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    return PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(tmp_path / "data")},
            "tools": {"workspace": str(workspace)},
            # Shared memory has its own tests (test_memory*.py, test_runtime_memory.py); here it
            # would only add an embedding model load and a Chroma store to every run.
            "memory": {"enabled": False},
        }
    )


def task(
    id: str, agent: str, inputs: Iterable[str] = (), instruction: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A plan task as the planner would write it."""
    return {
        "id": id,
        "agent": agent,
        "instruction": instruction or f"do {id}",
        "inputs": list(inputs),
        **extra,
    }


def scripted(
    plan: list[dict[str, Any]],
    outputs: Mapping[str, str],
    *,
    latency_s: float = 0.0,
    extra: Iterable[Step] = (),
) -> ScriptedModel:
    """A planner step for `plan` and one answer per task id."""
    steps = [plan_reply(plan)]
    steps += [reply(text, task=task_id) for task_id, text in outputs.items()]
    steps += list(extra)
    return ScriptedModel(steps, latency_s=latency_s)


def edges(podium_plan: Any) -> set[tuple[str, str]]:
    return {(i, t.id) for t in podium_plan.tasks for i in t.inputs}


def make(config: PodiumConfig, model: ScriptedModel, **kwargs: Any) -> Podium:
    return Podium(config, model=model, **kwargs)
