"""Cassettes: every model call and tool call of a run, recorded at the seams and replayed offline.

A cassette maps a request *fingerprint* to what came back. Model requests are fingerprinted on
(tier or model, normalised messages, tool schemas, response schema); tool calls on (tool name,
validated arguments). The same request asked twice (a retry) gets the recorded answers in
order. Secrets are redacted before anything is written, and fingerprints are taken of the
redacted request, so replays match whatever keys the recording machine had.

A cassette is checked when it is built: every entry's stored request is fingerprinted again and
must give the fingerprint it claims, so an edited or forged entry is an error naming its index,
never a silent answer to another call. A recording is served only to the call it was made for:
its fingerprint *and* its labels (task, purpose, agent) must match, and recordings of one call
are served in the order they were made (`repeat`), wherever they sit in the file.

Modes: `record` (live: the real backend and tools run, everything is written), `replay`
(strict: nothing live; a request with no recording is an error that names the request and its
nearest recorded neighbour), `replay-or-record` (replay what is there, record what is not).
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from podium.policies import Redactor
from podium.runtime import (
    AssistantMessage,
    ModelBackend,
    ModelError,
    ModelRequest,
    ModelResponse,
    PodiumError,
    Tier,
    ToolCall,
    UnexpectedModelBehavior,
    Usage as RunUsage,
    serving_window,
)
from podium.tools import JSONValue, Tool, ToolContext, ToolError

from ._errors import EvalErrorCode

CASSETTE_VERSION = 1
CassetteMode = Literal["record", "replay", "replay-or-record"]
CASSETTE_MODES: tuple[CassetteMode, ...] = get_args(CassetteMode)
ReplaySpeed = Literal["full", "recorded"]
CassetteSource = Literal["recorded", "scripted", "hand-written"]


class CassetteError(PodiumError):
    """A cassette file that cannot be used: missing, corrupt, or from another format version."""

    code = EvalErrorCode.CASSETTE


class CassetteMiss(ModelError):
    """Strict replay met a request that the cassette has no (more) recordings of."""

    code = EvalErrorCode.REPLAY_MISS


class Entry(BaseModel):
    """One recorded call: what was asked, what came back, what it cost and how long it took."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["model", "tool"]
    fingerprint: str
    request: dict[str, Any]
    """The normalised, redacted request (what the fingerprint is taken of), plus labels."""
    response: dict[str, Any]
    """model: {content, tool_calls, model} or {error, error_type}; tool: {result} or {error}."""
    usage: RunUsage = Field(default_factory=RunUsage)
    latency_s: float = 0.0
    repeat: int | None = Field(default=None, ge=0)
    """0 for the first recording of this call (same kind, fingerprint and labels), 1 for the
    first time it was asked again (a retry), ... None in cassettes written before this field:
    there the file order of a call's recordings is taken as the order they were made."""


class CassetteFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    podium_cassette: int
    source: CassetteSource = "recorded"
    """recorded: from live models; scripted: from Podium's scripted doubles; hand-written."""
    note: str = ""
    windows: dict[str, int] = {}
    """The context window the live backend served each tier with when recording. Prompts are
    sized to it (tool results past a bound go in as views), so a replay sizes them the same and
    asks for what was recorded. Absent in cassettes recorded before it: no window was known."""
    entries: list[Entry] = []


