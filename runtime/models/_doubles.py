"""Test doubles for the model seam, shipped with the library so users test their agents too.

`ScriptedModel` plays a queue of steps; each step may say which requests it answers
(by purpose, task or agent), so scripts stay deterministic when tasks run in parallel.
`FunctionModel` answers with a function. Both can simulate a per-call latency, and serve one
call at a time as the embedded model does (`one_at_a_time`).
Users import them as `podium.runtime.testing`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, assert_never

from pydantic import BaseModel

from podium.agents import Tier
from podium.memory import estimate_tokens

from .._errors import ModelError
from ._model import (
    AssistantMessage,
    ModelRequest,
    ModelResponse,
    Purpose,
    ToolCall,
)
from ._slot import ModelSlot
from ._usage import Usage

Reply = str | Mapping[str, Any] | BaseModel | AssistantMessage
"""What a double may answer: text, a JSON object (sent as JSON text), or a full message."""


_call_ids = itertools.count(1)


class UnexpectedModelCall(ModelError):
    """A double got a call its script did not expect."""


@dataclass
class Step:
    """One scripted answer, and which requests it may answer."""

    reply: Reply | None = None
    error: BaseException | None = None
    purpose: Purpose | None = None
    task: str | None = None
    agent: str | None = None
    tier: Tier | None = None
    latency_s: float | None = None
    when: Callable[[ModelRequest], bool] | None = None

    def matches(self, request: ModelRequest) -> bool:
        return (
            (self.purpose is None or self.purpose == request.purpose)
            and (self.tier is None or self.tier == request.tier)
            and (self.task is None or self.task == request.task_id)
            and (self.agent is None or self.agent == request.agent)
            and (self.when is None or self.when(request))
        )

    def describe(self) -> str:
        parts = [
            f"{k}={v!r}"
            for k, v in (
                ("purpose", self.purpose),
                ("task", self.task),
                ("agent", self.agent),
                ("tier", self.tier),
            )
            if v
        ]
        return "Step(" + ", ".join(parts or ["any"]) + ")"


def reply(
    content: Reply,
    *,
    purpose: Purpose | None = None,
    task: str | None = None,
    agent: str | None = None,
    tier: Tier | None = None,
    latency_s: float | None = None,
) -> Step:
    """A step that answers with text, JSON or a full message."""
    return Step(
        reply=content, purpose=purpose, task=task, agent=agent, tier=tier, latency_s=latency_s
    )


def tool_call(
    name: str,
    arguments: Mapping[str, Any],
    *,
    task: str | None = None,
    agent: str | None = None,
    latency_s: float | None = None,
) -> Step:
    """A step that asks to run one tool."""
    message = AssistantMessage(
        tool_calls=(
            ToolCall(
                id=f"call_{next(_call_ids)}", name=name, arguments=json.dumps(dict(arguments))
            ),
        )
    )
    return Step(reply=message, purpose="task", task=task, agent=agent, latency_s=latency_s)


def fail(
    error: BaseException,
    *,
    purpose: Purpose | None = None,
    task: str | None = None,
    agent: str | None = None,
    tier: Tier | None = None,
) -> Step:
    """A step that raises, as a provider error would."""
    return Step(error=error, purpose=purpose, task=task, agent=agent, tier=tier)


def plan_reply(tasks: Iterable[Mapping[str, Any]], *, purpose: Purpose = "plan") -> Step:
    """A planner step answering with a plan built from task dicts."""
    return Step(reply={"tasks": [dict(t) for t in tasks]}, purpose=purpose)


class ScriptedModel:
    """A queue of scripted steps. Every call is recorded; a call no step matches is an error.

    A call takes the first remaining step that matches it, so steps for parallel tasks can be
    listed in any order. `assert_complete()` fails if any step was never used.
    """

    def __init__(
        self,
        steps: Iterable[Step],
        *,
        latency_s: float = 0.0,
        name: str = "scripted",
        usd_per_token: float = 0.0,
        context_window: int | None = None,
        one_at_a_time: bool = False,
    ) -> None:
        self._steps = list(steps)
        self.one_at_a_time = one_at_a_time
        """Calls take turns, latency included, like the embedded model's (a waiting task's
        call is reported as queued)."""
        self._slot = ModelSlot()
        self.context_window = context_window
        """The window of the model it stands in for: prompts are sized to it (None: unknown)."""
        self.latency_s = latency_s
        self.usd_per_token = usd_per_token
        self.name = name
        self.calls: list[ModelRequest] = []
        self._lock = threading.Lock()

    async def complete(self, request: ModelRequest) -> ModelResponse:
        with self._lock:
            self.calls.append(request)
            step = self._take(request)
        latency = self.latency_s if step.latency_s is None else step.latency_s
        async with _turn(self._slot, self.one_at_a_time):
            if latency:
                await asyncio.sleep(latency)
        if step.error is not None:
            raise step.error
        assert step.reply is not None
        return _respond(request, step.reply, self.name, self.usd_per_token)

    def _take(self, request: ModelRequest) -> Step:
        for index, step in enumerate(self._steps):
            if step.matches(request):
                return self._steps.pop(index)
        left = ", ".join(s.describe() for s in self._steps) or "none"
        raise UnexpectedModelCall(
            f"no scripted step for call #{len(self.calls)} (purpose={request.purpose!r}, "
            f"task={request.task_id!r}, agent={request.agent!r}); steps left: {left}"
        )

    def __reduce__(self) -> NoReturn:
        """Refuse to be copied into another process (a Ray worker): each copy would play the
        script's queue on its own, and the steps would be used more than once or never."""
        raise TypeError(
            "a ScriptedModel cannot be sent to another process: each copy would play the "
            "script's queue on its own. Use FunctionModel with a function of the request "
            '(module-level, so workers can import it), or executor = "asyncio"'
        )

    @property
    def remaining(self) -> list[Step]:
        return list(self._steps)

    def assert_complete(self) -> None:
        if self._steps:
            raise AssertionError(
                f"{len(self._steps)} scripted step(s) never used: "
                + ", ".join(s.describe() for s in self._steps)
            )


