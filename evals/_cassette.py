"""Cassettes: every model call and tool call of a run, recorded at the seams and replayed offline.

A cassette maps a request *fingerprint* to what came back. Model requests are fingerprinted on
(tier or model, normalised messages, tool schemas, response schema); tool calls on (tool name,
validated arguments). The same request asked twice (a retry) gets the recorded answers in
order. Secrets are redacted before anything is written, and fingerprints are taken of the
redacted request, so replays match whatever keys the recording machine had.

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
    ErrorCode,
    ModelBackend,
    ModelError,
    ModelRequest,
    ModelResponse,
    PodiumError,
    ToolCall,
    UnexpectedModelBehavior,
)
from podium.runtime import Usage as RunUsage
from podium.tools import JSONValue, Tool, ToolContext, ToolError

CASSETTE_VERSION = 1
CassetteMode = Literal["record", "replay", "replay-or-record"]
CASSETTE_MODES: tuple[CassetteMode, ...] = get_args(CassetteMode)
ReplaySpeed = Literal["full", "recorded"]
CassetteSource = Literal["recorded", "scripted", "hand-written"]


class CassetteError(PodiumError):
    """A cassette file that cannot be used: missing, corrupt, or from another format version."""

    code = ErrorCode.CASSETTE


class CassetteMiss(ModelError):
    """Strict replay met a request that the cassette has no (more) recordings of."""

    code = ErrorCode.REPLAY_MISS


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


class CassetteFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    podium_cassette: int
    source: CassetteSource = "recorded"
    """recorded: from live models; scripted: from Podium's scripted doubles; hand-written."""
    note: str = ""
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
    ) -> None:
        self.entries: list[Entry] = list(entries or [])
        self.source: CassetteSource = source
        self.note = note
        self.redactor = redactor or Redactor()
        self._cursor: dict[str, int] = defaultdict(int)
        self._by_fingerprint: dict[tuple[str, str], list[Entry]] = defaultdict(list)
        for entry in self.entries:
            self._by_fingerprint[entry.kind, entry.fingerprint].append(entry)
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
        return cls(data.entries, source=data.source, note=data.note, redactor=redactor)

    def save(self, path: Path) -> None:
        data = CassetteFile(
            podium_cassette=CASSETTE_VERSION,
            source=self.source,
            note=self.note,
            entries=self.entries,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(data.model_dump_json(indent=1, exclude_defaults=False) + "\n", "utf-8")
        tmp.replace(path)

    def fresh(self) -> Cassette:
        """The same recordings with new cursors: one per trial or concurrent run."""
        return Cassette(self.entries, source=self.source, note=self.note, redactor=self.redactor)

    # -- lookup ------------------------------------------------------------------------

    def take(self, kind: Literal["model", "tool"], fingerprint: str) -> Entry | None:
        """The next unused recording of this request, or None."""
        matches = self._by_fingerprint[kind, fingerprint]
        index = self._cursor[fingerprint]
        if index >= len(matches):
            return None
        self._cursor[fingerprint] += 1
        return matches[index]

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        self._by_fingerprint[entry.kind, entry.fingerprint].append(entry)
        self._cursor[entry.fingerprint] += 1  # a request recorded now is also one served

    def miss_message(self, kind: Literal["model", "tool"], request: Mapping[str, Any]) -> str:
        fingerprint = fingerprint_of(request)
        recorded = sum(1 for e in self.entries if e.fingerprint == fingerprint)
        label = _label(kind, request)
        if recorded:
            return (
                f"replay miss: {label} was recorded {recorded} time(s) and asked once more; "
                "the run now makes more calls than when it was recorded: re-record the cassette "
                "(`--mode record`) or use `--mode replay-or-record`"
            )
        neighbour = self._nearest(kind, request)
        hint = (
            f"; nearest recorded {kind} call: {_label(kind, neighbour.request)}, which differs at: "
            f"{_first_difference(neighbour.request, request)}"
            if neighbour is not None
            else f"; the cassette has no {kind} calls"
        )
        return (
            f"replay miss: no recording of {label} (fingerprint {fingerprint[:12]}){hint}. "
            "If the change is intended, re-record with `--mode record` or `--mode replay-or-record`"
        )

    def _nearest(self, kind: str, request: Mapping[str, Any]) -> Entry | None:
        wanted = _canonical(_fingerprinted(request))
        candidates = [e for e in self.entries if e.kind == kind]
        if not candidates:
            return None
        return max(
            candidates,
            key=lambda e: difflib.SequenceMatcher(
                None, _canonical(_fingerprinted(e.request)), wanted, autojunk=False
            ).quick_ratio(),
        )


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

    async def complete(self, request: ModelRequest) -> ModelResponse:
        normal = self.cassette.redactor.redact_data(normalise_model_request(request))
        fingerprint = fingerprint_of(normal)
        if self.mode != "record":
            async with self.cassette._lock:
                entry = self.cassette.take("model", fingerprint)
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
        if self.mode != "record":
            async with self.cassette._lock:
                entry = self.cassette.take("tool", fingerprint)
            if entry is not None:
                self.cassette.served.append((entry, None))
                if self.speed == "recorded":
                    await asyncio.sleep(entry.latency_s)
                if "error" in entry.response:
                    raise ToolError(str(entry.response["error"]))
                result: JSONValue = entry.response.get("result")
                return result
            if self.mode == "replay":
                message = self.cassette.miss_message("tool", normal)
                self.cassette.misses.append(message)
                # A tool the run may not execute: the miss reaches the model as a failed call
                # and the runner reports it; the run itself goes on and shows what follows.
                raise ToolError(message)
        labelled = {**normal, "task_id": ctx.task_id or None}
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


def _fingerprinted(request: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in request.items() if k not in _LABELS}


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def fingerprint_of(request: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a normalised request, labels excluded."""
    return hashlib.sha256(_canonical(_fingerprinted(request)).encode()).hexdigest()


def _label(kind: str, request: Mapping[str, Any]) -> str:
    if kind == "tool":
        return f"tool call {request.get('tool')}({_canonical(request.get('arguments'))[:120]})"
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
    )
