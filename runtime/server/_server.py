"""`podium serve`: goals over HTTP, live events over SSE, an OpenAI-compatible endpoint, the web page.

The server's event loop answers HTTP and streams events; it holds the bounded queue of runs and
starts up to `[server] concurrency` of them at once on an executor (a thread, or worker
processes: runtime/server/_workers.py). Every run's events are kept in a log in memory (seq 0, 1, ...)
so any number of subscribers see all of them, from the start or from the last one they saw.
Every run belongs to the tenant of the API key that made it; other tenants get 404 for it.

    POST /runs                              submit a goal (202: run id, queued); with
                                            Accept: text/event-stream, its SSE stream at once
    GET  /runs, /runs/{id}, /runs/{id}/result
    GET  /runs/{id}/events                  SSE; ?after=N or Last-Event-ID to continue
    POST /runs/{id}/cancel, /runs/{id}/resume
    POST /runs/{id}/escalations/{esc_id}    a HumanAnswer (approve | edit | reject | instruct | answer),
                                            then the run continues
    GET  /agents, /healthz, /openapi.json
    POST /v1/chat/completions, GET /v1/models   (runtime/server/_openai.py)
    GET  /                                  the web chat page (runtime/server/web/)
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import errno
import functools
import gc
import hmac
import ipaddress
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, TypeAdapter

from .._config import PodiumConfig, ServerConfig
from .._errors import (
    ConfigError,
    ErrorCode,
    PodiumError,
    RunNotFoundError,
    RunStateError,
)
from ..engine._escalation import (
    Decision,
    EscalationSummary,
    HumanAnswer,
    decisions_for,
    summary as escalation_summary,
)
from ..engine._events import RunEvent, RunQueued
from ..engine._result import Escalation, RunErrorKind, RunResult
from ..engine._sinks import EventSink
from ..engine._status import CANCELLABLE, UNDER_WAY, RunStatus
from ..models._usage import Usage
from ..storage._store import RunRecord, settle_stale
from ._conversation import Turn, goal_with_context, request_of
from ._workers import (
    Job,
    PodiumFactory,
    ProcessExecutor,
    RunExecutor,
    ThreadExecutor,
    outcome_event,
    record_outcome,
)

if TYPE_CHECKING:
    from .._api import Podium

logger = logging.getLogger("podium.server")

WEB_DIR = Path(__file__).parent / "web"
HEARTBEAT_S = 15.0
STORE_THREADS = 4
API_KEY_ENV = "PODIUM_API_KEY"
_EVENT = TypeAdapter[RunEvent](RunEvent)


class ApiError(PodiumError):
    """An HTTP error with a stable code, answered as {"error": {"code", "message"}}."""

    code = "api_error"
    """Each instance carries its own: "unauthorized", "invalid_messages", ..."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


_STATUS_OF: dict[str, int] = {
    ErrorCode.GOAL: 400,
    ErrorCode.CONFIG: 400,
    ErrorCode.RUN_NOT_FOUND: 404,
    ErrorCode.RUN_STATE: 409,
    ErrorCode.ANSWER: 422,
    ErrorCode.PLAN: 422,
}


def status_of(exc: PodiumError) -> int:
    return _STATUS_OF.get(exc.code, 500)


# -- the API's shapes ----------------------------------------------------------------------


class SubmitRun(BaseModel):
    goal: str = Field(min_length=1)
    """What to get done."""
    conversation: list[Turn] = []
    """Earlier turns, oldest first: given to the run as bounded context (`[planner] max_goal_chars`)."""
    profile: str | None = None
    """A `[server.profiles]` name; default: the server's own configuration."""


class PendingEscalation(Escalation):
    """An escalation waiting for its answer, with the decisions it takes."""

    decisions: list[Decision]
    summary: EscalationSummary
    """What it is about, in a person's words (a tool call as its fields, an email as To /
    Subject / Body): what the CLI and the chat show."""


class RunSummary(BaseModel):
    run_id: str
    goal: str
    request: str = ""
    """The goal as the person asked it: without the earlier chat turns folded into `goal`."""
    status: RunStatus
    tenant: str
    created_at: float
    updated_at: float
    profile: str | None = None
    error: str | None = None
    error_kind: RunErrorKind | None = None
    """Why it did not complete, as `RunResult.error_kind` (the OpenAI endpoint's `error.code`)."""
    answer: str | None = None
    usage: Usage | None = None
    escalations: list[PendingEscalation] = []
    """Pending questions when status is waiting_for_human; answer each at `links.escalations`/{id}
    with one of its `decisions`."""
    links: dict[str, str] = {}


