"""The Ray executor: each task attempt's agent loop runs as a Ray task; the supervisor stays here.

The driver (this process) keeps the LangGraph graph, the checkpoints, the failure ladder, the
budget and the event stream. A worker gets a `RemoteAttempt` (task, agent spec, inputs, memory
section, tools, a snapshot of the run's budget and tool counters) and, once per executor, a
`WorkerSetup` (the config and the model backend); it runs the agent loop (model turns, tool
calls, output guard) and returns an `AttemptOutcome`: the output or the failure as data, the
usage, the guard verdicts and the events its policy emitted, which the driver re-emits in order.

- Model backend: LiteLLMBackend is rebuilt from `[models]` in each worker process. Any other
  backend is sent as it is and must be picklable and stateless (FunctionModel with a function
  of the request); ScriptedModel refuses to pickle, since every worker would get its own copy of
  the queue.
- Budget: a worker starts from the run's spending so far and stops at the run's limits; the
  driver adds what it spent. Attempts running at the same time each start from the same
  snapshot, so a limit may be overshot by what the attempts in flight spend.
- Approvals: a worker cannot pause a LangGraph run. A tool call that needs a human ends the
  attempt with the request; the driver raises the interrupt (the run pauses, checkpointed) and,
  once it is answered, sends the attempt again with the answer (earlier side-effecting calls
  are answered from the effect journal, not repeated).
- Tools: the worker gets the run's tool sources once, as the descriptions they are (the
  built-ins pickle as a name; an MCP source as its command or URL), and per attempt the names
  of the agent's tools and of their sources. It opens those sources for the attempt and
  lists the tools there: no open session crosses to a worker.
- A worker that dies (killed, out of memory, a crash in a tool) fails the try like any error.
  Ray's own retries are off, so Podium's ladder decides: retry, escalate, re-plan.
- Memory: the prompt's memory section is retrieved by the driver. The memory tools in a worker
  need a Chroma server (`[memory] host`); an embedded store belongs to the driver's process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from langgraph.errors import GraphBubbleUp
from langgraph.types import interrupt

from podium.agents import AgentOutput, AgentSpec, GuardRejected, Tier, run_agent
from podium.policies import (
    BudgetExceeded,
    BudgetTracker,
    Limit,
    Redactor,
    Verdict,
    redact_logs,
)
from podium.tools import (
    JSONValue,
    Tool,
    ToolContext,
    ToolError,
    ToolSource,
    ToolWrapper,
    open_tools,
)

from .._config import ModelsConfig, PodiumConfig, RunConfig
from .._errors import ConfigError
from ..engine._events import RunEvent
from ..engine._executor import (
    AgentAttempt,
    AttemptFailed,
    ExecutorName,
    TaskChat,
    describe_failure,
    journaled_tools as _journaled_tools,
)
from ..engine._plan import Task
from ..engine._policy import RunPolicies, TaskPolicy
from ..models._model import LiteLLMBackend, ModelBackend, ModelSeam
from ..models._usage import Usage

if TYPE_CHECKING:
    from podium.memory import MemoryStore

    from ..engine._memory import TaskMemoryAccess

log = logging.getLogger("podium.ray")

INSTALL_HINT = 'pip install "podium[ray]"'


# -- what crosses to a worker and back -------------------------------------------------------


@dataclass(frozen=True)
class BudgetSnapshot:
    """The run's limits and its spending when an attempt is sent, for the worker to stop at."""

    max_usd: float
    max_tokens: int
    max_calls: int
    max_wall_s: float
    usd: float
    tokens: int
    calls: int
    elapsed_s: float
    """Seconds since the run started (monotonic clocks differ between machines)."""

    @classmethod
    def of(cls, budget: BudgetTracker) -> BudgetSnapshot:
        return cls(
            max_usd=budget.max_usd,
            max_tokens=budget.max_tokens,
            max_calls=budget.max_calls,
            max_wall_s=budget.max_wall_s,
            usd=budget.usd,
            tokens=budget.tokens,
            calls=budget.calls,
            elapsed_s=time.monotonic() - budget.started,
        )

    def tracker(self) -> BudgetTracker:
        """A tracker in the worker that counts on from the snapshot against the same limits."""
        return BudgetTracker(
            max_usd=self.max_usd,
            max_tokens=self.max_tokens,
            max_calls=self.max_calls,
            max_wall_s=self.max_wall_s,
            started=time.monotonic() - self.elapsed_s,
            usd=self.usd,
            tokens=self.tokens,
            calls=self.calls,
        )


