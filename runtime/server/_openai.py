"""The OpenAI-compatible face of `podium serve`: /v1/chat/completions runs the last user message
as a goal, with the conversation before it as context, and answers as a chat completion."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict

from podium.agents import CUT_MARK

from ..engine._escalation import how_to_answer, summary
from ..engine._events import RunEvent
from ..engine._result import Escalation, RunErrorKind
from ..models._usage import Usage
from ..storage._store import RunRecord
from ._conversation import split_messages
from ._server import ApiError, RunService, SubmitRun, Tenant

MODEL = "podium"


class ChatCompletionRequest(BaseModel):
    """The fields Podium reads; others (temperature, tools, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = MODEL
    """`podium`, or `podium/<profile>` for a `[server.profiles]` entry."""
    messages: list[dict[str, Any]]
    stream: bool = False
    stream_options: dict[str, Any] | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "podium"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def openai_routes(app: FastAPI, service: RunService) -> None:
    @app.get("/v1/models", tags=["openai"])
    async def list_models(tenant: Tenant) -> ModelList:
        profiles = sorted(service.podium().config.server.profiles)
        return ModelList(
            data=[ModelCard(id=m) for m in [MODEL, *(f"{MODEL}/{p}" for p in profiles)]]
        )

    @app.post(
        "/v1/chat/completions",
        tags=["openai"],
        response_model=None,
        responses={200: {"content": {"application/json": {}, "text/event-stream": {}}}},
    )
    async def chat_completions(
        body: ChatCompletionRequest, tenant: Tenant
    ) -> JSONResponse | StreamingResponse:
        """Run the last user message as a goal; `stream: true` streams progress, then the answer."""
        profile = _profile(body.model, sorted(service.podium().config.server.profiles))
        if profile is False:
            raise ApiError(
                404,
                "model_not_found",
                f"no model {body.model!r}: use {MODEL!r} or '{MODEL}/<profile>' (GET /v1/models)",
            )
        try:
            request, turns = split_messages(body.messages)
        except ValueError as exc:
            raise ApiError(400, "invalid_messages", str(exc)) from None
        record = await service.submit(
            SubmitRun(goal=request, conversation=turns, profile=profile or None), tenant
        )
        created = int(time.time())
        if body.stream:
            usage_chunk = bool((body.stream_options or {}).get("include_usage"))
            chunks = _stream(service, record, tenant, body.model, created, usage_chunk)
            return StreamingResponse(
                chunks,
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        async for _ in service.events(record.run_id, tenant).follow():
            pass
        done = service.record(record.run_id, tenant)
        if (failure := run_error(done)) is not None:
            status, error = failure
            answer = {"error": error, "usage": _usage(done), "podium": _extension(done)}
            return JSONResponse(answer, status, headers=NO_RETRY)
        return JSONResponse(
            {
                "id": f"chatcmpl-{done.run_id}",
                "object": "chat.completion",
                "created": created,
                "model": body.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": final_text(done)},
                        "finish_reason": finish_reason(done),
                        "logprobs": None,
                    }
                ],
                "usage": _usage(done),
                "podium": _extension(done),
            }
        )


def _profile(model: str, profiles: list[str]) -> str | Literal[False]:
    """ "" for the default configuration, the profile's name, or False for an unknown model."""
    if model == MODEL:
        return ""
    prefix, _, name = model.partition("/")
    return name if prefix == MODEL and name in profiles else False