class RunDetail(RunSummary):
    result: RunResult | None = None


class AgentInfo(BaseModel):
    name: str
    description: str
    tier: str
    tools: list[str]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    running: int
    queued: int
    concurrency: int
    queue_size: int


# -- runs: queue, workers, event logs -------------------------------------------------------


class RunLog(EventSink):
    """One run's events in order, the event sink behind SSE and the web page; `active` while
    the run is queued or executing.

    Lives on the server's event loop: the run's own sink relays its events here (see
    runtime/server/_workers.py). Events from worker processes arrive as JSON and are parsed
    only when something asks for them (`event`): SSE sends the JSON as it came."""

    def __init__(self) -> None:
        self._events: list[RunEvent | None] = []
        self._data: list[str] = []
        self.frames: list[bytes] = []
        """Each event as an SSE frame, encoded once for every subscriber."""
        self.active = True
        self._waiters: list[asyncio.Future[None]] = []

    def __len__(self) -> int:
        return len(self.frames)

    def emit(self, event: RunEvent) -> None:
        self.emit_json(event.kind, event.model_dump_json(), event)

    def emit_json(self, kind: str, data: str, event: RunEvent | None = None) -> None:
        seq = len(self.frames)
        self._events.append(event)
        self._data.append(data)
        self.frames.append(f"id: {seq}\nevent: {kind}\ndata: {data}\n\n".encode())
        self._notify()

    def event(self, seq: int) -> RunEvent:
        event = self._events[seq]
        if event is None:
            event = self._events[seq] = parse_event(self._data[seq])
        return event

    def settle(self) -> None:
        self.active = False
        self._notify()

    def _notify(self) -> None:
        # A future per waiting follower, made only when one waits (an asyncio.Event made for
        # every event, watched or not, was allocation the loop paid at every event relayed).
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def follow(self, after: int = -1) -> AsyncIterator[range | None]:
        """The events after `after` as they arrive, as ranges of sequence numbers (all that
        arrived together), None as a heartbeat every HEARTBEAT_S of silence; ends once the run
        is at rest and everything was seen."""
        seq = after + 1
        while True:
            if seq < len(self.frames):
                end = len(self.frames)
                yield range(seq, end)
                seq = end
                continue
            if not self.active:
                return
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout(HEARTBEAT_S):
                    await waiter
            except TimeoutError:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                yield None


def _store_threads() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(STORE_THREADS, thread_name_prefix="podium-store")


