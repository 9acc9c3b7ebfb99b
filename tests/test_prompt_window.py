"""Prompts stay within the model's window as a whole, not one tool message at a time.

An embedded-like model (a 4096-token window, prompts fitted by `_local_model._fit`) is given a
large result and reads on by handle: every prompt it gets keeps the task's instruction and fits.
`_fit` never drops the system prompt or the instruction, over generated conversations. A
recording cassette reports its live backend's window and keeps it, so a replay builds the same
prompts. A `read_result` is read once, and what the policy observes is what the prompt got.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from podium.agents import AgentSpec, Review, ToolUse, run_agent
from podium.evals._cassette import Cassette, CassetteModel
from podium.policies import Verdict
from podium.runtime import (
    AssistantMessage,
    ModelRequest,
    Podium,
    PodiumConfig,
    ToolCall,
    serving_window,
)
from podium.runtime.models._local_model import CONTEXT_TOKENS, MAX_TOKENS, _fit
from podium.runtime.models._model import LiteLLMBackend, prompt_room
from podium.runtime.testing import FunctionModel
from podium.tools import (
    OFFLOAD_LABEL,
    READ_RESULT,
    JSONValue,
    ResultStore,
    Tool,
    ToolContext,
    message_tokens,
    prompt_tokens,
    token_bound,
    tool,
)

ROOM = CONTEXT_TOKENS - MAX_TOKENS
"""What the embedded model's prompt may take (its `_fit` keeps `MAX_TOKENS` for the reply)."""
TEMPLATE_TOKENS = 5
"""SmolLM2's chat template around one message: `<|im_start|>`, the role, `\n`, `<|im_end|>`, `\n`."""


def _received(fitted: list[dict[str, Any]]) -> int:
    """The tokens of a prompt as the embedded model gets it (its text by the shared estimate,
    the template's markers, and the `<|im_start|>assistant\n` its reply starts with)."""
    return sum(token_bound(m["content"]) + TEMPLATE_TOKENS for m in fitted) + 3


_READ_ON = re.compile(r'read_result\(handle="(result-\d+)"(?:, path="([^"]*)")?, offset=(\d+)\)')


# -- payloads and instructions ---------------------------------------------------------------


def _text(size: int, rng: random.Random) -> str:
    words = ["renewal", "lead", "Quarter", "pipeline", "Northwind", "INVOICE", "due", "März"]
    out, total = [], 0
    while total < size:
        out.append(rng.choice(words) + ("\n" if rng.random() < 0.1 else ""))
        total += len(out[-1]) + 1
    return " ".join(out)[:size]