class Cassette:
    """The recordings of one scenario, with replay cursors. Not shared between concurrent runs."""

    def __init__(
        self,
        entries: list[Entry] | None = None,
        *,
        source: CassetteSource = "recorded",
        note: str = "",
        redactor: Redactor | None = None,
        origin: str = "cassette",
        windows: Mapping[str, int] | None = None,
    ) -> None:
        self.entries: list[Entry] = list(entries or [])
        self.windows: dict[str, int] = dict(windows or {})
        """Context windows by tier, as recorded (see `CassetteFile.windows`)."""
        self.source: CassetteSource = source
        self.note = note
        self.redactor = redactor or Redactor()
        problems = check_entries(self.entries)
        if problems:
            more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
            raise CassetteError(
                f"{origin}: {'; '.join(problems[:3])}{more}. Re-record it (`--mode record`) "
                "or restore the entries from version control"
            )
        _number_repeats(self.entries)
        self._position = {id(e): n for n, e in enumerate(self.entries)}
        # The replay cursors, by (kind, fingerprint): a call takes the first unused recording
        # made for it (same labels), in the order its recordings were made.
        self._by_fingerprint: dict[tuple[str, str], list[Entry]] = defaultdict(list)
        for entry in sorted(self.entries, key=lambda e: e.repeat or 0):
            self._by_fingerprint[entry.kind, entry.fingerprint].append(entry)
        self._used: set[int] = set()
        self.served: list[tuple[Entry, ModelRequest | None]] = []
        """Entries used by this run, in the order they were served or recorded."""
        self.misses: list[str] = []
        self._lock = asyncio.Lock()

    # -- files -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, *, redactor: Redactor | None = None) -> Cassette:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CassetteError(
                f"cassette {path} does not exist: record it with `podium eval run --mode record` "
                "or `podium eval record`"
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CassetteError(
                f"cassette {path} is corrupt ({exc}); re-record it with `--mode record`"
            ) from None
        version = raw.get("podium_cassette") if isinstance(raw, dict) else None
        if version != CASSETTE_VERSION:
            raise CassetteError(
                f"cassette {path} has format version {version!r}, this Podium reads version "
                f"{CASSETTE_VERSION}: re-record it with `--mode record`"
            )
        try:
            data = CassetteFile.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise CassetteError(
                f"cassette {path} is corrupt at {where}: {first['msg']}; re-record it"
            ) from None
        return cls(
            data.entries,
            source=data.source,
            note=data.note,
            redactor=redactor,
            origin=f"cassette {path}",
            windows=data.windows,
        )

    def save(self, path: Path) -> None:
        data = CassetteFile(
            podium_cassette=CASSETTE_VERSION,
            source=self.source,
            note=self.note,
            windows=self.windows,
            entries=self.entries,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(data.model_dump_json(indent=1, exclude_defaults=False) + "\n", "utf-8")
        tmp.replace(path)

    def fresh(self) -> Cassette:
        """The same recordings with new cursors: one per trial or concurrent run."""
        return Cassette(
            self.entries,
            source=self.source,
            note=self.note,
            redactor=self.redactor,
            windows=self.windows,
        )

    # -- lookup ------------------------------------------------------------------------

    def take(self, kind: Literal["model", "tool"], request: Mapping[str, Any]) -> Entry | None:
        """The next unused recording made for this call (fingerprint and labels), or None."""
        for entry in self._by_fingerprint[kind, fingerprint_of(request)]:
            if id(entry) not in self._used and _made_for(entry, request):
                self._used.add(id(entry))
                return entry
        return None

    def add(self, entry: Entry) -> None:
        if entry.repeat is None:
            earlier = [
                e.repeat or 0
                for e in self._by_fingerprint[entry.kind, entry.fingerprint]
                if _labels(e.request) == _labels(entry.request)
            ]
            entry.repeat = max(earlier) + 1 if earlier else 0
        self._position[id(entry)] = len(self.entries)
        self.entries.append(entry)
        self._by_fingerprint[entry.kind, entry.fingerprint].append(entry)
        self._used.add(id(entry))  # a request recorded now is also one served

    def miss_message(self, kind: Literal["model", "tool"], request: Mapping[str, Any]) -> str:
        fingerprint = fingerprint_of(request)
        label = _label(kind, request)
        same = self._by_fingerprint[kind, fingerprint]
        mine = [e for e in same if _made_for(e, request)]
        if mine:
            return (
                f"replay miss: {label} was recorded {len(mine)} time(s) and asked once more; "
                "the run now makes more calls than when it was recorded: re-record the cassette "
                "(`--mode record`) or use `--mode replay-or-record`"
            )
        if same:
            other = same[0]
            return (
                f"replay miss: {label} was recorded only for another call, "
                f"{self._where(other)} {_label(kind, other.request)}; a recording is served only "
                "to the call it was made for (same task, purpose and agent). If the change is "
                "intended, re-record with `--mode record` or `--mode replay-or-record`"
            )
        neighbour = self._nearest(kind, request)
        hint = (
            f"; nearest recorded {kind} call: {self._where(neighbour)} "
            f"{_label(kind, neighbour.request)} ({self._state(neighbour)}), which differs at: "
            f"{_first_difference(neighbour.request, request)}{self._divergence(neighbour, request)}"
            if neighbour is not None
            else f"; the cassette has no {kind} calls"
        )
        return (
            f"replay miss: no recording of {label} (fingerprint {fingerprint[:12]}){hint}. "
            "If the change is intended, re-record with `--mode record` or `--mode replay-or-record`"
        )

    def _where(self, entry: Entry) -> str:
        return f"entries[{self._position[id(entry)]}]"

    def _state(self, entry: Entry) -> str:
        return "already served" if id(entry) in self._used else "not served yet"

    def _nearest(self, kind: str, request: Mapping[str, Any]) -> Entry | None:
        """The closest recording, preferring those made for the same call (task, purpose,
        agent): a call whose conversation drifted is best explained by its own recordings."""
        wanted = _canonical(_fingerprinted(request))
        candidates = [e for e in self.entries if e.kind == kind]
        if not candidates:
            return None
        return max(
            candidates,
            key=lambda e: (
                _made_for(e, request),
                difflib.SequenceMatcher(
                    None, _canonical(_fingerprinted(e.request)), wanted, autojunk=False
                ).quick_ratio(),
            ),
        )

    def _divergence(self, recorded: Entry, request: Mapping[str, Any]) -> str:
        """When the two conversations part at a model reply, where each reply came from.

        A reply in a conversation was served from this cassette: if the asked conversation
        holds a reply the recording did not, an earlier call got another recording than when
        it was made (entries moved or reordered), which is the cause, not the later difference.
        """
        old, new = recorded.request.get("messages"), request.get("messages")
        if not isinstance(old, list) or not isinstance(new, list):
            return ""
        k = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), None)
        if k is None or not isinstance(new[k], dict) or new[k].get("role") != "assistant":
            return ""
        given = self._reply_source(new[k])
        expected = self._reply_source(old[k])
        if given is None:
            return ""
        return (
            f"; the conversations part at messages[{k}], a reply this replay served from "
            f"{self._where(given)} ({_label('model', given.request)})"
            + (f" where the recording had the reply of {self._where(expected)}" if expected else "")
            + ": an earlier call was answered with another recording than when it was made"
        )

    def _reply_source(self, message: Mapping[str, Any]) -> Entry | None:
        """The recording whose reply this message is: one served in this replay first."""
        served = [e for e, _ in self.served]
        wanted = _reply_key(message)
        return next((e for e in served + self.entries if _reply_of(e) == wanted), None)