@dataclass(frozen=True)
class RemoteAttempt:
    """One attempt as a worker receives it."""

    run_id: str
    goal: str
    task: Task
    spec: AgentSpec
    tier: Tier
    inputs: dict[str, str]
    untrusted_inputs: frozenset[str]
    memory: str
    trusted: tuple[str, ...]
    untrusted: tuple[str, ...]
    tools: tuple[str, ...]
    """The agent's tools, by name."""
    tool_sources: frozenset[str]
    """The names of the sources they come from: the worker opens those (see WorkerSetup)."""
    tool_context: ToolContext
    """Without its memory handle, which the worker opens itself (see `memory_scope`)."""
    memory_scope: tuple[str, frozenset[str]] | None
    """(tenant, upstream task ids) when the run has shared memory."""
    budget: BudgetSnapshot
    tool_calls: dict[str, int]
    """The run's tool gate counters so far (per tool, and in total below)."""
    tool_total: int
    approvals: dict[str, Any]
    """Human answers to approval requests, by escalation id."""
    effects_path: Path | None
    siblings: dict[str, str]
    """The other tasks' accepted outputs when the attempt started (no_debris compares)."""
    max_result_tokens: int
    """The bound on one tool message (see `AgentAttempt`)."""
    prompt_room: int | None
    """Tokens a prompt may take (see `AgentAttempt`)."""


@dataclass(frozen=True)
class WorkerSetup:
    """What every attempt of one executor shares (sent to the cluster once)."""

    config: PodiumConfig
    backend: ModelBackend | None
    """None: rebuild LiteLLMBackend from `config.models` in the worker."""
    agent_names: tuple[str, ...]
    tool_sources: tuple[ToolSource, ...]
    """The run's tool sources, as descriptions: opened by the worker for each attempt."""
    tool_wrapper: ToolWrapper | None
    """Wraps each tool the worker lists, as the driver's run does (eval cassettes)."""


OutcomeKind = Literal["completed", "refused", "budget", "failed", "approval"]


@dataclass
class AttemptOutcome:
    """What came of an attempt in the worker, as data (exceptions do not all pickle)."""

    kind: OutcomeKind
    output: AgentOutput | None = None
    error: str = ""
    """failed: "<ExceptionType>: <message>", as the ladder reports failures."""
    verdict: Verdict | None = None
    """refused: the guard's verdict; `rejected` is the refused output."""
    rejected: str = ""
    limit: tuple[Limit, float, float] | None = None
    """budget: (limit, spent, allowed)."""
    approval: dict[str, Any] | None = None
    """approval: the interrupt payload of the call waiting for a human."""
    usage: Usage = field(default_factory=Usage)
    model: str | None = None
    repairs: list[str] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    events: list[RunEvent] = field(default_factory=list)
    untrusted: list[str] = field(default_factory=list)
    """Texts the worker's taint tracker learned (tool and memory results)."""
    spent: tuple[float, int, int] = (0.0, 0, 0)
    """(usd, tokens, calls) counted by the worker's budget."""
    tool_calls: dict[str, int] = field(default_factory=dict)
    """Tool calls the gate let through in the worker, per tool."""
    pid: int = 0


# -- starting Ray -----------------------------------------------------------------------------

_start_lock = threading.Lock()


