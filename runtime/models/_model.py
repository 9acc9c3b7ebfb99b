"""The model seam: the one async function every LLM call in Podium passes through."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from podium.agents import Message, Tier
from podium.policies import BudgetExceeded, BudgetTracker
from podium.tools import MIN_RESULT_TOKENS, for_provider

from .._config import Deployment, ModelsConfig
from .._errors import ConfigError, ModelError, UnexpectedModelBehavior, did_you_mean
from ._usage import Usage

Purpose = Literal["plan", "replan", "review", "task", "synthesis", "judge"]
"""Why a call is made; `judge` is an evaluation grader's call (podium.evals)."""


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
    tool_choice: Literal["auto", "required"] = "auto"
    """required: the reply must call one of the tools."""
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
    repairs: tuple[str, ...] = ()
    """Repairs of form the provider made to the model's JSON (the embedded model's tool calls)."""
    cut: bool = False
    """The reply stopped at the output limit (finish_reason "length"): its text may end
    mid-sentence, and whoever shows it says so (`podium.agents.mark_cut`)."""


class ModelBackend(Protocol):
    """Anything that answers model requests: litellm, a cassette, a test double.

    A backend may also say which context window it serves a tier with: a method
    `window(tier: Tier) -> int | None`, looked up with `serving_window`, so doubles that do not
    care need not have it. Prompts are sized to it (the bound on a tool message)."""

    async def complete(self, request: ModelRequest) -> ModelResponse: ...


class ModelSeam:
    """Front of every model call: checks the run budget, times the call and counts it."""

    def __init__(self, backend: ModelBackend, budget: BudgetTracker | None = None) -> None:
        self.backend = backend
        self.budget = budget

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if self.budget is None:
            return await self._timed(request)
        self.budget.begin_call()  # raises BudgetExceeded: no new call once a limit is reached
        response: ModelResponse | None = None
        try:
            response = await self._within_wall_time(request, self.budget)
            return response
        finally:
            usage = response.usage if response is not None else Usage()
            self.budget.end_call(usd=usage.cost_usd, tokens=usage.total_tokens)

    async def _within_wall_time(
        self, request: ModelRequest, budget: BudgetTracker
    ) -> ModelResponse:
        remaining = budget.remaining_wall_s()
        if remaining is None:
            return await self._timed(request)
        try:
            return await asyncio.wait_for(self._timed(request), max(remaining, 0.001))
        except TimeoutError:
            if (budget.remaining_wall_s() or 0.0) > 0:
                raise  # the provider's own timeout, not the run's limit
            raise BudgetExceeded("wall_time", budget.max_wall_s, budget.max_wall_s) from None

    async def _timed(self, request: ModelRequest) -> ModelResponse:
        started = time.perf_counter()
        response = await self.backend.complete(request)
        latency = time.perf_counter() - started
        usage = response.usage if response.usage.calls else response.usage + Usage(calls=1)
        return response.model_copy(update={"latency_s": latency, "usage": usage})