async def _stream(
    service: RunService,
    record: RunRecord,
    tenant: str,
    model: str,
    created: int,
    usage_chunk: bool,
) -> AsyncIterator[bytes]:
    where = service.settings.progress
    base = {
        "id": f"chatcmpl-{record.run_id}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return _data({**base, "choices": [choice], **extra})

    yield chunk({"role": "assistant", "content": ""})
    run_log = service.events(record.run_id, tenant)
    async for arrived in run_log.follow():
        if arrived is None:
            yield b": keep-alive\n\n"
            continue
        for seq in arrived if where != "none" else ():
            line = progress_line(run_log.event(seq))
            if line and where == "reasoning":
                yield chunk({"reasoning_content": line + "\n"})
            elif line:
                yield chunk({"content": line + "\n"})
    done = service.record(record.run_id, tenant)
    failure = run_error(done)
    if failure is None:
        text = final_text(done)
        yield chunk({"content": ("\n" + text) if where == "content" else text})
        yield chunk({}, finish_reason(done), podium=_extension(done))
    if usage_chunk:
        yield _data({**base, "choices": [], "usage": _usage(done)})
    if failure is not None:  # the stream ends with the error (OpenAI clients raise it), no answer
        yield _data({"error": failure[1], "podium": _extension(done)})
    yield b"data: [DONE]\n\n"


def _data(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


def _usage(record: RunRecord) -> dict[str, int]:
    """Real token counts: every model call of the run (planner, tasks, synthesis) added up."""
    usage = record.result.usage if record.result else Usage()
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


def _extension(record: RunRecord) -> dict[str, Any]:
    result = record.result
    return {
        "run_id": record.run_id,
        "status": record.status,
        "escalations": [
            e.model_dump(include={"id", "reason", "question", "task_id", "agent"})
            for e in (result.escalations if result and record.status == "waiting_for_human" else [])
        ],
        "links": {"run": f"/runs/{record.run_id}", "events": f"/runs/{record.run_id}/events"},
    }


NO_RETRY = {"x-should-retry": "false"}
"""A failed run is not a transient fault: OpenAI's clients would run the goal again (they retry
429 and 5xx unless told not to by this header)."""

_HTTP_OF_KIND: dict[str | None, tuple[int, str]] = {
    RunErrorKind.BUDGET: (429, "insufficient_quota"),
    RunErrorKind.REFUSED: (400, "invalid_request_error"),
}
"""A run's error kind as OpenAI reads errors: a spent budget is its quota error; every other
kind is the service failing to answer (500 server_error)."""


def run_error(record: RunRecord) -> tuple[int, dict[str, Any]] | None:
    """(HTTP status, OpenAI `error` object) of a run that ended without an answer; None when
    there is one to show (completed), or a question (waiting for a human). The `code` is the
    run's error kind, as `RunResult.error_kind`, `podium run --json` and the CLI's line say."""
    if record.status in ("completed", "waiting_for_human", "queued", "running"):
        return None
    kind = record.result.error_kind if record.result else None
    status, kind_type = _HTTP_OF_KIND.get(kind, (500, "server_error"))
    error = {
        "message": f"run {record.run_id} {record.status}: {record.error or 'no answer'}",
        "type": kind_type,
        "param": None,
        "code": str(kind or RunErrorKind.ERROR),
    }
    return status, error


def _asked(escalation: Escalation) -> str:
    """One pending escalation as Markdown: its headline, then its fields (an email's To,
    Subject and Body), each whole; a field of several lines as a quoted block."""
    shown = summary(escalation)
    lines = [f"- `{escalation.id}`: {shown.headline}"]
    for field in shown.fields:
        if "\n" in field.text:
            quoted = "\n".join(f"  > {line}" for line in field.text.splitlines())
            lines.append(f"  **{field.label}**:\n{quoted}")
        else:
            lines.append(f"  **{field.label}**: {field.text}")
    return "\n".join(lines)


def finish_reason(record: RunRecord) -> Literal["stop", "length"]:
    """ "length" when the answer was cut at a model's output limit (it ends with the cut mark),
    as OpenAI clients read a reply the model could not finish."""
    answer = record.result.answer if record.result else None
    return "length" if answer and answer.endswith(CUT_MARK) else "stop"


def final_text(record: RunRecord) -> str:
    """What the assistant says: the answer, or the questions a waiting run asks and how to
    answer them (a run that ended without an answer is an error: `run_error`)."""
    result = record.result
    if record.status == "waiting_for_human" and result is not None:
        questions = "\n".join(_asked(e) for e in result.escalations)
        escalation = result.escalations[0] if result.escalations else None
        first = escalation.id if escalation else "ID"
        takes = how_to_answer(escalation.reason, escalation.task_id) if escalation else ""
        return (
            f"Run `{record.run_id}` is waiting for a human before it can go on:\n{questions}\n\n"
            f'Answer with `POST /runs/{record.run_id}/escalations/{first}` and {{"decision": '
            f'"approve"}} ({takes}), on the web page, or with '
            f"`podium approve {record.run_id} {first}`; then `GET /runs/{record.run_id}/result`."
        )
    return result.answer or "" if result is not None else ""


def progress_line(event: RunEvent) -> str | None:
    """One line a person can follow, for the events worth a line."""
    match event.kind:
        case "run_started":
            return f"run {event.run_id} {'resumed' if event.resumed else 'started'}"
        case "plan_created":
            steps = "; ".join(
                f"{t.id} [{t.agent}]" + (f" after {', '.join(t.inputs)}" if t.inputs else "")
                for t in event.plan.topological_order()
            )
            return f"plan{f' (revision {event.revision})' if event.revision else ''}: {steps}"
        case "task_started":
            return f"▶ {event.task_id} [{event.agent}] on {event.tier}"
        case "task_completed":
            by = f", {event.model}" if event.model else ""
            return (
                f"✓ {event.task_id} [{event.agent}]{by}: {event.usage.total_tokens} tokens, "
                f"{event.duration_s:.1f}s"
            )
        case "task_failed":
            retry = " (retrying)" if event.will_retry else ""
            return f"✗ {event.task_id} [{event.agent}]{retry}: {event.error[:160]}"
        case "task_skipped":
            return f"- {event.task_id} skipped: {event.reason[:160]}"
        case "replanned":
            return f"re-planned: {event.reason[:160]}"
        case "escalation":
            return f"? {event.escalation_id}: {event.question}"
        case "escalation_answered":
            return f"answered {event.escalation_id}: {event.effect}"
        case _:
            return None