@dataclass
class RunService:
    """The server's runs: submission, the bounded queue, cancellation, event logs.

    Everything here runs on the server's event loop; the runs execute elsewhere (a thread or
    worker processes, see runtime/server/_workers.py) and report back through `on_event`/`on_done`."""

    factory: PodiumFactory
    settings: ServerConfig
    tokens: Mapping[str, str] = field(default_factory=dict)
    """Bearer token -> tenant. Empty: no authentication, every run is the default tenant's."""
    _podiums: dict[str | None, Podium] = field(default_factory=dict)
    _executors: list[RunExecutor] = field(default_factory=list)
    _waiting: collections.deque[Job] = field(default_factory=collections.deque)
    _queued: dict[str, Job] = field(default_factory=dict)
    _running: dict[str, tuple[Job, RunExecutor]] = field(default_factory=dict)
    _profiles: dict[str, str | None] = field(default_factory=dict)
    _logs: dict[str, RunLog] = field(default_factory=dict)
    _saving: int = 0
    """Submissions whose record is being stored: they hold a place in the queue."""
    _store_threads: concurrent.futures.ThreadPoolExecutor = field(default_factory=_store_threads)

    # -- lifecycle

    def podium(self, profile: str | None = None) -> Podium:
        if profile not in self._podiums:
            if profile is not None and profile not in self.podium().config.server.profiles:
                known = sorted(self.podium().config.server.profiles)
                raise ConfigError(f"no profile {profile!r}: configured profiles are {known}")
            self._podiums[profile] = self.factory(profile)
        return self._podiums[profile]

    @property
    def default_tenant(self) -> str:
        return self.podium().config.memory.tenant

    def start(self) -> None:
        if self._executors:
            return
        if self.settings.workers == 0:
            self._executors = [ThreadExecutor(self.podium, self)]
            return
        _check_picklable(self.factory)
        self._executors = [
            ProcessExecutor(self.factory, self, self.podium(), f"worker-{n}")
            for n in range(self.settings.workers)
        ]

    async def aclose(self) -> None:
        """Stop: runs under way end "cancelled" (resumable); queued runs stay queued."""
        for job in self._waiting:
            job.dropped = True
        self._waiting.clear()
        executors, self._executors = self._executors, []
        await asyncio.gather(*(e.stop() for e in executors))
        for podium in self._podiums.values():
            podium.close()
        self._podiums.clear()
        threads, self._store_threads = self._store_threads, _store_threads()
        threads.shutdown(wait=True)  # a new pool (no threads until used) if started again

    # -- what the executors report

    def on_event(self, run_id: str, event: RunEvent) -> None:
        self._log(run_id).emit(event)

    def on_event_json(self, run_id: str, kind: str, data: str) -> None:
        self._log(run_id).emit_json(kind, data)

    def on_done(self, job: Job) -> None:
        self._running.pop(job.run_id, None)
        if job.run_id not in self._queued:  # not queued again meanwhile (a quick answer)
            self._log(job.run_id).settle()
        self._trim_logs()
        self._pump()

    # -- what the endpoints call

    async def submit(self, request: SubmitRun, tenant: str) -> RunRecord:
        podium = self.podium(request.profile)
        limit = podium.config.planner.max_goal_chars
        goal = goal_with_context(request.goal, request.conversation, max_chars=limit)
        checked = podium.check_goal(goal)  # GoalError -> 400 before anything is queued
        self._make_room()
        record = RunRecord.begun(checked, "queued", tenant=tenant, profile=request.profile)
        # Stored before it is acknowledged or started, on the store's threads: a run's folder
        # and file are 0.1-0.5 ms of disk work (the more the workers write, the slower) that
        # must not hold up the loop; at 500 runs submitted at once they were ~100 ms of the
        # p99 time to a first event.
        self._saving += 1
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._store_threads, podium.store.save, record
            )
        finally:
            self._saving -= 1
        self._enqueue(Job(record.run_id, tenant, request.profile, checked.goal, fresh=True))
        return record

    def log_of(self, record: RunRecord) -> RunLog:
        """The event log of a run this server queued (`submit`'s record: no store read)."""
        return self._log(record.run_id)

    def record(self, run_id: str, tenant: str) -> RunRecord:
        """The run's record; RunNotFoundError for another tenant's run, as for a missing one.
        A record left "running" by a process that is gone reads "cancelled" (resumable)."""
        store = self.podium().store
        record = store.get(run_id)
        if record.tenant != tenant:
            raise RunNotFoundError(f"no run {run_id!r}: list yours with GET /runs")
        return record if run_id in self._running else settle_stale(store, record)

    def status(self, record: RunRecord) -> RunStatus:
        """The record's status, or what this server is doing with the run (queued, running)."""
        if record.run_id in self._queued:
            return "queued"
        return "running" if record.run_id in self._running else record.status

    def summary(self, record: RunRecord, *, detail: bool = False) -> RunDetail | RunSummary:
        status = self.status(record)
        result = record.result
        fields: dict[str, Any] = {
            "run_id": record.run_id,
            "goal": record.goal,
            "request": request_of(record.goal),
            "status": status,
            "tenant": record.tenant,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "profile": self._profiles.get(record.run_id, record.profile),
            "error": record.error,
            "error_kind": result.error_kind if result else None,
            "answer": result.answer if result else None,
            "usage": result.usage if result else None,
            "escalations": pending(result) if result and status == "waiting_for_human" else [],
            "links": links(record.run_id),
        }
        return RunDetail(**fields, result=result) if detail else RunSummary(**fields)

    async def list(self, tenant: str, limit: int, status: RunStatus | None) -> list[RunRecord]:
        # Reading every record is file or database work: off the server's loop.
        records = await asyncio.to_thread(
            self.podium().runs, tenant=tenant, limit=None if status else limit
        )
        if status is not None:
            records = [r for r in records if self.status(r) == status]
        return records[:limit]

    def answer(self, run_id: str, tenant: str, escalation_id: str, answer: HumanAnswer) -> None:
        record = self.record(run_id, tenant)
        profile = self._profiles.get(run_id, record.profile)
        podium = self.podium(profile)
        podium.check_resumable(record, answering=True, under_way=self._here(run_id))
        # Refused before anything is queued: an answer the escalation does not take.
        checked = podium.check_answers(record, {escalation_id: answer})
        self._make_room()
        answers = {i: a.as_resume() for i, a in checked.items()}  # plain data: workers pickle it
        self._enqueue(Job(run_id, tenant, profile, record.goal, False, answers))

    def resume(self, run_id: str, tenant: str) -> None:
        record = self.record(run_id, tenant)
        profile = self._profiles.get(run_id, record.profile)
        self.podium(profile).check_resumable(record, under_way=self._here(run_id))
        self._make_room()
        self._enqueue(Job(run_id, tenant, profile, record.goal, fresh=False))

    def cancel(self, run_id: str, tenant: str) -> None:
        record = self.record(run_id, tenant)
        if (job := self._queued.pop(run_id, None)) is not None:
            job.dropped = True
            if not job.fresh and record.status == "waiting_for_human":
                self._log(run_id).settle()  # an answer withdrawn: it still waits for a human
                return
            self._finish(record, "cancelled", "cancelled while queued: resume it to run it")
        elif (running := self._running.get(run_id)) is not None:
            job, executor = running
            executor.cancel(job)  # the run records it; completed tasks stay checkpointed
        elif record.status in CANCELLABLE:
            self._finish(record, "cancelled", "cancelled: resume it to continue")
        else:
            raise RunStateError(f"run {run_id!r} is {record.status}: there is nothing to cancel")

    def events(self, run_id: str, tenant: str) -> RunLog:
        """The run's event log; a run not executed by this process gets its outcome only."""
        record = self.record(run_id, tenant)
        if (existing := self._logs.get(run_id)) is not None:
            return existing
        if record.status in UNDER_WAY:
            raise RunStateError(
                f"run {run_id!r} is {record.status} but not in this server's queue (a server "
                f"stopped while it ran): continue it with POST /runs/{run_id}/resume"
            )
        replay = RunLog()
        replay.emit(outcome_event(record))
        replay.settle()
        return replay

    def health(self) -> Health:
        return Health(
            running=len(self._running),
            queued=len(self._queued),
            concurrency=self.settings.concurrency,
            queue_size=self.settings.queue_size,
        )

    # -- the queue

    def _make_room(self) -> None:
        capacity = self.settings.concurrency + self.settings.queue_size
        if len(self._running) + len(self._queued) + self._saving >= capacity:
            raise ApiError(
                503,
                "queue_full",
                f"{len(self._running)} runs executing and {len(self._queued)} queued: the queue "
                "is full ([server] queue_size); try again later",
            )

    def _here(self, run_id: str) -> str | None:
        """Where this server holds the run, when it does: in its queue, or executing."""
        if run_id in self._queued:
            return "queued on this server"
        return "running on this server" if run_id in self._running else None

    def _enqueue(self, job: Job) -> None:
        self.start()
        self._queued[job.run_id] = job
        self._profiles[job.run_id] = job.profile
        log = self._log(job.run_id)
        log.active = True
        log.emit(RunQueued(run_id=job.run_id, position=len(self._waiting)))
        self._waiting.append(job)
        self._pump()

    def _pump(self) -> None:
        """Start waiting jobs while a slot is free, each on the least loaded executor."""
        self.start()
        while self._waiting and len(self._running) < self.settings.concurrency:
            job = self._waiting.popleft()
            if job.dropped:
                continue
            self._queued.pop(job.run_id, None)
            executor = min(self._executors, key=lambda e: e.load())
            self._running[job.run_id] = (job, executor)
            executor.start_job(job)

    def _finish(self, record: RunRecord, status: RunStatus, error: str) -> None:
        """Record an outcome the runtime did not (a run cancelled while not executing)."""
        run_log = self._log(record.run_id)
        run_log.emit(record_outcome(self.podium(), record, status, error))
        run_log.settle()

    def _log(self, run_id: str) -> RunLog:
        if run_id not in self._logs:
            self._logs[run_id] = RunLog()
        return self._logs[run_id]

    def _trim_logs(self) -> None:
        excess = len(self._logs) - self.settings.kept_event_logs
        if excess <= 0:
            return
        for run_id in [r for r, lg in self._logs.items() if not lg.active][:excess]:
            del self._logs[run_id]


