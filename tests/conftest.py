"""Shared fixtures. The suite refuses network sockets (pytest-socket, see pyproject addopts)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

# Imported before pytest-socket swaps socket.socket: uvloop keeps the class it finds at import,
# and a test allowed to reach 127.0.0.1 would still be refused.
import uvloop  # noqa: F401

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
            # Playbooks have their own tests (test_playbooks.py); here a goal that reads as a
            # playbook's template would take its plan and never ask the scripted planner.
            "planner": {"playbooks": False},
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


POSTGRES_SCRIPT = Path(__file__).parents[1] / "scripts" / "postgres.sh"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """URL of a Postgres server on which the tests may create databases.

    $PODIUM_TEST_POSTGRES_URL names one; otherwise scripts/postgres.sh starts the project's own
    (unix socket only, under build/pg), installing Debian's postgresql first if it is missing.
    PODIUM_SKIP_POSTGRES=1 skips the Postgres cases on a developer's machine, never in CI.
    """
    if url := os.environ.get("PODIUM_TEST_POSTGRES_URL"):
        return url
    if os.environ.get("PODIUM_SKIP_POSTGRES") == "1":
        if os.environ.get("CI"):
            pytest.fail("PODIUM_SKIP_POSTGRES=1 is set, but CI runs the Postgres tests")
        pytest.skip("PODIUM_SKIP_POSTGRES=1: Postgres storage is not tested")
    try:
        done = subprocess.run(
            ["bash", str(POSTGRES_SCRIPT)], capture_output=True, text=True, timeout=900
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{POSTGRES_SCRIPT} took over {exc.timeout:g}s to start PostgreSQL")
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        pytest.fail(
            f"{POSTGRES_SCRIPT} could not start PostgreSQL (exit {done.returncode}):\n"
            f"{done.stderr[-4000:]}\nPoint PODIUM_TEST_POSTGRES_URL at a server to use it "
            "instead, or set PODIUM_SKIP_POSTGRES=1 to skip the Postgres tests on this machine.",
            pytrace=False,
        )
    return lines[-1]


@pytest.fixture(scope="module")
def postgres_url(postgres_server: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database on the test server for one test module, dropped after it."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    module = re.sub(r"\W", "_", request.module.__name__.rpartition(".")[2])[:40]
    name = f"podium_{module}_{secrets.token_hex(3)}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_conninfo(postgres_server, dbname=name)
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