def _json_list(size: int, rng: random.Random) -> str:
    rows = [
        {"id": n, "name": f"lead {rng.randint(0, 9999)}", "notes": "x" * rng.randint(0, 80)}
        for n in range(size // 60)
    ]
    return json.dumps(rows)


def _non_ascii(size: int, rng: random.Random) -> str:
    parts = ["日本語のテキスト", "Größe", "naïve café", "😀🚀", "Ελληνικά", "中文内容"]
    out, total = [], 0
    while total < size:
        out.append(rng.choice(parts))
        total += len(out[-1]) + 1
    return " ".join(out)[:size]


SHAPES = {"text": _text, "json_list": _json_list, "non_ascii": _non_ascii}


def _instruction(kind: str, rng: random.Random) -> str:
    base = "Fetch the blob named blob and report the renewal leads it holds"
    if kind == "short":
        return base
    if kind == "shouting":
        return "  " + base.upper().replace(" ", "   ") + "  !"
    # A long one: the instruction alone takes about a fifth of the window.
    detail = " ".join(
        rng.choice(["carefully", "per region", "by quarter", "with owners"]) for _ in range(220)
    )
    return f"{base}, {detail}."


class BlobArgs(BaseModel):
    name: str


def _blob_tool(payload: str) -> Tool:
    @tool(name="fetch_blob", scopes=("read:data",))
    async def fetch_blob(args: BlobArgs, ctx: ToolContext) -> JSONValue:
        """Fetch a named blob of data from the warehouse."""
        return payload

    return fetch_blob


FETCHER = AgentSpec(
    name="fetcher",
    description="Fetches blobs and reports on them.",
    system_prompt="Fetch the blob and report what it holds.",
    tools=("fetch_blob",),
    scopes=("read:data",),
    max_steps=12,
)


def _call(name: str, arguments: dict[str, Any], n: int) -> AssistantMessage:
    return AssistantMessage(
        tool_calls=(ToolCall(id=f"c{n}", name=name, arguments=json.dumps(arguments)),)
    )


def _reader(instruction: str, reads: int) -> Any:
    """Plans one fetch task, fetches, reads on by handle `reads` times (each from where the last
    note says to read on), then answers."""

    def answer(request: ModelRequest) -> Any:
        if request.purpose in ("plan", "replan"):
            return {"tasks": [{"id": "t", "agent": "fetcher", "instruction": instruction}]}
        if request.purpose != "task":
            return "The blob was fetched and read."
        tools = [m["content"] for m in request.messages if m["role"] == "tool"]
        if not tools:
            return _call("fetch_blob", {"name": "blob"}, 0)
        if len(tools) <= reads:
            found = _READ_ON.findall(tools[-1])
            assert found, tools[-1][-400:]
            handle, path, offset = found[-1]
            args = {"handle": handle, "offset": int(offset), **({"path": path} if path else {})}
            return _call(READ_RESULT, args, len(tools))
        return "The blob holds the renewal leads."

    return answer


def _run(tmp_path: Path, payload: str, model: Any) -> Any:
    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(tmp_path / "data"), "checkpointer": "memory"},
            "tools": {"workspace": str(tmp_path)},
            "memory": {"enabled": False},
            "planner": {"playbooks": False},
        }
    )
    wrapper = model.wrap_tool if isinstance(model, CassetteModel) else None
    podium = Podium(
        config,
        model=model,
        agents=(FETCHER,),
        tools=[_blob_tool(payload)],
        **({"tool_wrapper": wrapper} if wrapper else {}),
    )
    return asyncio.run(podium.arun("Fetch the blob and report"))


def _task_requests(calls: list[ModelRequest]) -> list[ModelRequest]:
    return [r for r in calls if r.purpose == "task"]


# -- an embedded-like model: a 200 KB result read on twice ------------------------------------


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("kind", ["short", "shouting", "long"])
@pytest.mark.parametrize("size", [60_000, 200_000])
def test_reading_on_by_handle_keeps_the_instruction_in_every_prompt(
    tmp_path: Path, shape: str, kind: str, size: int
) -> None:
    rng = random.Random(f"{shape}{kind}{size}")
    instruction = _instruction(kind, rng)
    model = FunctionModel(_reader(instruction, reads=2), context_window=CONTEXT_TOKENS)
    result = _run(tmp_path, SHAPES[shape](size, rng), model)
    assert result.status == "completed", result
    requests = _task_requests(model.calls)
    reads = [r for r in requests if sum(m["role"] == "tool" for m in r.messages) >= 2]
    assert len(requests) == 4 and len(reads) == 2  # fetch, read, read, answer
    for request in requests:
        raw = [dict(m) for m in request.messages]
        fitted = _fit(raw, ROOM)  # what the embedded model would decode
        assert _received(fitted) <= ROOM
        assert fitted[0] == raw[0]  # the system prompt
        assert fitted[1] == raw[1] and instruction in fitted[1]["content"]
        # The newest turn (what the model answers) is there too, if only its head.
        newest = str(raw[-1].get("content") or "")
        assert newest[:200] in fitted[-1]["content"] or newest == fitted[-1]["content"]
    # The view and one read fit the window as they are, unless the instruction leaves less
    # than the floor (a quarter of the room) for the read: then `_fit` shortens the view.
    first_read = reads[0].messages
    if kind != "long":
        assert prompt_tokens(first_read) <= ROOM
        whole = [dict(m) for m in first_read]
        assert _fit(whole, ROOM) == _fit(whole, 10**9)  # nothing cut or dropped
    assert OFFLOAD_LABEL in first_read[3]["content"]  # the view, with how to read on


