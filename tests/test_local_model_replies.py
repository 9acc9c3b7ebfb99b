"""How the embedded model's constrained replies become chat messages (no inference needed)."""

from __future__ import annotations

import json

import pytest

from podium.runtime._local_model import _as_tool_message


def test_a_tool_call_becomes_a_tool_call() -> None:
    message = _as_tool_message('{"tool": "lookup", "arguments": {"dataset": "crm_leads"}}')
    (call,) = message["tool_calls"]
    assert call["function"]["name"] == "lookup"
    assert json.loads(call["function"]["arguments"]) == {"dataset": "crm_leads"}
    assert message["content"] is None


@pytest.mark.parametrize(
    "cut",
    [
        '{"tool": "read_file", "arguments": {"path": "1983-02-47T:56.1\\n',
        '{"tool": "lookup", "argu',
        "]\n<tool result>\n  <data:output_format=",
    ],
)
def test_a_reply_cut_off_mid_tool_call_is_never_an_answer(cut: str) -> None:
    message = _as_tool_message(cut)
    assert message == {"role": "assistant", "content": ""}  # the agent loop asks again


def test_an_answer_cut_off_keeps_the_text_that_arrived() -> None:
    message = _as_tool_message('{"answer": "Maya Chen is VP of Finance at Brightforge and')
    assert message["content"] == "Maya Chen is VP of Finance at Brightforge and"
