"""An answer that carries the facts: assembled from the run's tool results and outputs when
the embedded model would write it (`[run] synthesis = "facts"`, or auto on the embedded model)."""

from __future__ import annotations

import json

from conftest import make, scripted, task

from podium.runtime import PodiumConfig
from podium.runtime._config import RunConfig
from podium.runtime.engine._facts import FOUND, facts_answer
from podium.runtime.engine._plan import Plan
from podium.runtime.engine._result import TaskResult, ToolCallRecord
from podium.runtime.testing import reply, tool_call

GOAL = "Qualify the lead Maya Chen at Brightforge Analytics and draft a first email"


def _query(dataset: str, rows: list[dict[str, object]]) -> ToolCallRecord:
    result = json.dumps({"dataset": dataset, "count": len(rows), "rows": rows})
    return ToolCallRecord(name="query_dataset", arguments="{}", ok=True, result=result)


def test_the_answer_holds_the_final_output_the_named_records_and_the_other_tasks() -> None:
    plan = Plan.model_validate(
        {
            "tasks": [
                {"id": "enrich", "agent": "enricher", "instruction": "look up"},
                {"id": "score", "agent": "analyst", "instruction": "score", "inputs": ["enrich"]},
                {"id": "email", "agent": "writer", "instruction": "write", "inputs": ["score"]},
            ]
        }
    )
    maya = {"lead_id": "L-1001", "name": "Maya Chen", "title": "VP of Finance", "stage": None}
    other = {"lead_id": "L-1002", "name": "Erik Solberg", "title": "Head of IT"}
    results = {
        "enrich": TaskResult(
            task=plan.tasks[0],
            status="completed",
            output="She leads finance.",
            tool_calls=(
                _query("crm_leads", [{"title": "VP of Finance", "name": "Maya Chen"}]),
                _query("crm_leads", [maya, other]),
                ToolCallRecord(
                    name="read_file",
                    arguments="{}",
                    ok=True,
                    result=json.dumps({"path": "docs/a.md", "content": "x"}),
                ),
            ),
        ),
        "score": TaskResult(task=plan.tasks[1], status="completed", output="Score:\n 80 / 100"),
        "email": TaskResult(task=plan.tasks[2], status="completed", output="Dear Maya, ..."),
    }
    answer = facts_answer(GOAL, plan, results)
    assert answer.startswith("Dear Maya, ...")
    assert f"{FOUND}\n- crm_leads: lead_id L-1001 · name Maya Chen · title VP of Finance" in answer
    assert "Erik Solberg" not in answer  # not named by the goal
    assert answer.count("crm_leads:") == 1  # the projection of the same row is not repeated
    assert "Files read: docs/a.md" in answer
    assert "- score (analyst): Score: 80 / 100" in answer
    assert "stage None" not in answer  # empty cells are left out


def test_a_run_on_facts_puts_the_looked_up_record_in_the_answer(config: PodiumConfig) -> None:
    config = config.model_copy(update={"run": RunConfig(synthesis="facts")})
    model = scripted(
        [task("enrich", "enricher"), task("email", "writer", inputs=["enrich"])],
        {},
        extra=[
            tool_call("query_dataset", {"dataset": "crm_leads"}, task="enrich"),
            reply("The lead works in finance.", task="enrich"),
            reply("Dear Maya, I would like to talk about your analytics.", task="email"),
        ],
    )
    result = make(config, model).run(GOAL)
    assert result.status == "completed", result.error
    assert result.answer is not None
    assert result.answer.startswith("Dear Maya, I would like")
    assert "name Maya Chen · title VP of Finance · company Brightforge Analytics" in result.answer
    # The records travel with the output, so the writer read them too.
    assert "name Maya Chen" in (result.tasks["enrich"].output or "")
    (call,) = result.tasks["enrich"].tool_calls
    assert call.name == "query_dataset" and call.ok
    assert not any(r.purpose == "synthesis" for r in model.calls)


def test_a_dataset_the_goal_names_counts_whole() -> None:
    plan = Plan.model_validate({"tasks": [{"id": "r", "agent": "reviewer", "instruction": "x"}]})
    rows = [{"policy_id": f"POL-00{i}", "title": f"Rule {i}"} for i in range(1, 4)]
    results = {
        "r": TaskResult(
            task=plan.tasks[0],
            status="completed",
            output="Reviewed.",
            tool_calls=(_query("policies", rows),),
        )
    }
    answer = facts_answer("Review the contract against our policies", plan, results)
    assert all(f"policy_id POL-00{i} · title Rule {i}" in answer for i in range(1, 4))
    assert "policy_id" not in facts_answer("Review the contract", plan, results)