class LiteLLMBackend:
    """litellm's Router behind the seam.

    Each tier is a Router model group of one or more deployments; retries, fallbacks between
    tiers, timeouts and cooldowns are the Router's, configured from `[models]`, not re-implemented.
    """

    def __init__(self, models: ModelsConfig) -> None:
        quiet_litellm()
        if any(is_local_model(m) for m in models.models()):
            from ._local_model import ensure_registered

            ensure_registered()
        from litellm.router import Router

        self.config = models
        self._windows: dict[Tier, int | None] = {}
        # Grounded tool arguments go to the embedded model's grammar as one branch per variant
        # (a dataset with its own records); any other provider gets the flat schema, so a
        # fallback to a hosted tier never sends it what it would reject.
        self._variants = all(is_local_model(m) for m in models.models())
        self._llama_cpp = {
            tier
            for tier in ("cheap", "frontier")
            if any(d.server == "llama-cpp" for d in models.deployments_for(tier))
        }
        try:
            self.router = Router(
                model_list=[
                    _deployment_entry(d)
                    for t in ("cheap", "frontier")
                    for d in models.deployments_for(t)
                ],
                fallbacks=[{tier: list(to)} for tier, to in models.fallbacks.items() if to],
                num_retries=models.num_retries,
                timeout=models.timeout_s,
                cooldown_time=models.cooldown_s,
                allowed_fails=models.allowed_fails,
                retry_after=0,
            )
        except Exception as exc:  # litellm's BadRequestError, or a bare Exception, per deployment
            raise refused_models(models, exc) from None

    def window(self, tier: Tier) -> int | None:
        """`tier_window` of this Router's models (asked once per tier: litellm's map is read)."""
        if tier not in self._windows:
            self._windows[tier] = tier_window(self.config, tier)
        return self._windows[tier]

    async def complete(self, request: ModelRequest) -> ModelResponse:
        group = request.model or request.tier
        llama_cpp = group in self._llama_cpp
        kwargs: dict[str, Any] = {}
        if request.tools:
            kwargs["tools"] = [for_provider(t, variants=self._variants) for t in request.tools]
            if llama_cpp:
                kwargs["tool_choice"] = _llama_cpp_choice(request, kwargs["tools"])
            elif request.tool_choice == "required":
                kwargs["tool_choice"] = "required"
            # Podium's tools are plain functions; without this litellm imports its MCP bridge,
            # which needs the optional `mcp` package, on every call that carries tools.
            kwargs["_skip_mcp_handler"] = True
        if request.response_schema is not None:
            kwargs["response_format"] = (
                {"type": "json_object", "schema": request.response_schema}
                if llama_cpp
                else {
                    "type": "json_schema",
                    "json_schema": {"name": "output", "schema": request.response_schema},
                }
            )
        try:
            # litellm wants its TypedDicts; ours are plain dicts.
            messages: Any = [
                {**m, "content": ""} if llama_cpp and m.get("content") is None else m
                for m in request.messages
            ]
            raw = await self.router.acompletion(model=group, messages=messages, **kwargs)
        except Exception as exc:
            raise ModelError(_describe_failure(exc, group)) from exc
        return _from_openai_response(raw, group)


def _deployment_entry(d: Deployment) -> dict[str, Any]:
    params: dict[str, Any] = {"model": d.model, **d.params}
    if d.api_base:
        params["api_base"] = d.api_base
    if d.api_key_env:
        params["api_key"] = f"os.environ/{d.api_key_env}"  # litellm reads it from the environment
    for key in ("input_cost_per_token", "output_cost_per_token", "rpm", "tpm"):
        if (value := getattr(d, key)) is not None:
            params[key] = value
    return {"model_name": d.tier, "litellm_params": params}


def refused_models(models: ModelsConfig, exc: Exception) -> ConfigError:
    """Why litellm's Router refused `[models]`, as a config error: each model string whose
    provider litellm does not know, with the likeliest one it was meant to be.

    Diagnosed after the Router failed, with the function it uses (`get_llm_provider`), so a
    model string the Router takes is never refused here."""
    import litellm

    known = sorted(
        {str(getattr(p, "value", p)) for p in litellm.provider_list}
        | {str(p.get("provider")) for p in litellm.custom_provider_map}
    )
    problems = []
    for where, d in _model_fields(models):
        if _litellm_places(d):
            continue
        provider, slash, _ = d.model.partition("/")
        if slash:
            hint = did_you_mean(provider.lower(), known) or f"; litellm knows {', '.join(known)}"
            problems.append(f"{where} = {d.model!r}: unknown provider {provider!r}{hint}")
        else:
            problems.append(
                f"{where} = {d.model!r} names no provider: write provider/model, e.g. "
                "openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest, ollama/llama3"
            )
    if not problems:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        problems.append(f"litellm refused the model list: {first[:300]}")
    return ConfigError(
        "[models] " + "; ".join(problems) + " (providers: https://docs.litellm.ai/docs/providers)"
    )


