"""`podium bench embedded` without the model: the goals file and the figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.evals.bench.embedded import (
    DEFAULT_GOALS,
    WORKFLOWS,
    GoalRun,
    GoalsFileError,
    figures,
    load_goals,
)


def test_the_bundled_goals_cover_each_workflow_with_facts_from_the_data() -> None:
    goals = load_goals(DEFAULT_GOALS)
    counts = {w: sum(g.workflow == w for g in goals) for w in WORKFLOWS}
    assert all(counts[w] >= 3 for w in WORKFLOWS if w != "other") and counts["other"] >= 5
    data = "\n".join(
        p.read_text(encoding="utf-8").casefold()
        for p in (Path(__file__).parents[1] / "tools" / "datasets").rglob("*")
        if p.is_file() and p.suffix in (".csv", ".json", ".md")
    )
    for goal in goals:
        assert all(fact.casefold() in data for fact in goal.facts), goal.id


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("goals: [", "not valid YAML"),
        ("goals: []", "goals: Tuple should have at least 1 item"),
        ("goals:\n  - {id: a, workflow: sales, goal: g}", "goals.0.facts: Field required"),
        ("goals:\n  - {id: a, workflow: hr, goal: g, facts: [x]}", "goals.0.workflow"),
        (
            "goals:\n  - {id: a, workflow: sales, goal: g, facts: [x]}\n"
            "  - {id: a, workflow: other, goal: h, facts: [y]}",
            "repeated: ['a']",
        ),
    ],
)
def test_a_bad_goals_file_says_where_and_what(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "goals.yaml"
    path.write_text(text)
    with pytest.raises(GoalsFileError, match=r"goals\.yaml") as info:
        load_goals(path)
    assert problem in str(info.value)
    with pytest.raises(GoalsFileError, match="cannot read"):
        load_goals(tmp_path / "missing.yaml")


def test_figures() -> None:
    def run(workflow: str, found: int, **kw: object) -> GoalRun:
        values: dict[str, object] = {
            "status": "completed", "seconds": 10.0, "valid_plan": True, "tasks": 3, "facts": 2,
            "answer": "x", "playbook": "p",
        }  # fmt: skip
        values.update(kw)
        return GoalRun(
            id=workflow,
            workflow=workflow,
            goal="g",
            facts_found=["f"] * found,
            **values,  # type: ignore[arg-type]
        )

    report = figures(
        [
            run("sales", 2),
            run("support", 1, duplicate_tasks=1, seconds=30.0, debris="a tool call"),
            run("other", 0, valid_plan=False, status="failed", answer=None, tasks=0, playbook=None),
        ]
    )
    assert report["valid_plan_rate"] == round(2 / 3, 4)
    assert report["duplicate_task_rate"] == round(1 / 6, 4)
    assert report["debris_in_answer_rate"] == 0.5
    assert report["grounded_fact_rate"] == 0.75  # workflow goals only
    assert report["grounded_fact_rate_other"] == 0.0
    assert report["playbook_hit_rate"] == 1.0
    assert report["median_run_s"] == 10.0
