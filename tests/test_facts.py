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

    long = " ".join(f"reason{n}" for n in range(100))  # over a line: cut at a word, marked
    results["score"] = results["score"].model_copy(update={"output": long})
    line = next(ln for ln in facts_answer(GOAL, plan, results).splitlines() if "score (" in ln)
    kept = line.removeprefix("- score (analyst): ").split(" … ")[0]
    assert line.endswith(f" … (+{len(long) - len(kept)} chars)") and long.startswith(kept + " ")


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


def test_each_record_found_is_linked_to_the_line_of_the_files_read_that_speaks_to_it() -> None:
    from podium.tools import default_datasets_dir

    docs = default_datasets_dir() / "docs"
    reads = tuple(
        ToolCallRecord(
            name="read_file",
            arguments="{}",
            ok=True,
            result=json.dumps({"path": f"docs/{p.name}", "content": p.read_text()}),
        )
        for p in sorted(docs.glob("*cirrusly*"))
    )
    policies = json.loads((default_datasets_dir() / "policies.json").read_text())
    plan = Plan.model_validate({"tasks": [{"id": "r", "agent": "reviewer", "instruction": "x"}]})
    results = {
        "r": TaskResult(
            task=plan.tasks[0],
            status="completed",
            output="Reviewed.",
            tool_calls=(*reads, _query("policies", policies)),
        )
    }
    answer = facts_answer("Review the Cirrusly contract against our policies", plan, results)
    section = answer.split("In the files read:\n")[1].splitlines()
    linked = {line.split(":")[0]: line for line in section}
    assert len(linked) == len(policies)  # every policy, past the eight records shown
    assert "State of Delaware" in linked["- POL-009 Governing law"]
    assert "renews automatically" in linked["- POL-004 Auto-renewal"]
    assert "total liability is limited" in linked["- POL-003 Liability cap"]
    assert "14 days' notice of a new subprocessor" in linked["- POL-005 Subprocessors"]
    assert linked["- POL-002 Breach notification"].endswith("(docs/vendor_contract_cirrusly.md)")
    # Nothing read, or no record named: no section.
    alone = {"r": results["r"].model_copy(update={"tool_calls": reads})}
    assert "In the files read" not in facts_answer("Review the contract", plan, alone)


def test_a_tool_first_agent_is_shown_what_its_task_names_before_its_first_turn(
    config: PodiumConfig,
) -> None:
    config = config.model_copy(update={"run": RunConfig(synthesis="facts", lookups="on")})
    model = scripted(
        [task("enrich", "enricher")],
        {},
        extra=[reply("Maya Chen is the VP of Finance.", task="enrich")],
    )
    result = make(config, model).run(GOAL)
    assert result.status == "completed", result.error
    (first,) = [c for c in model.calls if c.task_id == "enrich"]
    shown = [m for m in first.messages if m["role"] == "tool"]
    assert any("VP of Finance" in m["content"] for m in shown)
    calls = result.tasks["enrich"].tool_calls
    assert {json.loads(c.arguments)["dataset"] for c in calls} >= {"crm_leads", "companies"}
    assert all(c.ok for c in calls)
    assert "name Maya Chen · title VP of Finance" in (result.answer or "")
    # Off (the default off the embedded model): the model's first turn must look it up itself.
    off = config.model_copy(update={"run": RunConfig(synthesis="facts", lookups="off")})
    model = scripted(
        [task("enrich", "enricher")],
        {},
        extra=[
            tool_call("query_dataset", {"dataset": "crm_leads"}, task="enrich"),
            reply("The lead works in finance.", task="enrich"),
        ],
    )
    result = make(off, model).run(GOAL)
    first = next(c for c in model.calls if c.task_id == "enrich")
    assert not [m for m in first.messages if m["role"] == "tool"]