def connect(run: RunConfig) -> ModuleType:
    """Ray, initialised once per process: the cluster at `run.ray_address`, else a local Ray.

    Whoever initialised Ray first in this process wins (a test fixture, an embedding app);
    later calls reuse that connection. Usage statistics are off unless the environment says
    otherwise, and no dashboard is started."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            f'[run] executor = "ray" needs Ray, which is not installed: {INSTALL_HINT}'
        ) from None
    with _start_lock:
        if ray.is_initialized():
            return ray
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # read by Ray's own processes too
        # The raylet waits this long for Ray's agent process to start (default 30 s). On a
        # loaded 2-core machine the agent took 37-44 s, and the local Ray failed to start
        # ("The current node timed out during startup"): allow two minutes.
        os.environ.setdefault("RAY_agent_register_timeout_ms", "120000")
        options: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,  # worker failures come back as task errors, not log lines
            "logging_level": logging.WARNING,
            "namespace": "podium",
            "runtime_env": run.ray_runtime_env or None,
        }
        where = run.ray_address or "a local Ray"
        try:
            # On this thread, not a helper thread: Ray's processes die with the thread that
            # started them (PR_SET_PDEATHSIG).
            if run.ray_address:
                _check_reachable(run.ray_address)
                ray.init(address=run.ray_address, **options)
            else:
                # "local" ignores RAY_ADDRESS; the loopback address keeps Ray from probing the
                # network for this node's address.
                ray.init(
                    address="local",
                    num_cpus=run.ray_num_cpus,
                    _node_ip_address="127.0.0.1",
                    **options,
                )
        except ConfigError:
            raise
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            hint = (
                "check that the cluster is up (`ray status --address ...`) and the address is "
                "reachable, or set `[run] ray_address` to none to start a local Ray"
                if run.ray_address
                else "see Ray's logs under /tmp/ray/session_latest/logs"
            )
            raise ConfigError(
                f"could not start the Ray executor on {where}: {type(exc).__name__}: {first}; {hint}"
            ) from None
    return ray


CONNECT_TIMEOUT_S = 5.0


def _check_reachable(address: str) -> None:
    """Fail fast on an address nothing listens at: Ray itself retries for minutes."""
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", or a form Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ConfigError(
            f"the Ray cluster at {address!r} cannot be reached ({exc.strerror or exc}): check "
            "`[run] ray_address` (PODIUM_RAY_ADDRESS) and that the head node is up "
            "(`ray status`), or leave ray_address unset to start a local Ray"
        ) from None


# -- the driver's side ------------------------------------------------------------------------


class RayExecutor:
    """Runs each task attempt as a Ray task (see the module docstring for what runs where)."""

    name: ExecutorName = "ray"

    def __init__(
        self,
        config: PodiumConfig,
        backend: ModelBackend,
        agent_names: tuple[str, ...],
        tool_sources: tuple[ToolSource, ...] = (),
        tool_wrapper: ToolWrapper | None = None,
    ) -> None:
        self.config = config
        self.backend = backend
        self.agent_names = agent_names
        self.tool_sources = tool_sources
        self.tool_wrapper = tool_wrapper
        self._ray: ModuleType | None = None
        self._setup: Any = None
        """The WorkerSetup's ObjectRef in Ray's object store."""
        self._remote: Any = None

    async def start(self) -> None:
        if self._ray is not None:
            return
        ray = connect(self.config.run)
        _check_tools(ray, self.tool_sources, self.tool_wrapper)
        setup = WorkerSetup(
            config=_without_storage_secrets(self.config),
            backend=_shippable_backend(ray, self.backend),
            agent_names=self.agent_names,
            tool_sources=self.tool_sources,
            tool_wrapper=self.tool_wrapper,
        )
        self._setup = ray.put(setup)
        self._remote = ray.remote(max_retries=0, num_cpus=self.config.run.ray_task_cpus)(
            run_in_worker
        )
        self._ray = ray

    async def run(self, attempt: AgentAttempt) -> AgentOutput:
        await self.start()
        approvals: dict[str, Any] = {}
        while True:
            outcome = await self._dispatch(attempt, approvals)
            _account(attempt, outcome)
            if outcome.kind != "approval":
                _report(attempt, outcome)
                return _result(attempt, outcome)
            assert outcome.approval is not None
            try:
                # Raises GraphInterrupt on the first pass: the run pauses, checkpointed. On
                # resume it returns the human's answer, and the attempt goes again with it.
                answer = interrupt(outcome.approval)
            except GraphBubbleUp:
                _report(attempt, outcome)  # the escalation event reaches the stream
                raise
            # The attempt is sent again: its events and verdicts come back from that one.
            approvals[str(outcome.approval["id"])] = answer

    async def _dispatch(self, attempt: AgentAttempt, approvals: dict[str, Any]) -> AttemptOutcome:
        assert self._ray is not None
        ray = self._ray
        job = _remote_attempt(attempt, approvals)
        try:
            ref = self._remote.options(name=f"podium:{attempt.task.id}").remote(job, self._setup)
        except Exception as exc:
            raise AttemptFailed(
                f"{type(exc).__name__}: task {attempt.task.id!r} could not be sent to Ray: {exc}"
            ) from None
        try:
            outcome: AttemptOutcome = await ref
        except asyncio.CancelledError:
            ray.cancel(ref, force=True)  # the run stopped waiting: stop the work too
            raise
        except ray.exceptions.RayError as exc:
            raise AttemptFailed(_ray_failure(ray, attempt.task, exc)) from None
        return outcome


def _without_storage_secrets(config: PodiumConfig) -> PodiumConfig:
    """Workers never touch the run store: its URL (a secret) stays in the driver."""
    storage = config.storage.model_copy(update={"postgres_url": None, "checkpointer": "sqlite"})
    return config.model_copy(update={"storage": storage})


def _check_tools(
    ray: ModuleType, sources: tuple[ToolSource, ...], wrapper: ToolWrapper | None
) -> None:
    """Refuse, before a run starts, a tool source (or wrapper) that cannot be sent to a worker."""
    described = [(f"tool source {s.name!r}", s) for s in sources]
    for what, item in [*described, ("the tool wrapper", wrapper)]:
        try:
            ray.cloudpickle.dumps(item)
        except Exception as exc:
            raise ConfigError(
                f"{what} cannot be sent to Ray workers ({type(exc).__name__}: {exc}): a source "
                "must pickle as a description (no open session); tools and their functions "
                "must be defined at module level, importable on the workers "
                '(`[run] ray_runtime_env`); or use executor = "asyncio"'
            ) from None


def _shippable_backend(ray: ModuleType, backend: ModelBackend) -> ModelBackend | None:
    if type(backend) is LiteLLMBackend:
        return None  # rebuilt from [models] in each worker
    # A backend that must not be copied says so by refusing to pickle (ScriptedModel does, with
    # the reason), so no backend needs naming here.
    try:
        ray.cloudpickle.dumps(backend)
    except Exception as exc:
        raise ConfigError(
            f"the model backend {type(backend).__name__} cannot be sent to Ray workers "
            f"({type(exc).__name__}: {exc}): LiteLLMBackend is rebuilt from [models] in each "
            'worker; another backend must pickle, or use executor = "asyncio"'
        ) from None
    return backend


def _remote_attempt(attempt: AgentAttempt, approvals: dict[str, Any]) -> RemoteAttempt:
    memory = attempt.tool_context.memory
    scope = _memory_scope(memory)
    gate = attempt.policy.run.gate
    return RemoteAttempt(
        run_id=attempt.run_id,
        goal=attempt.goal,
        task=attempt.task,
        spec=attempt.spec,
        tier=attempt.chat.tier,
        inputs=dict(attempt.inputs),
        untrusted_inputs=attempt.untrusted_inputs,
        memory=attempt.memory,
        trusted=tuple(attempt.trusted),
        untrusted=tuple(attempt.untrusted),
        tools=tuple(t.name for t in attempt.tools),
        tool_sources=frozenset(t.source for t in attempt.tools),
        tool_context=dataclasses.replace(attempt.tool_context, memory=None),
        memory_scope=scope,
        budget=BudgetSnapshot.of(attempt.budget),
        tool_calls=dict(gate.calls),
        tool_total=gate.total,
        approvals=dict(approvals),
        effects_path=attempt.effects.path if attempt.effects is not None else None,
        siblings=dict(attempt.policy.siblings()),
        max_result_tokens=attempt.max_result_tokens,
        prompt_room=attempt.prompt_room,
    )


def _memory_scope(memory: object) -> tuple[str, frozenset[str]] | None:
    from ..engine._memory import TaskMemoryAccess

    if isinstance(memory, TaskMemoryAccess):
        return memory.run.tenant, memory.upstream
    return None


def _account(attempt: AgentAttempt, outcome: AttemptOutcome) -> None:
    """What the worker spent and learned, whatever came of it: usage, budget, gate, taint."""
    attempt.chat.usage += outcome.usage
    attempt.chat.model = outcome.model or attempt.chat.model
    attempt.chat.repairs.extend(outcome.repairs)
    usd, tokens, calls = outcome.spent
    attempt.budget.add(usd=usd, tokens=tokens, calls=calls)
    gate = attempt.policy.run.gate
    for tool, n in outcome.tool_calls.items():
        gate.calls[tool] = gate.calls.get(tool, 0) + n
        gate.total += n
    attempt.policy.taint.add_untrusted(*outcome.untrusted)


def _report(attempt: AgentAttempt, outcome: AttemptOutcome) -> None:
    attempt.policy.verdicts.extend(outcome.verdicts)
    for event in outcome.events:
        attempt.policy.run.emit(event)


def _result(attempt: AgentAttempt, outcome: AttemptOutcome) -> AgentOutput:
    match outcome.kind:
        case "completed":
            assert outcome.output is not None
            return outcome.output
        case "refused":
            assert outcome.verdict is not None
            raise GuardRejected(outcome.verdict, outcome.rejected)
        case "budget":
            assert outcome.limit is not None
            exceeded = BudgetExceeded(*outcome.limit)
            attempt.budget.stopped = attempt.budget.stopped or exceeded
            raise exceeded
        case "failed" | "approval":
            raise AttemptFailed(outcome.error)


def _ray_failure(ray: ModuleType, task: Task, exc: Exception) -> str:
    """A Ray error as the ladder reports it: what happened to the worker, in Ray's words."""
    errors = ray.exceptions
    said = " ".join(str(exc).split())[:300]
    if isinstance(exc, errors.RayTaskError):
        cause = getattr(exc, "cause", None)
        detail = f"{type(cause).__name__}: {cause}" if cause is not None else said
        hint = (
            " (Ray workers import your code: see `[run] ray_runtime_env`)"
            if isinstance(cause, ImportError)
            else ""
        )
        return f"RayTaskError: task {task.id!r} failed in its Ray worker: {detail}{hint}"
    if isinstance(exc, errors.WorkerCrashedError | errors.NodeDiedError | errors.ObjectLostError):
        return (
            f"{type(exc).__name__}: the Ray worker running task {task.id!r} died before it "
            f"finished (killed, out of memory, or crashed); Ray says: {said}"
        )
    return f"{type(exc).__name__}: Ray could not run task {task.id!r}: {said}"