# -- the model seam ----------------------------------------------------------------------


class CassetteModel:
    """A ModelBackend that records, replays, or both, in front of a live backend."""

    def __init__(
        self,
        cassette: Cassette,
        mode: CassetteMode,
        live: ModelBackend | None = None,
        *,
        speed: ReplaySpeed = "full",
    ) -> None:
        if mode != "replay" and live is None:
            raise ValueError(f"cassette mode {mode!r} needs a live model backend to record from")
        self.cassette = cassette
        self.mode: CassetteMode = mode
        self.live = live
        self.speed: ReplaySpeed = speed
        self._had_model_calls = any(e.kind == "model" for e in cassette.entries)

    def window(self, tier: Tier) -> int | None:
        """The context window `tier` is served with: the live backend's when recording (kept in
        the cassette), the recorded one when replaying, so a replay sizes prompts as the
        recording did. A cassette recorded without one (before windows were kept, or from a
        backend that knew none) is replayed without one (None), and recorded on so."""
        recorded = tier in self.cassette.windows or self._had_model_calls
        if self.mode == "replay" or (self.mode == "replay-or-record" and recorded):
            return self.cassette.windows.get(tier)
        assert self.live is not None
        window = serving_window(self.live, tier)
        if window is not None:
            self.cassette.windows[tier] = window
        return window

    async def complete(self, request: ModelRequest) -> ModelResponse:
        normal = self.cassette.redactor.redact_data(normalise_model_request(request))
        fingerprint = fingerprint_of(normal)
        if self.mode != "record":
            async with self.cassette._lock:
                entry = self.cassette.take("model", normal)
            if entry is not None:
                self.cassette.served.append((entry, request))
                if self.speed == "recorded":
                    await asyncio.sleep(entry.latency_s)
                return _response_of(entry)
            if self.mode == "replay":
                message = self.cassette.miss_message("model", normal)
                self.cassette.misses.append(message)
                raise CassetteMiss(message)
        return await self._record(request, normal, fingerprint)

    async def _record(
        self, request: ModelRequest, normal: dict[str, Any], fingerprint: str
    ) -> ModelResponse:
        assert self.live is not None
        started = time.perf_counter()
        redact = self.cassette.redactor.redact_data
        try:
            response = await self.live.complete(request)
        except ModelError as exc:
            entry = Entry(
                kind="model",
                fingerprint=fingerprint,
                request=normal,
                response={"error": redact(exc.message), "error_type": type(exc).__name__},
                latency_s=round(time.perf_counter() - started, 4),
            )
            self._keep(entry, request)
            raise
        entry = Entry(
            kind="model",
            fingerprint=fingerprint,
            request=normal,
            response=redact(
                {
                    "content": response.message.content,
                    "tool_calls": [c.model_dump() for c in response.message.tool_calls],
                    "model": response.model,
                    **({"cut": True} if response.cut else {}),
                }
            ),
            usage=response.usage if response.usage.calls else response.usage + RunUsage(calls=1),
            latency_s=round(response.latency_s or time.perf_counter() - started, 4),
        )
        self._keep(entry, request)
        return response

    def _keep(self, entry: Entry, request: ModelRequest) -> None:
        self.cassette.add(entry)
        self.cassette.served.append((entry, request))

    # -- the tool seam -------------------------------------------------------------------

    def wrap_tool(self, tool: Tool) -> Tool:
        """The same tool, with its calls recorded or replayed through this cassette.

        Tools that touch only Podium's own state (`external=False`: shared memory) are left
        as they are: a replay runs them, so memory holds in a replay what it held live."""
        if not tool.external:
            return tool

        async def call(args: BaseModel, ctx: ToolContext) -> JSONValue:
            return await self._tool_call(tool, args, ctx)

        return dataclasses.replace(tool, fn=call)

    async def _tool_call(self, tool: Tool, args: BaseModel, ctx: ToolContext) -> JSONValue:
        redact = self.cassette.redactor.redact_data
        normal: dict[str, Any] = redact(
            {"tool": tool.name, "arguments": args.model_dump(mode="json")}
        )
        fingerprint = fingerprint_of(normal)
        labelled = {**normal, "task_id": ctx.task_id or None}
        if self.mode != "record":
            async with self.cassette._lock:
                entry = self.cassette.take("tool", labelled)
            if entry is not None:
                self.cassette.served.append((entry, None))
                if self.speed == "recorded":
                    await asyncio.sleep(entry.latency_s)
                if "error" in entry.response:
                    raise ToolError(str(entry.response["error"]))
                result: JSONValue = entry.response.get("result")
                return result
            if self.mode == "replay":
                message = self.cassette.miss_message("tool", labelled)
                self.cassette.misses.append(message)
                # A tool the run may not execute: the miss reaches the model as a failed call
                # and the runner reports it; the run itself goes on and shows what follows.
                raise ToolError(message)
        started = time.perf_counter()
        try:
            value = await tool.fn(args, ctx)
        except ToolError as exc:
            self._keep_tool(fingerprint, labelled, {"error": redact(str(exc))}, started)
            raise
        self._keep_tool(fingerprint, labelled, {"result": redact(value)}, started)
        return value

    def _keep_tool(
        self, fingerprint: str, request: dict[str, Any], response: dict[str, Any], started: float
    ) -> None:
        entry = Entry(
            kind="tool",
            fingerprint=fingerprint,
            request=request,
            response=response,
            latency_s=round(time.perf_counter() - started, 4),
        )
        self.cassette.add(entry)
        self.cassette.served.append((entry, None))


