"""Chat turns folded into one goal: the request first, then the earlier turns as bounded context."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]

CONTEXT_HEADER = (
    "\n\n---\nEarlier turns of this conversation, oldest first (context for the request "
    "above; they ask for nothing by themselves):\n"
)
MAX_TURN_CHARS = 2_000
"""One earlier turn is cut to this many characters: a long answer must not crowd out the rest."""


class Turn(BaseModel):
    """One message of a conversation, as a chat UI or the OpenAI API sends it."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str = Field(max_length=100_000)


def goal_with_context(
    request: str,
    turns: Sequence[Turn],
    *,
    max_chars: int,
    max_turn_chars: int = MAX_TURN_CHARS,
) -> str:
    """The request, then as many of the latest earlier turns as fit in `max_chars` in all.

    The request is never cut (an oversized one is refused by the goal check, with the limit
    named); the oldest turns are dropped first, and each turn is cut to `max_turn_chars`."""
    request = request.strip()
    room = max_chars - len(request) - len(CONTEXT_HEADER)
    kept: list[str] = []
    for turn in reversed(turns):
        text = " ".join(turn.content.split())
        if not text:
            continue
        if len(text) > max_turn_chars:
            text = text[: max_turn_chars - 1] + "…"
        line = f"[{turn.role}] {text}"
        if len(line) + 1 > room:
            break
        kept.append(line)
        room -= len(line) + 1
    if not kept:
        return request
    return request + CONTEXT_HEADER + "\n".join(reversed(kept))


def request_of(goal: str) -> str:
    """The request a goal was made from, without the earlier turns `goal_with_context` folded
    in: what a person asked, for lists and titles (the context block is the model's)."""
    return goal.split(CONTEXT_HEADER, 1)[0]


def text_of(content: Any) -> str:
    """The text of an OpenAI message's content: a string, or a list of parts (text parts only)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Iterable):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        )
    return str(content)


def split_messages(messages: Sequence[Mapping[str, Any]]) -> tuple[str, list[Turn]]:
    """(the last user message, the turns before it) from OpenAI chat messages.

    Tool and function messages are left out: they are another model's working, not the
    conversation. Raises ValueError when the last message is not the user's."""
    if not messages or messages[-1].get("role") != "user":
        raise ValueError("the last message must be the user's: it is the goal to run")
    request = text_of(messages[-1].get("content")).strip()
    if not request:
        raise ValueError("the last user message is empty: say what you want done")
    roles: dict[str, Role] = {
        "system": "system",
        "developer": "system",
        "user": "user",
        "assistant": "assistant",
    }
    turns = [
        Turn(role=roles[str(m.get("role"))], content=text_of(m.get("content")))
        for m in messages[:-1]
        if m.get("role") in roles
    ]
    return request, turns