# -- the worker's side ------------------------------------------------------------------------


class _ApprovalNeeded(Exception):
    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(f"a human's approval is needed: {payload.get('question', '')}")
        self.payload = payload


def run_in_worker(job: RemoteAttempt, setup: WorkerSetup) -> AttemptOutcome:
    """The Ray task: one attempt's agent loop, on this worker's own event loop."""
    return _worker_loop().run_until_complete(_attempt(job, setup))


@functools.cache
def _worker_loop() -> asyncio.AbstractEventLoop:
    # One loop for the worker's life: litellm's clients are bound to the loop they started on.
    return asyncio.new_event_loop()


async def _attempt(job: RemoteAttempt, setup: WorkerSetup) -> AttemptOutcome:
    config = setup.config
    _redact_logs(tuple(config.policies.redact_pii))
    budget = job.budget.tracker()
    backend = setup.backend or _litellm(config.models)
    chat = TaskChat(ModelSeam(backend, budget), job.run_id, job.task, job.tier)
    events: list[RunEvent] = []
    run = RunPolicies(config.policies, job.run_id, events.append, setup.agent_names)
    run.gate.calls, run.gate.total = dict(job.tool_calls), job.tool_total
    policy = TaskPolicy(
        run,
        job.spec,
        job.task.id,
        trusted=job.trusted,
        untrusted=job.untrusted,
        approve=functools.partial(_approve, job.approvals),
        siblings=functools.partial(dict, job.siblings),
    )
    known_untrusted = len(policy.taint.untrusted)
    context = dataclasses.replace(job.tool_context, memory=_worker_memory(config, job))
    effects = None
    if job.effects_path is not None:
        from ..engine._effects import EffectJournal

        effects = EffectJournal(job.effects_path)
    outcome = await _outcome(job, setup, chat, policy, context, effects)
    outcome.usage, outcome.model, outcome.repairs = chat.usage, chat.model, chat.repairs
    outcome.verdicts, outcome.events = list(policy.verdicts), events
    outcome.untrusted = policy.taint.untrusted[known_untrusted:]
    outcome.spent = (
        budget.usd - job.budget.usd,
        budget.tokens - job.budget.tokens,
        budget.calls - job.budget.calls,
    )
    outcome.tool_calls = {
        tool: n - job.tool_calls.get(tool, 0)
        for tool, n in run.gate.calls.items()
        if n != job.tool_calls.get(tool, 0)
    }
    outcome.pid = os.getpid()
    return outcome


