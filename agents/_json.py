"""Tolerant parsing of a model's JSON reply: the repairs a reply may need before it is judged.

Small models (and some llama.cpp builds' grammars) produce JSON that is right in substance and
wrong in form: a raw newline inside a string, a ``` fence around the object, a sentence after
it. Each of those is repaired here, and every repair is named, so a run can count them; what
is still not JSON after the repairs is reported with the strict parser's message.

Written here rather than taken from a library (json-repair, dirtyjson): those also guess at
missing brackets, quotes and commas, which turns a reply that was cut off into a different
value; a cut-off reply must be retried, not repaired. The three repairs below change only the
form, never which value the model wrote.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

FENCE = "code fence removed"
LEADING_TEXT = "text before the JSON removed"
TRAILING_TEXT = "text after the JSON removed"
CONTROL_CHARACTERS = "raw control characters in strings accepted"

_FENCE = re.compile(r"^```[A-Za-z0-9_-]*[ \t]*\n?(.*?)\n?```\s*$", re.S)
_STRICT = json.JSONDecoder()
_LAX = json.JSONDecoder(strict=False)


@dataclass(frozen=True)
class LenientJSON:
    """A parsed reply and the repairs it needed (empty when it was valid JSON as sent)."""

    value: Any
    repairs: tuple[str, ...] = ()


def loads_lenient(text: str) -> LenientJSON:
    """Parse `text` as one JSON value, repairing only its form; raises json.JSONDecodeError
    (the strict parser's error on the candidate) when no repair makes it valid."""
    try:
        return LenientJSON(json.loads(text))
    except json.JSONDecodeError as exc:
        first_error = exc
    repairs: list[str] = []
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
        repairs.append(FENCE)
    starts = [i for i in (body.find("{"), body.find("[")) if i >= 0]
    if not starts:
        raise first_error
    start = min(starts)
    if body[:start].strip():
        repairs.append(LEADING_TEXT)
    try:
        value, end = _STRICT.raw_decode(body, start)
    except json.JSONDecodeError as strict_error:
        try:
            value, end = _LAX.raw_decode(body, start)
        except json.JSONDecodeError:
            raise strict_error from None
        repairs.append(CONTROL_CHARACTERS)
    rest = body[end:].strip()
    if rest:
        if fenced is None and rest.startswith("```") and not rest.strip("`").strip():
            repairs.append(FENCE)  # a closing fence with no opening one
        else:
            repairs.append(TRAILING_TEXT)
    return LenientJSON(value, tuple(repairs))