def _litellm_places(d: Deployment) -> bool:
    import litellm

    try:
        litellm.get_llm_provider(
            model=d.model,
            custom_llm_provider=d.params.get("custom_llm_provider"),
            api_base=d.api_base,
        )
    except Exception:  # litellm.BadRequestError: it cannot tell which provider serves it
        return False
    return True


def _model_fields(models: ModelsConfig) -> list[tuple[str, Deployment]]:
    """Each deployment the Router is given, named by the config key that set it."""
    fields = []
    for tier in ("cheap", "frontier"):
        listed = [(i, d) for i, d in enumerate(models.deployments) if d.tier == tier]
        if listed:
            fields += [(f"models.deployments[{i}].model", d) for i, d in listed]
        else:
            fields += [(f"models.{tier}", d) for d in models.deployments_for(tier)]
    return fields


def _describe_failure(exc: Exception, group: str) -> str:
    provider = getattr(exc, "llm_provider", None) or "unknown provider"
    model = getattr(exc, "model", None) or group
    message = str(getattr(exc, "message", None) or exc).splitlines()[0][:300]
    return f"{group} tier failed after retries and fallbacks: provider {provider!r}, model {model!r}: {type(exc).__name__}: {message}"


def _from_openai_response(raw: Any, group: str) -> ModelResponse:
    try:
        choice = raw.choices[0].message
    except (AttributeError, IndexError) as exc:
        raise UnexpectedModelBehavior(
            f"{group} tier returned a malformed response (no choices): {raw!r:.200}"
        ) from exc
    calls = tuple(
        ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "{}")
        for c in (choice.tool_calls or [])
    )
    if choice.content is None and not calls:
        raise UnexpectedModelBehavior(
            f"{group} tier ({raw.model}) returned neither content nor tool calls"
        )
    usage = getattr(raw, "usage", None)
    finish = getattr(raw.choices[0], "finish_reason", None)
    hidden = getattr(raw, "_hidden_params", None) or {}
    extra = getattr(choice, "provider_specific_fields", None) or {}
    return ModelResponse(
        repairs=tuple(extra.get("podium_repairs") or ()),
        cut=finish == "length" and not calls,
        message=AssistantMessage(content=choice.content, tool_calls=calls),
        usage=Usage(
            calls=1,
            input_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            output_tokens=getattr(usage, "completion_tokens", 0) or 0,
            cost_usd=float(hidden.get("response_cost") or 0.0),
        ),
        # The deployment's full litellm string ("podium-local/smollm2-135m"), not the provider's echo.
        model=str(hidden.get("litellm_model_name") or raw.model or group),
    )


_ASKS_THE_SERVER = frozenset({"ollama", "ollama_chat"})
"""Providers whose model info litellm fetches over HTTP instead of reading its map."""


def context_window(deployment: Deployment) -> int | None:
    """The prompt tokens a deployment takes: as configured, the embedded model's, or litellm's
    model map's; None when nobody knows (a self-hosted model without `context_window`)."""
    if deployment.context_window is not None:
        return deployment.context_window
    if is_local_model(deployment.model):
        from ._local_model import CONTEXT_TOKENS

        return CONTEXT_TOKENS
    if deployment.model.split("/", 1)[0] in _ASKS_THE_SERVER:
        return None  # litellm would ask the model server (Ollama's /api/show) for it
    quiet_litellm()
    import litellm

    for name in (deployment.model, deployment.model.split("/", 1)[-1]):
        try:
            info = litellm.get_model_info(name)
        except Exception:  # litellm raises several kinds for a model it has not mapped
            continue
        window = info.get("max_input_tokens") or info.get("max_tokens")
        if window:
            return int(window)
    return None


SMALL_CONTEXT_TOKENS = 8192
SMALL_MODEL_MIN_SCORE = 0.5


