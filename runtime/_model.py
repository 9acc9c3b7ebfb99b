"""The model seam: the one async function every LLM call in Podium passes through."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ._errors import ModelError
from ._plan import Tier
from ._usage import Usage

Purpose = Literal["plan", "replan", "review", "task", "synthesis"]
Message = dict[str, Any]
"""A chat message in OpenAI's shape: {"role": ..., "content": ..., ...}."""


class ToolCall(BaseModel):
    """A model's request to run one tool."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: str = "{}"
    """JSON text, exactly as the model produced it."""


class AssistantMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()

    def to_message(self) -> Message:
        msg: Message = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in self.tool_calls
            ]
        return msg


class ModelRequest(BaseModel):
    """One call: which model, what to say, which tools, which output shape."""

    model_config = ConfigDict(frozen=True)

    tier: Tier = "cheap"
    model: str | None = None
    """An explicit model overrides the tier."""
    messages: tuple[Message, ...]
    tools: tuple[dict[str, Any], ...] = ()
    """OpenAI function-tool schemas."""
    response_schema: dict[str, Any] | None = None
    """JSON schema the reply must follow (constrained decoding where the provider has it)."""
    purpose: Purpose = "task"
    run_id: str = ""
    task_id: str | None = None
    agent: str | None = None


class ModelResponse(BaseModel):
    model_config = ConfigDict(frozen=True)

    message: AssistantMessage
    usage: Usage = Field(default_factory=Usage)
    latency_s: float = 0.0
    model: str = ""


class ModelBackend(Protocol):
    """Anything that answers model requests: litellm, a cassette, a test double."""

    async def complete(self, request: ModelRequest) -> ModelResponse: ...


class ModelSeam:
    """Front of every model call: times it and counts it, whatever backend answers."""

    def __init__(self, backend: ModelBackend) -> None:
        self.backend = backend

    async def complete(self, request: ModelRequest) -> ModelResponse:
        started = time.perf_counter()
        response = await self.backend.complete(request)
        latency = time.perf_counter() - started
        usage = response.usage if response.usage.calls else response.usage + Usage(calls=1)
        return response.model_copy(update={"latency_s": latency, "usage": usage})


class LiteLLMBackend:
    """Calls litellm with the model string configured for each tier.

    The Router, fallbacks and the embedded model come with the models issue; until then this
    is a direct `litellm.acompletion` call.
    """

    def __init__(self, tiers: Mapping[Tier, str], *, timeout_s: float = 120.0) -> None:
        self.tiers = dict(tiers)
        self.timeout_s = timeout_s
        quiet_litellm()
        if any(is_local_model(m) for m in self.tiers.values()):
            from ._local_model import ensure_registered

            ensure_registered()

    async def complete(self, request: ModelRequest) -> ModelResponse:
        import litellm  # heavy import, kept off the CLI's start-up path

        model = request.model or self.tiers[request.tier]
        kwargs: dict[str, Any] = {"timeout": self.timeout_s}
        if request.tools:
            kwargs["tools"] = list(request.tools)
            # Podium's tools are plain functions; without this litellm imports its MCP bridge,
            # which needs the optional `mcp` package, on every call that carries tools.
            kwargs["_skip_mcp_handler"] = True
        if request.response_schema is not None and (not request.tools or is_local_model(model)):
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": request.response_schema},
            }
        try:
            raw = await litellm.acompletion(model=model, messages=list(request.messages), **kwargs)
        except Exception as exc:
            raise ModelError(f"model {model!r} failed: {type(exc).__name__}: {exc}") from exc
        return _from_openai_response(raw, model)


def _from_openai_response(raw: Any, model: str) -> ModelResponse:
    choice = raw.choices[0].message
    calls = tuple(
        ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "{}")
        for c in (choice.tool_calls or [])
    )
    usage = getattr(raw, "usage", None)
    return ModelResponse(
        message=AssistantMessage(content=choice.content, tool_calls=calls),
        usage=Usage(
            calls=1,
            input_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            output_tokens=getattr(usage, "completion_tokens", 0) or 0,
        ),
        model=model,
    )


def is_local_model(model: str) -> bool:
    """True for the embedded model (`podium-local/...`), which runs in this process."""
    return model.startswith("podium-local/")


def quiet_litellm() -> None:
    """Nothing phones home: litellm's price map is read from the package, its telemetry is off."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True


def estimate_tokens(messages: Sequence[Message] | str) -> int:
    """A deterministic token estimate for doubles (about 4 characters a token)."""
    text = messages if isinstance(messages, str) else json.dumps(list(messages), default=str)
    return max(1, len(text) // 4)