async def _outcome(
    job: RemoteAttempt,
    setup: WorkerSetup,
    chat: TaskChat,
    policy: TaskPolicy,
    context: ToolContext,
    effects: Any,
) -> AttemptOutcome:
    try:
        async with _worker_tools(job, setup) as tools:
            output = await run_agent(
                job.spec,
                instruction=job.task.instruction,
                inputs=job.inputs,
                chat=chat,
                tools=_journaled_tools(tools, effects),
                tool_context=context,
                output_schema=job.task.output_schema,
                goal=job.goal,
                memory=job.memory,
                policy=policy,
                max_result_tokens=job.max_result_tokens,
                prompt_room=job.prompt_room,
                untrusted_inputs=job.untrusted_inputs,
            )
    except _ApprovalNeeded as exc:
        return AttemptOutcome("approval", approval=exc.payload, error=str(exc))
    except BudgetExceeded as exc:
        return AttemptOutcome("budget", limit=(exc.limit, exc.spent, exc.allowed))
    except GuardRejected as exc:
        return AttemptOutcome("refused", verdict=exc.verdict, rejected=exc.rejected)
    except Exception as exc:
        return AttemptOutcome("failed", error=describe_failure(exc))
    return AttemptOutcome("completed", output=output)


@contextlib.asynccontextmanager
async def _worker_tools(job: RemoteAttempt, setup: WorkerSetup) -> AsyncIterator[list[Tool]]:
    """The attempt's tools, listed here from the sources they came from in the driver and open
    for the attempt (a source that fails to list, or lists them no more, fails the try)."""
    sources = [s for s in setup.tool_sources if s.name in job.tool_sources]
    async with open_tools(sources, wrap=setup.tool_wrapper) as tools:
        yield tools.for_agent(job.tools)


