"""Runs checkpointed by earlier code resume: LangGraph's task names and call order are kept."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from checkpoint_fixture import FIXTURE, RESUMED, RUN_ID, podium

from podium.runtime import FailureKind, RunEvent, TaskResult


async def test_a_run_checkpointed_before_the_engine_split_resumes_where_it_stopped(
    tmp_path: Path,
) -> None:
    shutil.copytree(FIXTURE / "data", tmp_path / "data")
    resumed, model = podium(tmp_path / "data", RESUMED)
    events: list[RunEvent] = []

    result = await resumed.aresume(RUN_ID, answers={"guard-s": "approve"}, on_event=events.append)

    model.assert_complete()  # only w and the synthesis ran: nothing checkpointed ran again
    assert result.status == "completed" and result.plan_revisions == 1
    assert result.answer == "Scored 9; the email is written."
    assert {i: (r.status, r.output) for i, r in result.tasks.items()} == {
        "a": ("completed", "Northwind: 40 staff, renews in March."),
        "c": ("completed", "Draft: hello Northwind."),
        "r": ("failed", None),
        "s": ("completed", "A guaranteed lead, score 9"),
        "w": ("completed", "Dear Northwind, about your renewal."),
    }
    assert result.tasks["s"].approved_by == "human" and result.tasks["r"].guard == "refrain"
    restored = {e.task_id for e in events if e.kind == "task_completed" and e.restored}
    assert restored == {"a", "c"}


@pytest.mark.parametrize(
    ("stored", "kind"),
    [
        (
            {"status": "skipped", "error": "budget exceeded: calls limit of 3 model calls reached"},
            FailureKind.BUDGET,
        ),
        (
            {"status": "failed", "error": "guard: refrain: banned word", "guard": "refrain"},
            FailureKind.GUARD,
        ),
        ({"status": "skipped", "error": "input(s) ['a'] did not complete"}, None),
        ({"status": "completed", "output": "done"}, None),
    ],
)
def test_results_checkpointed_before_failure_kinds_read_as_their_kind(
    stored: dict[str, Any], kind: FailureKind | None
) -> None:
    task = {"id": "t", "agent": "writer", "instruction": "do t", "inputs": []}
    assert TaskResult.model_validate({"task": task, **stored}).failure is kind
