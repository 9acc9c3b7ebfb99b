"""Offloaded tool results: one too large for the prompt is kept whole under a handle, the prompt
gets a bounded view of it, and the `read_result` tool reads on by handle.

Why a tool of its own rather than `read_file`: the full result must not land in the workspace
(the user's folder, read by every later run and by any agent with `read:workspace`), read_file
has no offset, and an agent without `read:workspace` must still be able to read on. `read_result`
needs no scope: it serves only what this task's own calls already brought in through the gate.

The store lives as long as one task attempt (the agent loop that made the calls): a handle only
means something in that attempt's prompt, and the attempt may run in another process (Ray).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._core import JSONValue, Tool, ToolContext, ToolError, _describe as describe_invalid

READ_RESULT = "read_result"
"""The reader's name; reserved (a tool source may not register a tool of that name)."""
DEFAULT_MAX_RESULT_TOKENS = 8000
"""The bound when nothing smaller is known (`[tools] max_result_tokens`)."""
MIN_RESULT_TOKENS = 256
"""No bound is set below this: a view must still show something besides its note."""
BYTES_PER_TOKEN = 3
OFFLOAD_LABEL = "Too large for the prompt: kept whole as"
"""The fixed start of every offload note (an answer that repeats it is debris)."""
_MAX_NOTE_LINES = 6
# Generous to tight: items kept per list, characters per string, keys per object. The view takes
# the first step whose rendering fits (items then searched upwards within the step).
_SCHEDULE = ((2000, 200), (1000, 100), (500, 50), (200, 30), (100, 20), (60, 12), (30, 6))


MESSAGE_TOKENS = 16
"""What one chat message takes besides its text: its role and the chat template's markers (about
five with SmolLM2's), and the `<tool result>` wrapper the embedded model puts on a tool's (ten)."""


def token_bound(text: str) -> int:
    """A bound on `text`'s tokens, not an estimate: UTF-8 bytes / 3, rounded up (the estimate
    for budgets and usage is `podium.memory.estimate_tokens`, about 4 characters a token).

    The view must fit every model of the tier, whose tokenizers differ and are not all at hand
    (the embedded model's is inside llama.cpp). Three bytes a token over-counts English prose
    (about four) and matches JSON and CJK text (a three-byte character is about a token).

    The one estimate of a prompt's size where prompts are bounded: the offload bound here and
    in the agent loop, and the embedded model's prompt fitting (`_local_model._fit`) count with
    this and `message_tokens`, so a prompt the loop sized to the window is one `_fit` keeps.
    (Memory's and the doubles' estimates differ: one estimate for all is a later change.)"""
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)


def message_tokens(message: Mapping[str, Any]) -> int:
    """`token_bound` of one chat message: its text, its tool calls, and `MESSAGE_TOKENS`."""
    text = str(message.get("content") or "")
    calls = message.get("tool_calls") or []
    if calls:
        text += json.dumps(
            [
                {"tool": c["function"]["name"], "arguments": c["function"]["arguments"]}
                for c in calls
            ]
        )
    return MESSAGE_TOKENS + token_bound(text)


def prompt_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    return sum(message_tokens(m) for m in messages)