@pytest.mark.parametrize("window", [4_096, 8_192, 32_768])
def test_a_read_is_bounded_by_what_the_prompt_leaves_of_the_window(
    tmp_path: Path, window: int
) -> None:
    model = FunctionModel(_reader("Fetch the blob", reads=2), context_window=window)
    result = _run(tmp_path, _text(200_000, random.Random(window)), model)
    assert result.status == "completed"
    room = prompt_room(window)
    assert room is not None
    for request in _task_requests(model.calls):
        before = list(request.messages)
        if before[-1]["role"] != "tool":
            continue
        used = prompt_tokens(before[:-1])
        left = max(room // 4, room - used - 16)
        assert message_tokens(before[-1]) - 16 <= max(left, 256)


# -- _fit over generated conversations --------------------------------------------------------


def _conversation(rng: random.Random) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if rng.random() < 0.8:
        messages.append({"role": "system", "content": "You are an agent. " * rng.randint(1, 60)})
    messages.append({"role": "user", "content": "TASK: report the leads. " * rng.randint(1, 80)})
    for n in range(rng.randint(0, 8)):
        call = {"id": f"c{n}", "function": {"name": "read_result", "arguments": "{}"}}
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        size = rng.choice([10, 300, 3_000, 9_000, 30_000])
        body = rng.choice(["x", "日本", '{"a": 1}, ']) * (size // 3)
        messages.append({"role": "tool", "tool_call_id": f"c{n}", "content": body})
    if rng.random() < 0.3:
        messages.append({"role": "user", "content": "Your answer was not accepted: say more."})
    return messages


@pytest.mark.parametrize("seed", range(60))
@pytest.mark.parametrize("room", [1_024, ROOM, 8_000])
def test_fit_never_drops_the_system_prompt_or_the_instruction(seed: int, room: int) -> None:
    messages = _conversation(random.Random(seed))
    fitted = _fit(messages, room)
    protected = 2 if messages[0]["role"] == "system" else 1
    assert fitted[:protected] == [
        {"role": m["role"], "content": m["content"]} for m in messages[:protected]
    ]
    if len(messages) > protected:
        assert fitted[-1]["role"] == "user"  # a tool result or a re-ask: never dropped
    fixed = sum(message_tokens(m) for m in fitted[:protected])
    if fixed + 200 < room:  # what must stay leaves room for a useful last turn
        assert _received(fitted) <= room
    if prompt_tokens(_fit(messages, 10**9)) <= room:  # fits already: nothing changes
        assert fitted == _fit(messages, 10**9)


def test_fit_cuts_a_tool_result_short_before_dropping_it() -> None:
    system = {"role": "system", "content": "sys"}
    task = {"role": "user", "content": "the task"}
    call = {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}
    old = {"role": "tool", "content": "o" * 6_000}
    new = {"role": "tool", "content": "n" * 3_000}
    full = prompt_tokens([system, task, call, old, call, new])  # as `_fit` counts
    # A little over: the oldest turn (the first call) goes, nothing is cut.
    fitted = _fit([system, task, call, old, call, new], full - 5)
    assert len(fitted) == 5 and not any("cut short" in m["content"] for m in fitted)
    for over in (300, 1_000, 1_900):
        fitted = _fit([system, task, call, old, call, new], full - over)
        assert _received(fitted) <= full - over
        assert fitted[0]["content"] == "sys" and fitted[1]["content"] == "the task"
        assert fitted[-1]["content"] == f"<tool result>\n{'n' * 3_000}\n</tool result>"
        old_now = [m for m in fitted if m["content"].startswith("<tool result>\no")]
        assert old_now and "cut short" in old_now[0]["content"]  # cut, not dropped


# -- cassettes: the window is the live backend's, and kept -----------------------------------


@pytest.mark.parametrize("window", [2_048, 4_096, 8_192, 128_000, None])
def test_a_recording_cassette_reports_the_live_window(window: int | None) -> None:
    live = FunctionModel(lambda r: "ok", context_window=window)
    recorder = CassetteModel(Cassette(source="scripted"), "record", live)
    for tier in ("cheap", "frontier"):
        assert serving_window(recorder, tier) == window
    assert recorder.cassette.windows == (
        {} if window is None else {"cheap": window, "frontier": window}
    )


def test_recording_against_the_embedded_model_reports_its_window() -> None:
    """`podium run --record` wraps the Router: the embedded model's 4096 comes through."""
    config = PodiumConfig.from_mapping(
        {"models": {"cheap": "podium-local/smollm2-135m", "frontier": "podium-local/smollm2-135m"}}
    )
    recorder = CassetteModel(Cassette(), "record", LiteLLMBackend(config.models))
    assert serving_window(recorder, "cheap") == CONTEXT_TOKENS
    assert serving_window(recorder, "frontier") == CONTEXT_TOKENS


@pytest.mark.parametrize("window", [4_096, 8_192])
def test_a_replay_sizes_prompts_with_the_recorded_window(tmp_path: Path, window: int) -> None:
    payload = _text(120_000, random.Random(window))
    live = FunctionModel(_reader("Fetch the blob", reads=1), context_window=window)
    recorder = CassetteModel(Cassette(source="scripted"), "record", live)
    assert _run(tmp_path / "rec", payload, recorder).status == "completed"
    file = tmp_path / "blob.cassette.json"
    recorder.cassette.save(file)
    assert json.loads(file.read_text())["windows"] == {"cheap": window}

    replayer = CassetteModel(Cassette.load(file), "replay")
    assert serving_window(replayer, "cheap") == window
    assert _run(tmp_path / "replay", payload, replayer).status == "completed"
    assert not replayer.cassette.misses

    # Without the window the prompts are sized otherwise: the replay no longer matches.
    data = json.loads(file.read_text())
    del data["windows"]
    file.write_text(json.dumps(data))
    blind = CassetteModel(Cassette.load(file), "replay")
    assert serving_window(blind, "cheap") is None
    result = _run(tmp_path / "blind", payload, blind)
    assert result.status != "completed" or blind.cassette.misses
    assert any("replay miss" in m for m in blind.cassette.misses)


# -- read_result: read once, observed as the prompt got it ------------------------------------


class _Observer:
    max_reasks = 0

    def __init__(self) -> None:
        self.observed: list[ToolUse] = []

    async def authorize(self, name: str, tool: Tool | None, arguments: str) -> str | None:
        return None

    def observe(self, tool: Tool, use: ToolUse) -> None:
        self.observed.append(use)

    def review(self, text: str, attempt: int) -> Review:
        return Review(Verdict(target="task", subject="t", action="pass"), text)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("room", [None, 3_584, 7_680])
def test_a_read_is_made_once_and_observed_as_the_prompt_got_it(
    monkeypatch: pytest.MonkeyPatch, shape: str, room: int | None
) -> None:
    payload = SHAPES[shape](80_000, random.Random(shape))
    reads = 3
    calls = {"n": 0}
    original = ResultStore.read

    def counted(self: ResultStore, arguments: Any, fit: int) -> Any:
        calls["n"] += 1
        return original(self, arguments, fit)

    monkeypatch.setattr(ResultStore, "read", counted)
    sent: list[list[dict[str, Any]]] = []

    async def chat(messages: Any, tools: Any, schema: Any, choice: Any = "auto") -> dict[str, Any]:
        sent.append([dict(m) for m in messages])
        results = [m["content"] for m in messages if m["role"] == "tool"]
        if not results:
            call = {"name": "fetch_blob", "arguments": '{"name": "blob"}'}
            return {"content": None, "tool_calls": [{"id": "c0", "function": call}]}
        if len(results) <= reads:
            handle, path, offset = _READ_ON.findall(results[-1])[-1]
            args = {"handle": handle, "offset": int(offset), **({"path": path} if path else {})}
            call = {"name": READ_RESULT, "arguments": json.dumps(args)}
            return {"content": None, "tool_calls": [{"id": f"c{len(results)}", "function": call}]}
        return {"content": "Done."}

    policy = _Observer()
    asyncio.run(
        run_agent(
            FETCHER,
            instruction="Fetch the blob",
            inputs={},
            chat=chat,
            tools=[_blob_tool(payload)],
            tool_context=ToolContext(workspace=Path.cwd()),
            policy=policy,
            max_result_tokens=2_048,
            prompt_room=room,
        )
    )
    assert calls["n"] == reads  # one read of the store per read_result call
    observed = [u for u in policy.observed if u.name == READ_RESULT]
    messages = [m["content"] for m in sent[-1] if m["role"] == "tool"][1:]
    assert len(observed) == len(messages) == reads
    for use, message in zip(observed, messages, strict=True):
        fenced, _, outside = message.partition("\n</tool_result>\n")
        body = fenced.split("\n", 1)[1]
        note = outside.rsplit("\n", 1)[0]
        assert use.result == f"{body}\n{note}"