def links(run_id: str) -> dict[str, str]:
    base = f"/runs/{run_id}"
    return {
        "self": base,
        "events": f"{base}/events",
        "result": f"{base}/result",
        "cancel": f"{base}/cancel",
        "resume": f"{base}/resume",
        "escalations": f"{base}/escalations",
    }


# -- authentication -------------------------------------------------------------------------


def resolve_tokens(
    settings: ServerConfig,
    *,
    api_key: str | None = None,
    default_tenant: str = "default",
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Bearer token -> tenant, from `[server.keys]` (tokens read from their environment
    variables) and `api_key` (--api-key or $PODIUM_API_KEY, for the default tenant)."""
    env = os.environ if environ is None else environ
    tokens: dict[str, str] = {}
    for name, key in settings.keys.items():
        token = env.get(key.token_env, "")
        if not token:
            raise ConfigError(
                f"server.keys.{name}: the environment variable {key.token_env} is not set "
                "(it holds the key's bearer token; tokens never go in podium.toml)"
            )
        if len(token) < 16:
            raise ConfigError(
                f"server.keys.{name}: the token in {key.token_env} is under 16 characters; "
                "use a long random one (python -c 'import secrets; print(secrets.token_urlsafe())')"
            )
        tokens[token] = key.tenant
    api_key = api_key or env.get(API_KEY_ENV) or None
    if api_key:
        tokens[api_key] = default_tenant
    return tokens


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(host: str, tokens: Mapping[str, str]) -> None:
    """Any address but loopback needs API keys: a run executes tools and spends money."""
    if not is_loopback(host) and not tokens:
        raise ConfigError(
            f"refusing to listen on {host}: a server reachable from other machines needs API "
            f"keys. Add [server.keys.NAME] (token_env, tenant) to podium.toml, set {API_KEY_ENV}, "
            "or pass --api-key; or listen on 127.0.0.1"
        )


async def tenant_of(request: Request) -> str:
    service: RunService = request.app.state.runs
    if not service.tokens:
        return service.default_tenant
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        given = token.strip().encode()
        for known, tenant in service.tokens.items():
            if hmac.compare_digest(known.encode(), given):
                return tenant
    raise ApiError(401, "unauthorized", "send a valid API key: `Authorization: Bearer <token>`")


Tenant = Annotated[str, Depends(tenant_of)]


# -- the app --------------------------------------------------------------------------------


def create_app(
    source: Podium | PodiumConfig | PodiumFactory,
    *,
    tokens: Mapping[str, str] | None = None,
    settings: ServerConfig | None = None,
) -> FastAPI:
    """The HTTP app. `source` is a Podium (one configuration), a PodiumConfig (a Podium per
    `[server.profiles]` entry, built on first use), or a factory `(profile | None) -> Podium`.

    `tokens` (bearer token -> tenant) default to `[server.keys]`, read from the environment;
    `settings` default to the configuration's `[server]` section."""
    factory = _factory(source)
    service = RunService(factory=factory, settings=ServerConfig())
    service.settings = settings or service.podium().config.server
    service.tokens = (
        dict(tokens)
        if tokens is not None
        else resolve_tokens(service.settings, default_tenant=service.default_tenant)
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        yield
        await service.aclose()

    app = FastAPI(
        title="Podium",
        summary="Submit goals, follow their task graphs live, answer escalations.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads from a CDN: Podium stays offline; /openapi.json is served
        redoc_url=None,
    )
    app.state.runs = service

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if request.url.path.startswith("/v1/"):
            return openai_error(exc.status, exc.code, exc.message, headers)
        return JSONResponse(
            {"error": {"code": exc.code, "message": exc.message}}, exc.status, headers
        )

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """A body or query the API's models refuse: 422, said in the API's own error shape."""
        code = ErrorCode.ANSWER if "/escalations/" in request.url.path else "request_invalid"
        message = "; ".join(_problem(e) for e in exc.errors())
        if request.url.path.startswith("/v1/"):
            return openai_error(422, str(code), message)
        return JSONResponse({"error": {"code": str(code), "message": message}}, 422)

    @app.exception_handler(PodiumError)
    async def podium_error(request: Request, exc: PodiumError) -> JSONResponse:
        status = status_of(exc)
        if request.url.path.startswith("/v1/"):
            return openai_error(status, str(exc.code), exc.message)
        return JSONResponse({"error": {"code": str(exc.code), "message": exc.message}}, status)

    _run_routes(app, service)
    from ._openai import openai_routes

    openai_routes(app, service)
    _page_routes(app)
    return app


def _problem(error: Mapping[str, Any]) -> str:
    where = ".".join(str(p) for p in error.get("loc", ())[1:])  # past "body" / "query"
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def pending(result: RunResult) -> list[PendingEscalation]:
    """The run's pending escalations, each with the decisions it takes."""
    return [
        PendingEscalation(
            **e.model_dump(),
            decisions=list(decisions_for(e.reason, e.task_id)),
            summary=escalation_summary(e),
        )
        for e in result.escalations
    ]


def settle_heap() -> None:
    """Move what is alive now (the runtime's modules, litellm's price map, the Podium: about
    250,000 objects) out of the garbage collector's sight. Each full collection walked them
    all: ~120 ms of a stalled event loop each time a burst of requests set one off."""
    gc.collect()
    gc.freeze()


def openai_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    if status == 401:
        kind = "authentication_error"
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status, dict(headers) if headers else None)


def podium_from_config(config: PodiumConfig, profile: str | None) -> Podium:
    """A Podium for `config` (with `profile` applied): what worker processes build."""
    from .._api import Podium

    return Podium(config.with_profile(profile) if profile else config)


def _check_picklable(factory: PodiumFactory) -> None:
    import pickle

    try:
        pickle.dumps(factory)
    except Exception as exc:
        raise ConfigError(
            f"[server] workers > 0 needs a Podium factory that can be sent to another process "
            f"(a PodiumConfig, or a module-level function): {type(exc).__name__}: {exc}. "
            "Set workers = 0 to run a Podium built in Python on the server's own process"
        ) from None


def _factory(source: Podium | PodiumConfig | PodiumFactory) -> PodiumFactory:
    from .._api import Podium

    if isinstance(source, Podium):
        podium = source

        def single(profile: str | None) -> Podium:
            if profile is None:
                return podium
            return Podium(podium.config.with_profile(profile), model=podium.model)

        return single
    if isinstance(source, PodiumConfig):
        return functools.partial(podium_from_config, source)
    return source


def _run_routes(app: FastAPI, service: RunService) -> None:
    @app.post(
        "/runs",
        status_code=202,
        tags=["runs"],
        response_model=RunSummary,
        responses={200: {"content": {"text/event-stream": {}}, "description": "streamed"}},
    )
    async def submit_run(
        body: SubmitRun, tenant: Tenant, accept: Annotated[str, Header()] = ""
    ) -> Response | RunSummary:
        """Queue a goal; follow it at `links.events`. With `Accept: text/event-stream` the
        answer is that stream itself (200; the run id in the `X-Podium-Run-Id` header and in
        the first event, run_queued): one request to submit and watch."""
        record = await service.submit(body, tenant)
        if "text/event-stream" not in accept:
            return service.summary(record)
        run_log = service.log_of(record)
        headers = {
            **SSE_HEADERS,
            "X-Podium-Run-Id": record.run_id,
            "Location": links(record.run_id)["self"],
        }
        return StreamingResponse(_sse(run_log, -1), media_type="text/event-stream", headers=headers)

    @app.get("/runs", tags=["runs"])
    async def list_runs(
        tenant: Tenant,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        status: RunStatus | None = None,
    ) -> list[RunSummary]:
        """Your runs, newest first."""
        return [service.summary(r) for r in await service.list(tenant, limit, status)]

    @app.get("/runs/{run_id}", tags=["runs"])
    async def get_run(run_id: str, tenant: Tenant) -> RunDetail:
        summary = service.summary(service.record(run_id, tenant), detail=True)
        assert isinstance(summary, RunDetail)
        return summary

    @app.get("/runs/{run_id}/result", tags=["runs"], responses={409: {"description": "not done"}})
    async def get_result(run_id: str, tenant: Tenant) -> RunResult:
        """The RunResult once the run has come to rest (finished, waiting, cancelled)."""
        record = service.record(run_id, tenant)
        if record.result is None or service.status(record) in UNDER_WAY:
            raise RunStateError(f"run {run_id!r} is {record.status}: no result yet")
        return record.result

    @app.get(
        "/runs/{run_id}/events",
        tags=["runs"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def run_events(
        run_id: str,
        tenant: Tenant,
        after: Annotated[int, Query(ge=-1)] = -1,
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> StreamingResponse:
        """Server-sent events: `id` is the event's number in the run, `event` its kind, `data`
        the event as JSON. The stream ends when the run comes to rest; continue after
        answering an escalation with ?after=<last id> (or Last-Event-ID)."""
        run_log = service.events(run_id, tenant)
        if last_event_id and last_event_id.strip().lstrip("-").isdigit():
            after = max(after, int(last_event_id))
        return StreamingResponse(
            _sse(run_log, after), media_type="text/event-stream", headers=SSE_HEADERS
        )

    @app.post("/runs/{run_id}/cancel", tags=["runs"])
    async def cancel_run(run_id: str, tenant: Tenant) -> RunSummary:
        """Stop a queued or running run; completed tasks stay checkpointed (resume continues)."""
        service.cancel(run_id, tenant)
        return service.summary(service.record(run_id, tenant))

    @app.post("/runs/{run_id}/resume", status_code=202, tags=["runs"])
    async def resume_run(run_id: str, tenant: Tenant) -> RunSummary:
        """Continue a cancelled run, or one a stopped server left queued or running."""
        service.resume(run_id, tenant)
        return service.summary(service.record(run_id, tenant))

    @app.post("/runs/{run_id}/escalations/{escalation_id}", status_code=202, tags=["runs"])
    async def answer_escalation(
        run_id: str, escalation_id: str, body: HumanAnswer, tenant: Tenant
    ) -> RunSummary:
        """Answer what the run asked with one of the decisions the escalation lists (approve,
        edit, reject, instruct, answer); the run continues at once. 422: an answer it does not
        take; 409: the run waits for no such answer."""
        service.answer(run_id, tenant, escalation_id, body)
        return service.summary(service.record(run_id, tenant))

    @app.get("/agents", tags=["info"])
    async def list_agents(tenant: Tenant) -> list[AgentInfo]:
        return [
            AgentInfo(name=s.name, description=s.description, tier=s.tier, tools=list(s.tools))
            for s in service.podium().agents.specs()
        ]

    @app.get("/healthz", tags=["info"])
    async def health() -> Health:
        return service.health()


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def _sse(run_log: RunLog, after: int) -> AsyncIterator[bytes]:
    yield b"retry: 2000\n\n"
    async for arrived in run_log.follow(after):
        if arrived is None:
            yield b": keep-alive\n\n"
        else:  # one write for all that arrived together
            yield b"".join(run_log.frames[arrived.start : arrived.stop])


def _page_routes(app: FastAPI) -> None:
    page_headers = {
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return FileResponse(WEB_DIR / "index.html", headers=page_headers)

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")


def parse_event(data: str) -> RunEvent:
    """An event from its SSE `data` line (clients of this server use it)."""
    return _EVENT.validate_json(data)


# -- running it -----------------------------------------------------------------------------


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one (read it back from `getsockname()`).
    ConfigError, saying what to change, when the address cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise _bind_error(host, port, exc) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _bind_error(host: str, port: int, exc: OSError) -> ConfigError:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(
            f"port {port} on {host} is already in use (another `podium serve`?): choose "
            "another with --port N ([server] port), or --port 0 for any free port"
        )
    if exc.errno == errno.EACCES:
        return ConfigError(
            f"listening on {where} is not allowed for this user (ports below 1024 need "
            "privileges): choose a port above 1023 with --port N ([server] port)"
        )
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return ConfigError(
            f"{host!r} is not an address of this machine: choose one with --host "
            "([server] host), e.g. 127.0.0.1 or 0.0.0.0"
        )
    return ConfigError(f"cannot listen on {where}: {exc.strerror or exc}")


def serve(
    app: FastAPI,
    *,
    host: str,
    port: int,
    access_log: bool = True,
    on_ready: Callable[[int], None] | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Run `app` under uvicorn until interrupted (Ctrl-C, SIGTERM stop it gracefully).
    `sock`: a socket `bind` already opened for `host` and `port` (so a busy port is reported
    before the app is built)."""
    import uvicorn

    sock = sock or bind(host, port)
    actual = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        log_level="info",
        access_log=access_log,
        timeout_graceful_shutdown=5,
        backlog=2048,
    )
    server = uvicorn.Server(config)
    settle_heap()  # this process is the server's: the app and its Podium are built by now
    if on_ready is not None:
        on_ready(actual)
    server.run(sockets=[sock])