# -- normalisation and fingerprints ----------------------------------------------------

_LABELS = ("purpose", "task_id", "agent")
"""Request fields stored for people and for miss messages, but not part of the fingerprint."""


def normalise_model_request(request: ModelRequest) -> dict[str, Any]:
    return {
        "target": request.model or request.tier,
        "messages": [_normalise_message(m) for m in request.messages],
        "tools": [_tool_signature(t) for t in request.tools],
        "response_schema": request.response_schema,
        "purpose": request.purpose,
        "task_id": request.task_id,
        "agent": request.agent,
    }


def _normalise_message(message: Mapping[str, Any]) -> dict[str, Any]:
    # Whitespace is collapsed and call ids dropped: neither changes what the model was asked.
    out: dict[str, Any] = {"role": message.get("role")}
    content = message.get("content")
    out["content"] = " ".join(content.split()) if isinstance(content, str) else content
    calls = message.get("tool_calls") or []
    if calls:
        out["tool_calls"] = [
            {
                "name": c.get("function", {}).get("name"),
                "arguments": _canonical_arguments(c.get("function", {}).get("arguments")),
            }
            for c in calls
        ]
    return out


def _canonical_arguments(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except json.JSONDecodeError:
            return arguments
    return arguments


def _tool_signature(schema: Mapping[str, Any]) -> dict[str, Any]:
    function = schema.get("function", {})
    return {"name": function.get("name"), "parameters": function.get("parameters")}


_FINGERPRINTED: dict[str, frozenset[str]] = {
    "model": frozenset({"target", "messages", "tools", "response_schema"}),
    "tool": frozenset({"tool", "arguments"}),
}
"""What a request of each kind is fingerprinted on (`normalise_model_request`, `_tool_call`)."""


def _labels(request: Mapping[str, Any]) -> dict[str, Any]:
    return {k: request[k] for k in _LABELS if k in request}


def _made_for(entry: Entry, request: Mapping[str, Any]) -> bool:
    """Whether `entry` was recorded for this call: every label it stores names the call.

    A label the entry does not store (a hand-written entry) matches any call."""
    return all(request.get(k) == v for k, v in _labels(entry.request).items())


def check_entries(entries: list[Entry]) -> list[str]:
    """Every way the entries contradict themselves, one line each (empty when they do not).

    The fingerprint is a hash of the request, not a signature: it catches an entry whose
    request or fingerprint was edited, copied or forged without the other, which is what keeps
    a replay from answering one call with another's recording. Someone who rewrites both is
    rewriting the recording, which review of the file (it is text) is for.
    """
    problems: list[str] = []
    claimed: dict[str, int] = {}
    for n, e in enumerate(entries):
        claimed.setdefault(fingerprint_of(e.request), n)
    for n, entry in enumerate(entries):
        fields = set(_fingerprinted(entry.request))
        wanted = _FINGERPRINTED[entry.kind]
        if fields != wanted:
            problems.append(
                f"entries[{n}] is a {entry.kind} entry but its request has "
                f"{', '.join(sorted(fields)) or 'no fields'} (a {entry.kind} request has "
                f"{', '.join(sorted(wanted))})"
            )
            continue
        actual = fingerprint_of(entry.request)
        if actual == entry.fingerprint:
            continue
        what = f"entries[{n}] ({_label(entry.kind, entry.request)})"
        owner = claimed.get(entry.fingerprint)
        if owner is not None:
            problems.append(
                f"{what} claims the fingerprint of entries[{owner}] "
                f"({_label(entries[owner].kind, entries[owner].request)}), but its request "
                f"differs at {_first_difference(entries[owner].request, entry.request)}"
            )
        else:
            problems.append(
                f"{what} claims fingerprint {entry.fingerprint[:12]} but its request gives "
                f"{actual[:12]}: the request or the fingerprint was edited after recording"
            )
    return problems + _repeat_problems(entries)


def _call_key(entry: Entry) -> tuple[str, str, str]:
    return entry.kind, entry.fingerprint, _canonical(_labels(entry.request))


def _repeat_problems(entries: list[Entry]) -> list[str]:
    problems: list[str] = []
    calls: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for n, entry in enumerate(entries):
        calls[_call_key(entry)].append(n)
    for positions in calls.values():
        numbered = [n for n in positions if entries[n].repeat is not None]
        label = _label(entries[positions[0]].kind, entries[positions[0]].request)
        if numbered and len(numbered) != len(positions):
            missing = ", ".join(f"entries[{n}]" for n in positions if n not in numbered)
            problems.append(
                f"{missing} of {label} has no `repeat` while its other recordings do: "
                "number every recording of the call (0 first), or none"
            )
        seen: dict[int, int] = {}
        for n in numbered:
            repeat = entries[n].repeat
            assert repeat is not None
            if repeat in seen:
                problems.append(
                    f"entries[{seen[repeat]}] and entries[{n}] are both recording {repeat} of "
                    f"{label}: one of them is a copy"
                )
            seen[repeat] = n
    return problems


def _number_repeats(entries: list[Entry]) -> None:
    """Number the recordings of each call that carry no `repeat` (older cassettes) in file order,
    which is the order they were written in; saving the cassette then keeps the numbers."""
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for entry in entries:
        key = _call_key(entry)
        if entry.repeat is None:
            entry.repeat = counts[key]
        counts[key] = max(counts[key], entry.repeat + 1)


def _reply_key(message: Mapping[str, Any]) -> tuple[str, str]:
    """A normalised assistant message, as the reply it carries."""
    content = message.get("content")
    text = " ".join(content.split()) if isinstance(content, str) else ""
    return text, _canonical(message.get("tool_calls") or [])


def _reply_of(entry: Entry) -> tuple[str, str] | None:
    if entry.kind != "model" or "error" in entry.response:
        return None
    calls = entry.response.get("tool_calls") or []
    message = {
        "role": "assistant",
        "content": entry.response.get("content"),
        "tool_calls": [{"function": c} for c in calls if isinstance(c, dict)],
    }
    return _reply_key(_normalise_message(message))


def _fingerprinted(request: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in request.items() if k not in _LABELS}


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def fingerprint_of(request: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a normalised request, labels excluded."""
    return hashlib.sha256(_canonical(_fingerprinted(request)).encode()).hexdigest()


def _label(kind: str, request: Mapping[str, Any]) -> str:
    if kind == "tool":
        task = f" for task {request['task_id']}" if request.get("task_id") else ""
        return (
            f"tool call {request.get('tool')}({_canonical(request.get('arguments'))[:120]}){task}"
        )
    parts = [f"{k}={request[k]}" for k in _LABELS if request.get(k)]
    return f"model call to {request.get('target')} ({', '.join(parts) or 'unlabelled'})"


def _first_difference(recorded: Mapping[str, Any], asked: Mapping[str, Any]) -> str:
    """Where two requests part ways, as a path and the two values, briefly."""
    path, a, b = _diff(_fingerprinted(recorded), _fingerprinted(asked), "")
    return f"{path or '(top)'}: recorded {_short(a)} vs asked {_short(b)}"


def _diff(a: Any, b: Any, path: str) -> tuple[str, Any, Any]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _diff(a.get(key), b.get(key), f"{path}.{key}" if path else key)
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                return _diff(x, y, f"{path}[{i}]")
        if len(a) != len(b):
            return f"{path} (length)", len(a), len(b)
    if isinstance(a, str) and isinstance(b, str) and a != b:
        i = next(
            (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
        )
        return (
            f"{path} (from character {i})",
            a[max(0, i - 20) : i + 40],
            b[max(0, i - 20) : i + 40],
        )
    return path, a, b


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else _canonical(value)
    return repr(text[:80] + ("…" if len(text) > 80 else ""))


_REPLAYABLE_ERRORS: dict[str, type[ModelError]] = {
    "ModelError": ModelError,
    "UnexpectedModelBehavior": UnexpectedModelBehavior,
}


def _response_of(entry: Entry) -> ModelResponse:
    if "error" in entry.response:
        # The same class and message as recorded: the text reaches later prompts (re-plans),
        # which must match their recordings too.
        kind = _REPLAYABLE_ERRORS.get(str(entry.response.get("error_type")), ModelError)
        raise kind(str(entry.response["error"]))
    calls = tuple(ToolCall.model_validate(c) for c in entry.response.get("tool_calls") or [])
    return ModelResponse(
        message=AssistantMessage(content=entry.response.get("content"), tool_calls=calls),
        usage=entry.usage,
        latency_s=entry.latency_s,
        model=str(entry.response.get("model") or ""),
        cut=bool(entry.response.get("cut")),
    )