def result_bound(cap: int, prompt_room: int | None, used: int) -> int:
    """Tokens the next tool message may take: `cap` (the per-message bound), or what is left of
    `prompt_room` (the window less the reply's tokens) after the `used` tokens of the prompt so
    far, if that is less; never below a quarter of the room (or MIN_RESULT_TOKENS), so a view
    still shows something worth reading. Past that floor the prompt may overflow: the model's
    own fitting then drops the oldest tool turns, never the task's instruction."""
    if prompt_room is None:
        return cap
    floor = max(MIN_RESULT_TOKENS, prompt_room // 4)
    return max(MIN_RESULT_TOKENS, min(cap, max(floor, prompt_room - used - MESSAGE_TOKENS)))


def head(text: str, max_tokens: int) -> str:
    """The longest start of `text` within `max_tokens` (by `token_bound`), whole characters."""
    budget = max(0, max_tokens) * BYTES_PER_TOKEN
    data = text.encode("utf-8")
    if len(data) <= budget:
        return text
    return data[:budget].decode("utf-8", errors="ignore")


class ReadResultArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handle: str = Field(
        min_length=1, description="The handle the result was kept as, e.g. 'result-1'."
    )
    path: str = Field(
        default="",
        description=(
            "In a JSON result, what to read: keys and item numbers joined by dots "
            "('rows', 'rows.3.notes'). Empty: the whole result."
        ),
    )
    offset: int = Field(
        default=0,
        ge=0,
        description="Where to start: an item number when the target is a list, else a character.",
    )
    limit: int | None = Field(
        default=None,
        ge=1,
        description="At most this many items or characters (fewer when more would not fit).",
    )


@dataclass(frozen=True)
class KeptResult:
    """One result kept whole (redacted) under its handle."""

    handle: str
    tool: str
    """The tool that returned it."""
    text: str = field(repr=False)
    """The result as the tool returned it, secrets masked."""
    value: JSONValue = field(repr=False)
    """`text` parsed, when it is a JSON list or object; else None."""
    external: bool
    """It came from outside the run (fenced as untrusted data, like the tool's own results)."""


@dataclass(frozen=True)
class View:
    """What the prompt gets instead of a whole result, or of a read: data, then our note."""

    kept: KeptResult
    body: str
    note: str


@dataclass
class ResultStore:
    """One task attempt's offloaded results, by handle."""

    max_tokens: int = DEFAULT_MAX_RESULT_TOKENS
    """The bound on one tool message, in tokens (`token_bound`)."""
    redact: Callable[[str], str] = lambda text: text
    """Masks secrets before anything is kept (the policies' Redactor)."""
    _kept: dict[str, KeptResult] = field(default_factory=dict)
    _by_call: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.max_tokens = max(self.max_tokens, MIN_RESULT_TOKENS)

    @property
    def handles(self) -> list[str]:
        return list(self._kept)

    def fits(self, message: str, bound: int | None = None) -> bool:
        """`message` is within `bound` tokens (the store's `max_tokens` when None)."""
        return token_bound(message) <= (self.max_tokens if bound is None else bound)

    def room(self, wrapper: str, bound: int | None = None) -> int:
        """Tokens left for a view inside a message of at most `bound` tokens (the store's
        `max_tokens` when None) that wraps it in `wrapper` (fence, labels)."""
        return (self.max_tokens if bound is None else bound) - token_bound(wrapper)

    def kept_for(self, arguments: str | dict[str, Any]) -> KeptResult:
        """The result a `read_result` call with `arguments` reads (ToolError: bad arguments or
        an unknown handle, said so the model can fix its call)."""
        return self._kept_for(self._args(arguments))

    def _args(self, arguments: str | dict[str, Any]) -> ReadResultArgs:
        try:
            return (
                ReadResultArgs.model_validate_json(arguments or "{}")
                if isinstance(arguments, str)
                else ReadResultArgs.model_validate(arguments)
            )
        except ValidationError as exc:
            raise ToolError(
                f"{READ_RESULT}: invalid arguments: {describe_invalid(exc)}; send "
                '{"handle": "result-1", "offset": 0} with a handle this task was given'
            ) from None

    def _kept_for(self, args: ReadResultArgs) -> KeptResult:
        kept = self._kept.get(args.handle.strip())
        if kept is None:
            raise ToolError(
                f"no result is kept as {args.handle!r}; this task's handles: "
                + (", ".join(self._kept) or "none (nothing was too large)")
            )
        return kept

    def keep(self, tool: str, arguments: str, text: str, *, external: bool) -> KeptResult:
        """Keep `text` (redacted) under a handle; the same call kept again keeps its handle."""
        known = self._by_call.get((tool, arguments))
        if known is not None:
            return self._kept[known]
        stored = self.redact(text)
        kept = KeptResult(
            handle=f"result-{len(self._kept) + 1}",
            tool=tool,
            text=stored,
            value=_json_container(stored),
            external=external,
        )
        self._kept[kept.handle] = kept
        self._by_call[(tool, arguments)] = kept.handle
        return kept

    def view(self, kept: KeptResult, fit: int) -> View:
        """The start of `kept` within `fit` tokens, note included: for JSON, the first items of
        every list and the start of every long string, with the counts; else the text's head."""
        if kept.value is not None:
            shaped = _json_view(kept, fit)
            if shaped is not None:
                return shaped
        note = _note(kept, _text_read_more(kept, 10**12))
        body = head(kept.text, fit - token_bound(note) - 1)
        note = _note(kept, _text_read_more(kept, len(body)))
        return View(kept, body, note)

    def read(self, arguments: str | dict[str, Any], fit: int) -> View:
        """A part of a kept result, as `read_result` was asked for it, within `fit` tokens."""
        args = self._args(arguments)
        kept = self._kept_for(args)
        path = args.path.strip().strip(".")
        if not path and not isinstance(kept.value, list):
            return self._read_text(kept, "", kept.text, args.offset, args.limit, fit)
        target = _at(kept, path)
        if isinstance(target, list):
            return self._read_items(kept, path, target, args.offset, args.limit, fit)
        text = target if isinstance(target, str) else json.dumps(target, ensure_ascii=False)
        return self._read_text(kept, path, text, args.offset, args.limit, fit)

    def _read_text(
        self, kept: KeptResult, path: str, text: str, offset: int, limit: int | None, fit: int
    ) -> View:
        if offset >= len(text) and text:
            raise ToolError(
                f"offset {offset} is past the end of {_where(kept, path)} ({len(text):,} "
                "characters): there is nothing more to read"
            )
        end = len(text) if limit is None else min(len(text), offset + limit)
        note = _longest_read_note(kept, path, "characters", offset, len(text))
        body = head(text[offset:end], fit - token_bound(note) - 1)
        end = offset + len(body)
        return View(kept, body, _read_note(kept, path, "characters", offset, end, len(text)))

    def _read_items(
        self,
        kept: KeptResult,
        path: str,
        items: list[Any],
        offset: int,
        limit: int | None,
        fit: int,
    ) -> View:
        if offset >= len(items) and items:
            raise ToolError(
                f"offset {offset} is past the end of {_where(kept, path)} ({len(items):,} "
                "items): there is nothing more to read"
            )
        wanted = items[offset : len(items) if limit is None else offset + limit]
        note = _longest_read_note(kept, path, "items", offset, len(items))
        room = fit - token_bound(note) - 1
        count = _most_that_fit(
            min(len(wanted), _most_items(room)), lambda n: _dumps(wanted[:n]), room
        )
        if count == 0 and wanted:
            # One item alone is too large: read it as text, by its own path.
            inner = f"{path}.{offset}" if path else str(offset)
            return self._read_text(kept, inner, _dumps(wanted[0]), 0, None, fit)
        body = _dumps(wanted[:count])
        return View(kept, body, _read_note(kept, path, "items", offset, offset + count, len(items)))

    @property
    def tool(self) -> Tool:
        """`read_result` as a tool (its schema is what the model is offered)."""

        async def read(args: ReadResultArgs, ctx: ToolContext) -> JSONValue:
            view = self.read(args.model_dump(), self.max_tokens)
            return f"{view.body}\n{view.note}"

        return Tool(
            name=READ_RESULT,
            description=(
                "Read more of a tool result that was too large for the prompt, by the handle "
                "its note gave: characters from an offset, or items of a JSON list by path."
            ),
            args_model=ReadResultArgs,
            scopes=frozenset(),
            fn=read,
            # Podium's own state: cassettes do not record it, a replay reads its own store.
            external=False,
        )


# -- JSON views ----------------------------------------------------------------------------


@dataclass
class _Cut:
    kind: Literal["items", "characters", "keys"]
    total: int
    shown: int
    exact: bool
    """The path names one place (not every item of a list: `rows[].notes`)."""


def _json_container(text: str) -> JSONValue:
    if text.lstrip()[:1] not in ("[", "{"):
        return None
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None  # not JSON after all (or redaction broke it): read as text
    return value if isinstance(value, list | dict) else None


def _json_view(kept: KeptResult, fit: int) -> View | None:
    value = kept.value
    longest = _longest_list(value)
    for chars, keys in _SCHEDULE:

        def render(items: int, chars: int = chars, keys: int = keys) -> str:
            cuts: dict[str, _Cut] = {}
            body = _dumps(_shrink(value, items, chars, keys, "", True, cuts))
            return f"{body}\n{_note(kept, _cut_lines(kept, cuts))}"

        floor = 1 if longest else 0
        if token_bound(render(floor)) > fit:
            continue
        items = _most_that_fit(min(longest, _most_items(fit)), render, fit) if longest else 0
        cuts: dict[str, _Cut] = {}
        body = _dumps(_shrink(value, max(items, floor), chars, keys, "", True, cuts))
        return View(kept, body, _note(kept, _cut_lines(kept, cuts)))
    return None


def _shrink(
    value: Any, items: int, chars: int, keys: int, path: str, exact: bool, cuts: dict[str, _Cut]
) -> Any:
    if isinstance(value, str):
        if len(value) > chars:
            _record(cuts, path, _Cut("characters", len(value), chars, exact))
            return value[:chars] + "…"
        return value
    if isinstance(value, list):
        if len(value) > items:
            _record(cuts, path, _Cut("items", len(value), items, exact))
        inner = f"{path}[]"
        return [_shrink(v, items, chars, keys, inner, False, cuts) for v in value[:items]]
    if isinstance(value, dict):
        if len(value) > keys:
            _record(cuts, path, _Cut("keys", len(value), keys, exact))
        return {
            k: _shrink(v, items, chars, keys, f"{path}.{k}" if path else str(k), exact, cuts)
            for k, v in list(value.items())[:keys]
        }
    return value


def _record(cuts: dict[str, _Cut], path: str, cut: _Cut) -> None:
    known = cuts.get(path)
    if known is None or cut.total > known.total:
        cuts[path] = cut


def _longest_list(value: Any) -> int:
    """The most items any list in `value` holds (the items searched over for the view)."""
    if isinstance(value, list):
        return max([len(value), *(_longest_list(v) for v in value[:50])])
    if isinstance(value, dict):
        return max([0, *(_longest_list(v) for v in list(value.values())[:200])])
    return 0


def _most_that_fit(upper: int, render: Callable[[int], str], fit: int) -> int:
    """The largest n in [0, upper] whose `render(n)` fits (render grows with n)."""
    # Galloping first: each try renders about n items, so the cost follows what fits, not `upper`.
    low, high = 0, 1
    while high <= upper and token_bound(render(high)) <= fit:
        low, high = high, high * 2
    high = min(high - 1, upper)
    while low < high:
        middle = (low + high + 1) // 2
        if token_bound(render(middle)) <= fit:
            low = middle
        else:
            high = middle - 1
    return low


def _most_items(fit: int) -> int:
    """More items than could fit in `fit` tokens (each takes two bytes at least: `0,`)."""
    return max(1, fit * BYTES_PER_TOKEN // 2)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _at(kept: KeptResult, path: str) -> Any:
    if kept.value is None:
        raise ToolError(f"{kept.handle} is text, not JSON: read it by offset without a path")
    value: Any = kept.value
    walked: list[str] = []
    for part in path.split(".") if path else ():
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and re.fullmatch(r"\d+", part) and int(part) < len(value):
            value = value[int(part)]
        else:
            here = ".".join(walked) or "the top"
            if isinstance(value, dict):
                known = ", ".join(repr(k) for k in list(value)[:20])
                hint = f"its keys are {known}" + (" …" if len(value) > 20 else "")
            elif isinstance(value, list):
                hint = f"it is a list of {len(value):,} items (0 to {len(value) - 1})"
            else:
                hint = "it holds a single value"
            raise ToolError(f"{kept.handle} has no {part!r} at {here}: {hint}")
        walked.append(part)
    return value


# -- notes -----------------------------------------------------------------------------------


def _call(kept: KeptResult, path: str, offset: int) -> str:
    where = f', path="{path}"' if path else ""
    return f'{READ_RESULT}(handle="{kept.handle}"{where}, offset={offset})'


def _where(kept: KeptResult, path: str) -> str:
    return f'{kept.handle} at "{path}"' if path else kept.handle


def _note(kept: KeptResult, lines: list[str]) -> str:
    size = f"{len(kept.text):,} characters"
    return "\n".join([f'[{OFFLOAD_LABEL} "{kept.handle}" ({kept.tool}, {size}).', *lines]) + "]"


def _text_read_more(kept: KeptResult, shown: int) -> list[str]:
    return [f"Shown: the first {shown:,} characters. Read on with {_call(kept, '', shown)}."]


def _cut_lines(kept: KeptResult, cuts: dict[str, _Cut]) -> list[str]:
    lines = []
    for path, cut in cuts.items():
        label = f'"{path}"' if path else "The result"
        if cut.kind == "keys":
            lines.append(
                f"{label}: {cut.total:,} keys, the first {cut.shown} shown; read it whole as "
                f"text with {_call(kept, path, 0)}."
            )
        elif cut.exact:
            lines.append(
                f"{label}: {cut.total:,} {cut.kind}, the first {cut.shown:,} shown; read on "
                f"with {_call(kept, path, cut.shown)}."
            )
        else:
            example = path.replace("[]", ".0", 1).replace("[]", ".0")
            lines.append(
                f"{label}: up to {cut.total:,} {cut.kind} each, cut to {cut.shown:,}; read one "
                f'with path="{example}" (item numbers in place of [], from 0).'
            )
    if len(lines) > _MAX_NOTE_LINES:
        lines = [*lines[:_MAX_NOTE_LINES], f"…and {len(lines) - _MAX_NOTE_LINES} more cut places."]
    return lines or ["Shown whole."]


def _longest_read_note(kept: KeptResult, path: str, unit: str, start: int, total: int) -> str:
    """A note at least as long as any `_read_note` of a read from `start` (for the reckoning)."""
    return _read_note(kept, path, unit, start, total, total) + _call(kept, path, total)


def _read_note(kept: KeptResult, path: str, unit: str, start: int, end: int, total: int) -> str:
    what = f"{_where(kept, path)} ({kept.tool})"
    shown = f"{unit} {start:,} to {end:,} of {total:,}" if end > start else f"no {unit}"
    more = f"Read on with {_call(kept, path, end)}." if end < total else "That is the end of it."
    return f"[{what}: {shown}. {more}]"
