"""A model's JSON is repaired in form before it is judged: fences, prose around it, raw control
characters in strings. Each repair is named and counted in the run's events; a reply that was
cut off is never "repaired" into another value."""

from __future__ import annotations

import itertools
import json

import pytest
from conftest import make, task

from podium.agents import loads_lenient
from podium.agents._json import CONTROL_CHARACTERS, FENCE, LEADING_TEXT, TRAILING_TEXT
from podium.runtime import PlanCreated, PodiumConfig, RunEvent, TaskCompleted
from podium.runtime.testing import ScriptedModel, reply

VALUES = [
    {"tasks": [{"id": "t1", "agent": "researcher", "instruction": "find\nfacts"}]},
    {"answer": "line one\nline two\ttabbed\rreturn"},
    [{"name": "Maya Chen", "score": 82}, {"name": "Ana", "note": "a\u0001b"}],
]
FENCES = [("", ""), ("```\n", "\n```"), ("```json\n", "\n```"), ("```JSON ", "```"), ("", "\n```")]
PROSE_BEFORE = ["", "Here is the plan:\n", "Sure! "]
PROSE_AFTER = ["", "\nI hope this helps.", " Let me know if you need more. {not json}"]


def _raw(value: object) -> str:
    """The value as a model that forgets to escape control characters writes it."""
    text = json.dumps(value, ensure_ascii=False)
    for escaped, raw in (("\\n", "\n"), ("\\t", "\t"), ("\\r", "\r"), ("\\u0001", "\x01")):
        text = text.replace(escaped, raw)
    return text


@pytest.mark.parametrize(
    ("value", "fence", "before", "after", "raw"),
    list(itertools.product(VALUES, FENCES, PROSE_BEFORE, PROSE_AFTER, [False, True])),
)
def test_every_combination_of_form_errors_parses_to_the_value_written(
    value: object, fence: tuple[str, str], before: str, after: str, raw: bool
) -> None:
    body = _raw(value) if raw else json.dumps(value)
    text = f"{before}{fence[0]}{body}{fence[1]}{after}"
    parsed = loads_lenient(text)
    assert parsed.value == value
    needs_control = raw and body != json.dumps(value)
    assert (CONTROL_CHARACTERS in parsed.repairs) == needs_control
    if text == json.dumps(value):
        assert parsed.repairs == ()
    if after.strip():
        assert TRAILING_TEXT in parsed.repairs
    if before.strip():
        assert LEADING_TEXT in parsed.repairs or FENCE in parsed.repairs


@pytest.mark.parametrize(
    "text",
    [
        '{"answer": "cut off in the mid',  # max_tokens mid-string
        '{"tasks": [{"id": "t1"}',  # max_tokens mid-object
        "no json at all",
        "",
        '{"a": 1,}',  # a trailing comma is a different error, not one of form
        "```\n{'single': 'quotes'}\n```",
    ],
)
def test_what_no_repair_of_form_fixes_is_still_an_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        loads_lenient(text)


def test_valid_json_needs_no_repair() -> None:
    assert loads_lenient('  {"a": [1, 2]}\n').repairs == ()


PLAN_WITH_A_RAW_NEWLINE = (
    'Here you go:\n```json\n{"tasks": [{"id": "a", "agent": "researcher", '
    '"instruction": "Find the lead\nand the company", "inputs": []}]}\n```\nDone.'
)


async def test_a_planner_reply_needing_repairs_is_a_plan_and_the_repairs_are_counted(
    config: PodiumConfig,
) -> None:
    model = ScriptedModel(
        [reply(PLAN_WITH_A_RAW_NEWLINE, purpose="plan"), reply("facts", task="a")]
    )
    events: list[RunEvent] = []
    result = await make(config, model).arun("goal", on_event=events.append)

    assert result.status == "completed", result.error
    assert result.plan is not None
    assert result.plan.tasks[0].instruction == "Find the lead\nand the company"
    created = [e for e in events if isinstance(e, PlanCreated)]
    assert set(created[0].repairs) == {LEADING_TEXT, TRAILING_TEXT, CONTROL_CHARACTERS}
    assert not [e for e in events if e.kind == "plan_rejected"]


async def test_a_task_answer_needing_repairs_is_accepted_as_clean_json(
    config: PodiumConfig,
) -> None:
    schema = {
        "type": "object",
        "properties": {"score": {"type": "integer"}, "why": {"type": "string"}},
        "required": ["score", "why"],
    }
    plan = [task("s", "analyst", output_schema=schema)]
    model = ScriptedModel(
        [
            reply({"tasks": plan}, purpose="plan"),
            reply('```json\n{"score": 82, "why": "fits\nwell"}\n```', task="s"),
        ]
    )
    events: list[RunEvent] = []
    result = await make(config, model).arun("goal", on_event=events.append)

    assert result.status == "completed", result.error
    assert result.tasks["s"].data == {"score": 82, "why": "fits\nwell"}
    assert json.loads(result.tasks["s"].output or "") == {"score": 82, "why": "fits\nwell"}
    assert set(result.tasks["s"].repairs) == {FENCE, CONTROL_CHARACTERS}
    completed = [e for e in events if isinstance(e, TaskCompleted)]
    assert set(completed[0].repairs) == {FENCE, CONTROL_CHARACTERS}
