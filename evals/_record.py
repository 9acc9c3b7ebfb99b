"""Recording: run a goal live and keep it as a scenario, with its cassette and starter expectations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from podium.runtime import PodiumConfig, RunResult

from ._cassette import Cassette
from ._scenario import (
    BudgetExpect,
    Expectations,
    GraphExpect,
    Scenario,
    TextCheck,
    Workflow,
    dump_scenario,
)


def scenario_from_run(
    result: RunResult,
    cassette: Cassette,
    out: Path,
    *,
    name: str | None = None,
    workflow: Workflow = "other",
    config: dict[str, Any] | None = None,
    models: dict[str, str] | None = None,
) -> Scenario:
    """Write `out` (the scenario) and its cassette beside it; return the scenario.

    The starter expectations pin what this run did: its status, the agents it used, no more
    tasks than it made, a non-empty answer and at most 1.5x its cost. Edit them to say what
    matters (the answer's content, fields of a task's output, a judge's rubric).
    """
    cassette_file = out.with_suffix(".cassette.json")
    cassette.save(cassette_file)
    plan = result.plan
    agents = sorted({t.agent for t in plan.tasks}) if plan else []
    scenario = Scenario(
        podium_scenario=1,
        name=name or _slug(out.stem),
        goal=result.goal,
        description=f"Recorded from run {result.run_id}.",
        workflow=workflow,
        config=config or {},
        cassette=cassette_file.name,
        expect=Expectations(
            status=result.status,
            answer=[TextCheck(min_chars=1)] if result.answer else [],
            graph=GraphExpect(agents_used=agents, max_tasks=len(plan.tasks) if plan else None),
            budget=BudgetExpect(max_cost_usd=round(result.usage.cost_usd * 1.5, 6))
            if result.usage.cost_usd
            else None,
        ),
        metadata={
            "cassette_source": cassette.source,
            "recorded_from_run": result.run_id,
            "models": models or {},
        },
        path=out,
    )
    dump_scenario(scenario, out)
    return scenario


def portable_config(config: PodiumConfig) -> dict[str, Any]:
    """The recording's configuration minus machine-local paths, to store in a scenario.

    Replays must see the configuration the recording saw: model names shape prompts (the
    embedded model gets a positional plan schema), and routing, budgets and planner settings
    shape the calls. Storage, memory, the workspace and the outbox are per trial; agent card
    paths are dropped (put the cards in the scenario's `agents` list instead).
    """
    data = config.model_dump(mode="json", exclude={"storage": True, "agents": True})
    tools = data.get("tools", {})
    for key in ("workspace", "datasets", "outbox"):
        tools.pop(key, None)
    data.get("memory", {}).pop("path", None)  # each trial has its own memory
    # A team's playbook folder is a local path: a replay elsewhere matches the built-ins only.
    data.get("planner", {}).pop("playbooks_dir", None)
    return data


def _slug(text: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
    return slug or "recorded"