@functools.cache
def _redact_logs(pii: tuple[str, ...]) -> None:
    """The worker's log records pass the same redaction as the driver's (once per process)."""
    redact_logs(Redactor(pii=frozenset(pii)))


def _approve(approvals: dict[str, Any], payload: dict[str, Any]) -> Any:
    """The worker's stand-in for LangGraph's interrupt: a known answer, or back to the driver."""
    key = str(payload["id"])
    if key in approvals:
        return approvals[key]
    raise _ApprovalNeeded(payload)


_backends: dict[str, LiteLLMBackend] = {}


def _litellm(models: ModelsConfig) -> LiteLLMBackend:
    """One Router per worker process and `[models]` (it keeps cooldowns and connections)."""
    key = models.model_dump_json()
    if key not in _backends:
        _backends[key] = LiteLLMBackend(models)
    return _backends[key]


def _worker_memory(config: PodiumConfig, job: RemoteAttempt) -> Any:
    if job.memory_scope is None:
        return None
    if not config.memory.host:
        return _DriverOnlyMemory()
    return _ServerMemory(config, job)


class _DriverOnlyMemory:
    """The memory tools' handle when the store is embedded in the driver's process."""

    async def search(self, query: str, k: int) -> list[JSONValue]:
        raise ToolError(_EMBEDDED)

    async def write(self, text: str, *, private: bool) -> str:
        raise ToolError(_EMBEDDED)


_EMBEDDED = (
    "shared memory is an embedded store in the supervisor's process, out of reach of Ray "
    "workers: the memory tools need a Chroma server ([memory] host and port)"
)


class _ServerMemory:
    """The memory tools' handle on a Chroma server, opened on first use."""

    def __init__(self, config: PodiumConfig, job: RemoteAttempt) -> None:
        self.config, self.job = config, job
        self._access: TaskMemoryAccess | None = None

    def _open(self) -> TaskMemoryAccess:
        if self._access is None:
            from ..engine._memory import RunMemory, TaskMemoryAccess

            assert self.job.memory_scope is not None
            tenant, upstream = self.job.memory_scope
            run = RunMemory(_memory_store(self.config), tenant, self.job.run_id)
            self._access = TaskMemoryAccess(run, self.job.task, upstream)
        return self._access

    async def search(self, query: str, k: int) -> list[JSONValue]:
        return await self._open().search(query, k)

    async def write(self, text: str, *, private: bool) -> str:
        return await self._open().write(text, private=private)


_stores: dict[str, MemoryStore] = {}


def _memory_store(config: PodiumConfig) -> MemoryStore:
    from podium.memory import MemoryStore

    key = config.memory.model_dump_json()
    if key not in _stores:
        redact = Redactor(pii=frozenset(config.memory.redact_pii)).redact
        _stores[key] = MemoryStore(config.memory, data_dir=config.storage.data_dir, redact=redact)
    return _stores[key]
