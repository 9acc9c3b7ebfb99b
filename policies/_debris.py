"""Debris: a model's reply that is the machinery rather than an answer (no guardrails import).

Seen on SmolLM2-135M: 42 of 59 accepted task outputs began with a tool call or a stray `]`/`}`,
or were chat-template fragments ("]\n<tool result>\n  <data:output_format="); other small
models do the same. `no_debris` (the validator) and `podium bench embedded` both judge by this.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_JSON_START = re.compile(r"^\s*(?:```(?:json)?\s*)?\[?\s*\{")
_TOOL_KEY = re.compile(r'"(?:tool|tool_name|tool_calls)"\s*:', re.I)
_CALL_KEYS = re.compile(
    r'"(?:name|function)"\s*:.{0,300}?"(?:arguments|parameters)"\s*:', re.I | re.S
)
_STRAY_START = re.compile(r"^\s*[\]\}]")
_TEMPLATE = re.compile(
    r"<\|[a-z_]+\|>"  # <|im_start|>, <|endoftext|>, <|assistant|>
    r"|</?tool[ _]?(?:result|call|response)\b"  # the embedded model's and common tool fences
    r"|<(?:input|result)\s+(?:from|task)=|</(?:input|result)>"  # task prompt, synthesis fences
    r"|<data:[a-z_]+|</?untrusted-data>"
    r"|\[/?INST\]|<<SYS>>",
    re.I,
)
MIN_DUPLICATE_WORDS = 8
"""Shorter outputs may rightly be the same (two tickets both "urgent")."""


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _normalised(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def find_debris(text: str, metadata: Mapping[str, Any] | None = None) -> str | None:
    """Why `text` is debris rather than an answer, or None. `metadata` may give the prompt's
    `fences` (labels) and `siblings` (other tasks' outputs by id)."""
    metadata = metadata or {}
    if not re.search(r"\w", text):
        return "the output is empty or only punctuation: write the answer to the task"
    head = text[:400]
    if _JSON_START.match(head) and (_TOOL_KEY.search(head) or _CALL_KEYS.search(head)):
        return (
            "the output is a tool call written as text, not an answer: call the tool, or answer "
            "in plain words from its results"
        )
    if text.lstrip().startswith("{") and not _parses(text):
        return "the output is a broken fragment of JSON: write the answer itself"
    if _STRAY_START.match(text):
        return (
            "the output starts with a stray bracket (a fragment of JSON): write the answer itself"
        )
    if found := _TEMPLATE.search(text):
        return (
            f"the output contains a chat-template or prompt fragment ({found.group()[:30]!r}): "
            "write only the answer"
        )
    folded = " ".join(text.casefold().split())
    for fence in metadata.get("fences", ()):
        label = " ".join(str(fence).casefold().split())
        if label and label in folded:
            return "the output repeats a label from the prompt: write only the answer"
    mine = _normalised(text)
    if len(mine.split()) >= MIN_DUPLICATE_WORDS:
        for task_id, other in (metadata.get("siblings") or {}).items():
            if _normalised(str(other)) == mine:
                return f"the output is the same text as task {task_id!r}'s: do this task's own work"
    return None
