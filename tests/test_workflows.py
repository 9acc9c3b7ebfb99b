"""The five workflows Podium is built for, run end to end on scripted models, shapes asserted."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from conftest import edges, make, scripted, task

from podium.runtime import PodiumConfig, RunResult, TaskStarted


@dataclass(frozen=True)
class Workflow:
    goal: str
    plan: list[dict[str, object]]
    edges: set[tuple[str, str]]
    parallel: frozenset[str] = frozenset()
    """Tasks that must have run at the same time."""


WORKFLOWS = {
    "sales": Workflow(
        "Qualify the lead Dana Reyes and draft a first outreach email",
        [
            task("enrich", "enricher"),
            task("research", "researcher", ["enrich"]),
            task("score", "analyst", ["enrich", "research"]),
            task("personalise", "writer", ["research", "score"]),
            task("outreach", "writer", ["personalise"]),
        ],
        {
            ("enrich", "research"),
            ("enrich", "score"),
            ("research", "score"),
            ("research", "personalise"),
            ("score", "personalise"),
            ("personalise", "outreach"),
        },
    ),
    "recruiting": Workflow(
        "Find and book interviews for the senior backend opening",
        [
            task("source", "sourcer"),
            task("screen", "screener", ["source"]),
            task("outreach", "writer", ["screen"]),
            task("schedule", "scheduler", ["screen", "outreach"]),
        ],
        {
            ("source", "screen"),
            ("screen", "outreach"),
            ("screen", "schedule"),
            ("outreach", "schedule"),
        },
    ),
    "research": Workflow(
        "Summarise what our three largest customers have in common",
        [
            task("g1", "researcher"),
            task("g2", "researcher"),
            task("g3", "researcher"),
            task("synth", "synthesizer", ["g1", "g2", "g3"]),
        ],
        {("g1", "synth"), ("g2", "synth"), ("g3", "synth")},
        parallel=frozenset({"g1", "g2", "g3"}),
    ),
    "support": Workflow(
        "Triage today's support tickets",
        [
            task("classify", "classifier"),
            task("route", "router", ["classify"]),
            task(
                "escalate",
                "writer",
                ["route"],
                instruction="write the escalation note for the human on call",
            ),
        ],
        {("classify", "route"), ("route", "escalate")},
    ),
    "compliance": Workflow(
        "Review the vendor contract against our policies",
        [
            task("review", "reviewer"),
            task("privacy", "reviewer", ["review"]),
            task("security", "reviewer", ["review"]),
            task("risk", "analyst", ["privacy", "security"]),
        ],
        {("review", "privacy"), ("review", "security"), ("privacy", "risk"), ("security", "risk")},
        parallel=frozenset({"privacy", "security"}),
    ),
}


def overlapping(result: RunResult, ids: frozenset[str]) -> bool:
    spans = [(result.tasks[i].started_at or 0.0, result.tasks[i].finished_at or 0.0) for i in ids]
    return max(s for s, _ in spans) < min(f for _, f in spans)


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
async def test_workflow_runs_with_its_graph_shape(name: str, config: PodiumConfig) -> None:
    flow = WORKFLOWS[name]
    outputs = {t["id"]: f"<{t['id']} output>" for t in flow.plan}
    model = scripted(flow.plan, outputs, latency_s=0.05)
    started: list[str] = []
    result = await make(config, model).arun(
        flow.goal,
        on_event=lambda e: started.append(e.task_id) if isinstance(e, TaskStarted) else None,
    )

    assert result.status == "completed", result.error
    assert result.plan is not None
    assert edges(result.plan) == flow.edges
    assert {t.id: t.agent for t in result.plan.tasks} == {t["id"]: t["agent"] for t in flow.plan}
    assert all(r.status == "completed" for r in result.tasks.values())
    sink = result.plan.sinks()[0].id
    assert result.answer == outputs[sink]
    # Every task ran after all of its inputs finished.
    for t in result.plan.tasks:
        for i in t.inputs:
            assert result.tasks[i].finished_at <= result.tasks[t.id].started_at  # type: ignore[operator]
    if flow.parallel:
        assert overlapping(result, flow.parallel)
    # Each task saw the outputs it declared as inputs, and only those.
    for t in result.plan.tasks:
        call = next(c for c in model.calls if c.task_id == t.id)
        prompt = call.messages[-1]["content"]
        for other in flow.plan:
            assert (f"<{other['id']} output>" in prompt) == (other["id"] in t.inputs)
    assert sorted(started) == sorted(outputs)
    assert result.usage.calls == len(flow.plan) + 1
    model.assert_complete()
