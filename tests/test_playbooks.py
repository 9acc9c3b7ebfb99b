"""Playbooks: built-in workflows load, goals match them, a team's own folder, bad files reported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import make, task

from podium.agents import AgentRegistry
from podium.runtime import PodiumConfig
from podium.runtime._errors import ConfigError
from podium.runtime.engine._playbooks import BUILTIN_DIR, Playbooks, load_playbooks
from podium.runtime.testing import ScriptedModel, plan_reply, reply

AGENTS = AgentRegistry.builtin().names()
DEFAULT_GOAL = (
    "Qualify the lead Maya Chen at Brightforge Analytics and draft a short personalised first "
    "outreach email"
)


def builtins() -> Playbooks:
    return load_playbooks(None, agents=AGENTS, max_tasks=100)


def match(
    goal: str,
    playbooks: Playbooks | None = None,
    embed: Any = None,
    known_values: Any = None,
    **kw: float,
) -> Any:
    return (playbooks or builtins()).match(
        goal,
        embed=embed,
        agents=AGENTS,
        max_tasks=100,
        fill_similarity=kw.get("fill", 0.9),
        adapt_similarity=kw.get("adapt", 0.75),
        known_values=known_values,
    )


def test_the_five_workflows_ship_as_playbooks_with_valid_plans() -> None:
    found = builtins()
    assert found.problems == []
    assert {p.workflow for p in found.playbooks} == {
        "sales",
        "recruiting",
        "research",
        "support",
        "compliance",
    }
    for p in found.playbooks:
        assert p.source == f"built-in {p.name}.yaml"
        assert len(p.plan(p.slots).tasks) >= 2


@pytest.mark.parametrize(
    ("goal", "name", "slots"),
    [
        (
            DEFAULT_GOAL,
            "sales-lead-qualification",
            {"lead": "Maya Chen", "company": "Brightforge Analytics"},
        ),
        (
            "qualify the lead  Erik Solberg at Nordlys Energy and draft a first outreach email!",
            "sales-lead-qualification",
            {"lead": "Erik Solberg", "company": "Nordlys Energy"},
        ),
        (
            "Find candidates for the Senior Backend Engineer opening and schedule interviews.",
            "recruiting-pipeline",
            {"role": "Senior Backend Engineer"},
        ),
        ("Triage today's support tickets and escalate anything urgent", "support-triage", {}),
        ("Run a compliance review of Cirrusly", "compliance-review", {"vendor": "Cirrusly"}),
    ],
)
def test_a_goal_that_reads_as_a_template_fills_its_slots(
    goal: str, name: str, slots: dict[str, str]
) -> None:
    found = match(goal)
    assert found is not None
    assert (found.use.name, found.use.mode, found.use.slots) == (name, "filled", slots)
    assert "reads as its template" in found.use.reason
    text = " ".join(t.instruction for t in found.plan.tasks)
    for value in slots.values():
        assert value in text
    assert "{" not in text


def test_a_goal_that_reads_as_no_template_does_not_match_without_embeddings() -> None:
    assert match("Write a haiku about the sea") is None
    # A slot swallowing half a sentence is not a name: no match.
    long = "Run a compliance review of " + " ".join(["everything"] * 12)
    assert match(long) is None


def _embed_close_to(example: str, similarity: float) -> Any:
    """Embeddings where the goal is `similarity` close to `example` and far from the rest."""

    examples = {e for p in builtins().playbooks for e in p.example_goals()}
    other = (1.0 - similarity**2) ** 0.5

    def embed(texts: list[str]) -> list[list[float]]:
        return [
            [similarity, other, 0.0]
            if t == example
            else [0.0, 0.0, 1.0]
            if t in examples
            else [1.0, 0.0, 0.0]  # the goal
            for t in texts
        ]

    return embed


def test_a_goal_close_in_meaning_with_other_names_runs_the_playbook_plan() -> None:
    example = builtins().get("sales-lead-qualification").example_goals()[0]
    goal = DEFAULT_GOAL.replace("Maya Chen", "Priya Nair").replace(
        "Brightforge Analytics", "Quillpath Health"
    )
    goal = "Please " + goal[0].lower() + goal[1:]  # reads as no template
    found = match(goal, embed=_embed_close_to(example, 0.95))
    assert found is not None and found.use.mode == "filled"
    assert found.use.similarity == 0.95
    text = " ".join(t.instruction for t in found.plan.tasks)
    assert "Priya Nair" in text and "Quillpath Health" in text and "Maya Chen" not in text


def test_a_goal_like_a_playbook_but_worded_otherwise_is_adapted_by_the_planner() -> None:
    example = builtins().get("support-triage").example_goals()[0]
    found = match(
        "Go through the queue of customer complaints and tell me which are on fire",
        embed=_embed_close_to(example, 0.8),
    )
    assert found is not None
    assert (found.use.name, found.use.mode) == ("support-triage", "adapted")
    assert match("Write a haiku about the sea", embed=_embed_close_to(example, 0.5)) is None


async def test_a_filled_playbook_runs_without_a_planner_call(config: PodiumConfig) -> None:
    config = config.model_copy(
        update={"planner": config.planner.model_copy(update={"playbooks": True})}
    )
    model = ScriptedModel(
        [
            reply("Maya Chen, VP of Finance, Qualified; Brightforge: 240 staff", task="enrich"),
            reply("Score 78 = 30 (VP) + 28 (240 staff) + 20 (Qualified)", task="score"),
            reply("Hi Maya, ...", task="outreach"),
        ]
    )
    podium = make(config, model)
    events: list[Any] = []
    result = await podium.arun(DEFAULT_GOAL, on_event=events.append)
    assert result.status == "completed", result.error
    assert all(call.purpose != "plan" for call in model.calls)
    assert result.playbook is not None
    assert (result.playbook.name, result.playbook.mode) == ("sales-lead-qualification", "filled")
    assert result.plan is not None and result.plan.ids == ["enrich", "score", "outreach"]
    created = next(e for e in events if e.kind == "plan_created")
    assert created.playbook.startswith("sales-lead-qualification (filled: ")
    assert result.answer == "Hi Maya, ..."
    model.assert_complete()


async def test_playbooks_off_plan_as_before(config: PodiumConfig) -> None:
    model = ScriptedModel([plan_reply([task("a", "writer")]), reply("done", task="a")])
    result = await make(config, model).arun(DEFAULT_GOAL)
    assert result.status == "completed" and result.playbook is None
    model.assert_complete()


BROKEN = {
    "unknown-agent.yaml": (
        "name: mine\ngoals: ['Do {thing}']\nslots: {thing: x}\ntasks:\n"
        "  - id: a\n    agent: writer\n    instruction: write {thing}\n"
        "  - id: b\n    agent: astrologer\n    instruction: read the stars\n",
        ":9: task 'b' names agent 'astrologer', which is not registered",
    ),
    "cycle.yaml": (
        "name: loop\ngoals: [Go]\ntasks:\n"
        "  - id: a\n    agent: writer\n    instruction: one\n    inputs: [b]\n"
        "  - id: b\n    agent: writer\n    instruction: two\n    inputs: [a]\n",
        ":4: tasks a -> b -> a form a cycle",
    ),
    "unfillable.yaml": (
        "name: unfillable\ngoals: ['Email {lead}']\nslots: {lead: Maya, company: Acme}\ntasks:\n"
        "  - id: a\n    agent: writer\n    instruction: Email {lead} at {company}\n",
        ":7: task 'a' uses slot(s) ['company'] that the goal template 1 ('Email {lead}') cannot fill",
    ),
    "not-yaml.yaml": ("name: [unclosed\n", ":2: not valid YAML"),
    "missing-field.yaml": ("name: nogoals\ntasks: []\n", ":1: goals: Field required"),
}


def test_a_broken_user_playbook_is_reported_with_file_and_line_and_the_rest_load(
    tmp_path: Path,
) -> None:
    for name, (text, _) in BROKEN.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "sales-lead-qualification.yaml").write_text(
        "name: sales-lead-qualification\nworkflow: sales\ngoals: ['Qualify {lead}']\n"
        "slots: {lead: Maya Chen}\ntasks:\n  - id: only\n    agent: writer\n"
        "    instruction: Write to {lead}\n",
        encoding="utf-8",
    )
    found = load_playbooks(tmp_path, agents=AGENTS, max_tasks=100)
    assert len(found.problems) == len(BROKEN)
    for name, (_, expected) in BROKEN.items():
        (problem,) = [p for p in found.problems if p.startswith(str(tmp_path / name))]
        assert expected in problem, problem
    assert len(found.playbooks) == len(list(BUILTIN_DIR.glob("*.yaml")))  # the built-ins still load
    mine = found.get("sales-lead-qualification")  # the team's replaces the built-in
    assert mine.source == str(tmp_path / "sales-lead-qualification.yaml")
    assert match("Qualify Dana Reyes", found).plan.ids == ["only"]


def test_a_missing_playbooks_dir_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a folder"):
        load_playbooks(tmp_path / "nope", agents=AGENTS, max_tasks=100)


def test_podium_playbooks_lists_them_and_names_skipped_files(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "cycle.yaml").write_text(BROKEN["cycle.yaml"][0], encoding="utf-8")
    (tmp_path / "podium.toml").write_text(
        '[planner]\nplaybooks_dir = "playbooks"\n[memory]\nenabled = false\n', encoding="utf-8"
    )
    out = subprocess.run(
        [sys.executable, "-m", "podium.runtime.cli", "playbooks"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": str(tmp_path)},
    )
    assert out.returncode == 1
    for name in ("sales-lead-qualification", "recruiting-pipeline", "support-triage"):
        assert name in out.stdout
    assert "skipped: playbooks/cycle.yaml:4: tasks a -> b -> a form a cycle" in out.stderr
    assert "Traceback" not in out.stderr


def test_on_the_embedded_planner_a_goal_naming_records_fills_the_playbook_from_the_data() -> None:
    from podium.memory import MiniLMEmbedder
    from podium.runtime.engine._playbooks import data_columns
    from podium.tools import ToolContext

    column = data_columns(ToolContext(workspace=Path(".")))
    embed = MiniLMEmbedder().embed
    goal = (
        "Qualify Hannah Brooks of Halcyon Retail Group as a sales lead and write her a short email"
    )
    assert match(goal, embed=embed) is None  # by meaning alone: too far from "Maya Chen ..."
    found = match(goal, embed=embed, known_values=column)
    assert found.use.mode == "filled" and found.use.name == "sales-lead-qualification"
    assert found.use.slots == {"lead": "Hannah Brooks", "company": "Halcyon Retail Group"}
    assert "found in the data" in found.use.reason
    assert "Hannah Brooks" in found.plan.tasks[0].instruction
    # Two leads named: which one is the slot's? Not filled from the data.
    two = "Qualify Hannah Brooks and Priya Nair of Halcyon Retail Group as sales leads"
    assert match(two, embed=embed, known_values=column) is None
    # Names found, but another request: not this playbook (its names alike lift the plain
    # similarity to 0.77; masked, it reads 0.55).
    assert match("Who is Hannah Brooks's manager?", embed=embed, known_values=column) is None
    thanks = match(
        "Send Maya Chen at Brightforge Analytics a thank-you note", embed=embed, known_values=column
    )
    assert thanks is None or thanks.use.mode == "adapted"  # the planner decides, not the data