def smallest_context_window(models: ModelsConfig) -> int | None:
    """The smallest known context window among the tiers' models (a task may climb to any)."""
    windows = [
        w
        for tier in ("cheap", "frontier")
        for d in models.deployments_for(tier)
        if (w := context_window(d)) is not None
    ]
    return min(windows) if windows else None


def memory_budget(models: ModelsConfig, max_tokens: int, share: float) -> int:
    """Tokens a prompt's memory section may take: `max_tokens`, or `share` of the smallest known
    context window among the tiers' models if that is less."""
    window = smallest_context_window(models)
    return min(max_tokens, int(share * window)) if window else max_tokens


def tier_window(models: ModelsConfig, tier: Tier) -> int | None:
    """The smallest known context window among the deployments a call to `tier` may reach:
    the tier's own and, through the Router's fallbacks, those of the tiers it falls back to."""
    reached, pending = {tier}, [tier]
    while pending:  # fallbacks of fallbacks too
        for after in models.fallbacks.get(pending.pop(), []):
            if after not in reached:
                reached.add(after)
                pending.append(after)
    windows = [
        w
        for t in sorted(reached)
        for d in models.deployments_for(t)
        if (w := context_window(d)) is not None
    ]
    return min(windows) if windows else None


def serving_window(backend: ModelBackend, tier: Tier) -> int | None:
    """The context window `backend` serves `tier` with, as its optional `window(tier)` method
    says: the configured deployments' for the litellm Router, the live backend's (or, replaying,
    the recorded one) for a cassette; else a test double's `context_window`; None when nobody
    knows."""
    method = getattr(backend, "window", None)
    window = method(tier) if callable(method) else getattr(backend, "context_window", None)
    return window if isinstance(window, int) and not isinstance(window, bool) else None


def reply_tokens(window: int) -> int:
    """Tokens of a `window` kept free for the reply: the embedded model's `max_tokens` (512 of
    its 4096, as its prompt fitting keeps free), an eighth of a smaller window. litellm's map
    gives hosted models' input windows, where this is only a margin."""
    from ._local_model import MAX_TOKENS

    return min(MAX_TOKENS, window // 8)


def prompt_room(window: int | None) -> int | None:
    """Tokens a prompt may take in `window`: the window less `reply_tokens` (None: unknown)."""
    return None if window is None else window - reply_tokens(window)


def result_budget(window: int | None, max_tokens: int, share: float) -> int:
    """Tokens one tool message may take: `max_tokens`, or `share` of `window` if that is less
    (never below MIN_RESULT_TOKENS: a view must still show something)."""
    if window is None:
        return max_tokens
    return max(MIN_RESULT_TOKENS, min(max_tokens, int(share * window)))


def memory_min_score(models: ModelsConfig, configured: float | None) -> float:
    """The least similarity an entry needs to enter a prompt (see `min_context_score`)."""
    if configured is not None:
        return configured
    window = smallest_context_window(models)
    return SMALL_MODEL_MIN_SCORE if window is not None and window <= SMALL_CONTEXT_TOKENS else 0.0


def is_local_model(model: str) -> bool:
    """True for the embedded model (`podium-local/...`), which runs in this process."""
    return model.startswith("podium-local/")


def quiet_litellm() -> None:
    """Nothing phones home: litellm's price map is read from the package, its telemetry is off."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    # Podium reports failures itself (events, ModelError naming the provider); litellm's own
    # error log lines would repeat them on stderr for every retry and fallback.
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _llama_cpp_choice(request: ModelRequest, tools: list[dict[str, Any]]) -> Any:
    """llama.cpp's server (chatml-function-calling) calls a tool only when told "auto", where
    the model may answer in prose instead, or when the choice names the function: so a required
    call of the only tool names it (forced by the server's grammar), and any other is "auto"."""
    if request.tool_choice == "required" and len(tools) == 1:
        return {"type": "function", "function": {"name": tools[0]["function"]["name"]}}
    return "auto"