ModelFunction = Callable[[ModelRequest], Reply | Awaitable[Reply]]


@dataclass
class FunctionModel:
    """Answers every call with `function(request)`; records the calls."""

    function: ModelFunction
    latency_s: float = 0.0
    name: str = "function"
    usd_per_token: float = 0.0
    calls: list[ModelRequest] = field(default_factory=list)
    context_window: int | None = None
    """The window of the model it stands in for: prompts are sized to it (None: unknown)."""
    one_at_a_time: bool = False
    """Calls take turns, latency and function included, like the embedded model's (a waiting
    task's call is reported as queued)."""
    _slot: ModelSlot = field(default_factory=ModelSlot, init=False, repr=False, compare=False)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls.append(request)
        async with _turn(self._slot, self.one_at_a_time):
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            answer = self.function(request)
            if inspect.isawaitable(answer):
                answer = await answer
        return _respond(request, answer, self.name, self.usd_per_token)


def _turn(slot: ModelSlot, one_at_a_time: bool) -> contextlib.AbstractAsyncContextManager[None]:
    return slot.ahold() if one_at_a_time else contextlib.nullcontext()


def _respond(
    request: ModelRequest, answer: Reply, model: str, usd_per_token: float = 0.0
) -> ModelResponse:
    if isinstance(answer, AssistantMessage):
        message = answer
    elif isinstance(answer, BaseModel):
        message = AssistantMessage(content=answer.model_dump_json())
    elif isinstance(answer, Mapping):
        message = AssistantMessage(content=json.dumps(dict(answer)))
    else:
        message = AssistantMessage(content=str(answer))
    output = (message.content or "") + "".join(c.arguments for c in message.tool_calls)
    usage = Usage(
        calls=1,
        input_tokens=estimate_tokens(json.dumps(list(request.messages), default=str)),
        output_tokens=estimate_tokens(output),
    )
    usage = usage.model_copy(update={"cost_usd": usage.total_tokens * usd_per_token})
    return ModelResponse(message=message, usage=usage, model=model)


Fault = Literal["ok", "rate_limit", "server_error", "timeout", "malformed", "bad_request"]
"""What a FaultyProvider call does: answer, or fail the way providers fail."""


class FaultyProvider:
    """A litellm provider, `podium-fault/<name>`, that fails on cue, offline.

    Each model name has a script of outcomes consumed one call at a time (then "ok" forever),
    so tests can drive litellm's Router through retries, fallbacks, timeouts and cooldowns.
    """

    PROVIDER = "podium-fault"

    def __init__(self) -> None:
        self.scripts: dict[str, list[Fault]] = {}
        self.replies: dict[str, str] = {}
        self.calls: list[str] = []

    def reply(self, model: str, text: str) -> FaultyProvider:
        """What `model` says when it answers (default: "answer from <name>")."""
        self.replies[model.removeprefix(f"{self.PROVIDER}/")] = text
        return self

    def script(self, model: str, outcomes: Iterable[Fault]) -> FaultyProvider:
        self.scripts[model.removeprefix(f"{self.PROVIDER}/")] = list(outcomes)
        return self

    def register(self) -> FaultyProvider:
        """Install as litellm's handler for `podium-fault/...` (replacing an earlier one)."""
        from ._model import quiet_litellm

        quiet_litellm()
        import litellm
        from litellm.llms.custom_llm import CustomLLM

        provider = self

        class _Handler(CustomLLM):
            async def acompletion(
                self, model: str, messages: list[Any], *args: Any, **kwargs: Any
            ) -> Any:
                return await provider._answer(model, kwargs.get("timeout"))

        litellm.custom_provider_map = [
            *[p for p in litellm.custom_provider_map if p.get("provider") != self.PROVIDER],
            {"provider": self.PROVIDER, "custom_handler": _Handler()},
        ]
        setup: Callable[[], None] = litellm.utils.custom_llm_setup  # untyped upstream
        setup()
        return self

    async def _answer(self, model: str, deadline_s: Any) -> Any:
        import litellm
        from litellm import exceptions

        name = model.split("/", 1)[-1]
        self.calls.append(name)
        script = self.scripts.get(name, [])
        fault: Fault = script.pop(0) if script else "ok"
        provider = self.PROVIDER
        match fault:
            case "rate_limit":
                raise exceptions.RateLimitError(
                    f"{name}: rate limited", llm_provider=provider, model=model
                )
            case "server_error":
                raise exceptions.InternalServerError(
                    f"{name}: upstream 500", llm_provider=provider, model=model
                )
            case "bad_request":
                raise exceptions.BadRequestError(
                    f"{name}: bad request", model=model, llm_provider=provider
                )
            case "timeout":
                await asyncio.sleep(float(deadline_s or 1.0))  # hang until the caller's timeout
                raise exceptions.Timeout(
                    f"{name}: no answer within {deadline_s}s", model=model, llm_provider=provider
                )
            case "malformed":
                return litellm.ModelResponse(
                    model=model,
                    choices=[{"index": 0, "message": {"role": "assistant", "content": None}}],
                )
            case "ok":
                return litellm.ModelResponse(
                    model=model,
                    choices=[
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {
                                "role": "assistant",
                                "content": self.replies.get(name, f"answer from {name}"),
                            },
                        }
                    ],
                    usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                )
            case _:
                assert_never(fault)
