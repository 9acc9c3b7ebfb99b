"""The Python API: `Podium(config).run(goal)`, streaming, resume."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from langgraph.types import Command

from podium.agents import AgentSpec
from podium.policies import BudgetTracker, Redactor, redact_logs
from podium.tools import (
    BuiltinTools,
    Tool,
    ToolContext,
    ToolList,
    ToolRegistry,
    ToolSource,
    ToolSourceError,
    ToolWrapper,
    compose_tools,
    default_datasets_dir,
    open_tools,
)

from ._config import PodiumConfig
from ._errors import (
    ConfigError,
    GoalError,
    PlanError,
    PodiumError,
    RunNotFoundError,
    RunStateError,
)
from ._grants import check_grants
from .engine import _plan_cache as plan_cache
from .engine._context import RunContext
from .engine._effects import EFFECTS_FILE, EffectJournal
from .engine._escalation import (
    Decision,
    HumanAnswer,
    answered_event,
    parse_answer,
    resume_value,
)
from .engine._events import EscalationAnswered, RunEvent, RunFinished, RunStarted
from .engine._executor import TaskExecutor
from .engine._memory import RunMemory
from .engine._planning import plan_only
from .engine._playbooks import Playbooks, load_playbooks
from .engine._policy import (
    AuditSink,
    CheckedGoal,
    check_goal_input,
    check_goal_policy,
    goal_verdict,
)
from .engine._result import PlanResult, RunErrorKind, RunResult
from .engine._results import budget_stopped_result, finished_result, run_result, waiting_result
from .engine._routing import RoutingPolicy
from .engine._sinks import CallbackSink, EventFanout, EventSink, RedactedSink, event_sinks
from .engine._status import UNDER_WAY, RunStatus, check_resume
from .engine._supervisor import build_supervisor
from .executors._select import make_executor
from .models._model import (
    LiteLLMBackend,
    ModelBackend,
    ModelSeam,
    is_local_model,
    memory_budget,
    memory_min_score,
)
from .models._usage import Usage
from .storage._checkpoints import SharedCheckpointer
from .storage._store import (
    RunRecord,
    RunStore,
    listed_runs,
    new_run_id,
    open_run_store,
    owner_alive,
    settle_stale,
    storage_failure,
    storing,
    this_process,
)

if TYPE_CHECKING:
    from podium.memory import MemoryStore

EventHandler = Callable[[RunEvent], None]
log = logging.getLogger(__name__)
T = TypeVar("T")


class Podium:
    """A configured runtime: agents, tools, models and storage, ready to run goals."""

    def __init__(
        self,
        config: PodiumConfig | None = None,
        *,
        model: ModelBackend | None = None,
        agents: Iterable[AgentSpec] = (),
        tools: Iterable[Tool] = (),
        tool_sources: Iterable[ToolSource] = (),
        tool_wrapper: ToolWrapper | None = None,
        memory: MemoryStore | None = None,
        sinks: Iterable[EventSink] = (),
    ) -> None:
        """A run's tools are the built-ins, `tools` (a source named "Podium(tools=...)") and
        each of `tool_sources`, listed when the run starts. `tool_wrapper`, when given, wraps
        every tool at the tool seam: the eval cassettes use it to record and replay tool calls.
        `memory` shares one memory store between instances; by default each opens `[memory]`
        itself on its first run. `sinks` see the events of every run and resume of this
        instance (see `EventSink`)."""
        self.config = config or PodiumConfig.load()
        self.sinks: tuple[EventSink, ...] = event_sinks(sinks)
        """Event sinks of every run, after the audit log and before a call's own sinks."""
        redact_logs(Redactor(pii=frozenset(self.config.policies.redact_pii)))
        self.agents = self.config.agent_registry(agents)
        listed: list[ToolSource] = [BuiltinTools()]
        if extra := tuple(tools):
            listed.append(ToolList(PYTHON_TOOLS, extra))
        self.tool_sources: tuple[ToolSource, ...] = (*listed, *tool_sources)
        """Where runs get their tools (see podium.tools.ToolSource)."""
        self._tool_wrapper = tool_wrapper
        known = [s for s in self.tool_sources if isinstance(s, ToolList)]
        if len(known) == len(self.tool_sources):
            # Every tool is known without opening anything: a wrong grant fails here, before
            # any run (`podium serve` refuses to start), not at the first run's start.
            with _source_errors():
                offered = compose_tools((s.name, s.tools) for s in known)
            check_grants(self.agents, offered, self.config)
        self.playbooks: Playbooks | None = (
            load_playbooks(
                self.config.planner.playbooks_dir,
                agents=self.agents.names(),
                max_tasks=self.config.planner.max_tasks,
            )
            if self.config.planner.playbooks
            else None
        )
        """Plan templates matched to goals before planning; `problems` lists skipped files."""
        self.model: ModelBackend = model or LiteLLMBackend(self.config.models)
        self.executor: TaskExecutor = make_executor(
            self.config,
            self.model,
            tuple(self.agents.names()),
            self.tool_sources,
            tool_wrapper,
        )
        """Where task attempts run (`[run] executor`); Ray is started on the first run."""
        self.store: RunStore = open_run_store(self.config.storage)
        self._memory_saver: Any = None
        self._checkpoints = SharedCheckpointer(self.store.checkpointer)
        self._memory: MemoryStore | None = memory
        self._memory_tokens: int | None = None
        self._memory_floor: float | None = None
        self._owns_memory = False
        self._active: dict[str, asyncio.Task[RunResult]] = {}
        """Runs executing in this instance, by id: what `cancel` can stop."""
        self._cancel_requested: set[str] = set()
        self._contexts: dict[str, RunContext] = {}
        """The context of each run executing here, once built: what a run that breaks has done."""

    def memory(self) -> MemoryStore | None:
        """The shared memory store (opened on first use), or None when `[memory] enabled = false`."""
        if not self.config.memory.enabled:
            return None
        redact = Redactor(pii=frozenset(self.config.memory.redact_pii)).redact
        if self._memory is None:
            from podium.memory import MemoryStore, MemoryStoreError

            try:
                self._memory = MemoryStore(
                    self.config.memory, data_dir=self.config.storage.data_dir, redact=redact
                )
            except MemoryStoreError as exc:
                raise ConfigError(f"[memory]: {exc}") from None
            self._owns_memory = True
        elif self._memory.redact is None:
            self._memory.redact = redact  # a store handed in still never keeps a secret
        return self._memory

    def _plans_on_embedded_model(self) -> bool:
        """The frontier tier (planning, synthesis) is the embedded model, really serving."""
        return isinstance(self.model, LiteLLMBackend) and all(
            is_local_model(d.model) for d in self.config.models.deployments_for("frontier")
        )

    def _assembles_answers(self) -> bool:
        """Whether answers are put together from the run's facts (see `[run] synthesis`)."""
        mode = self.config.run.synthesis
        return mode == "facts" or (mode == "auto" and self._plans_on_embedded_model())

    def _memory_min_score(self) -> float:
        """As `_memory_budget`: from the configured models when they serve, else as configured."""
        if self._memory_floor is None:
            configured = self.config.memory.min_context_score
            self._memory_floor = (
                memory_min_score(self.config.models, configured)
                if isinstance(self.model, LiteLLMBackend)
                else configured or 0.0
            )
        return self._memory_floor

    def _memory_budget(self) -> int:
        """The memory section's budget, sized to the configured models' context windows; as
        configured when another backend serves (a cassette, a double: not those models)."""
        if self._memory_tokens is None:
            memory = self.config.memory
            self._memory_tokens = (
                memory_budget(
                    self.config.models, memory.max_context_tokens, memory.max_context_share
                )
                if isinstance(self.model, LiteLLMBackend)
                else memory.max_context_tokens
            )
        return self._memory_tokens

    def close(self) -> None:
        """Release what this instance opened (the memory store's Chroma client, Postgres connections)."""
        self.store.close()
        if self._owns_memory and self._memory is not None:
            self._memory.close()
            self._memory, self._owns_memory = None, False

    def _storing(self) -> contextlib.AbstractContextManager[None]:
        """Around calls into `self.store`: the failures of its disk or database become the
        StorageError that says what to do (see `storing`); other errors stay what they are."""
        return storing(self.config.storage.data_dir)

    # -- running -----------------------------------------------------------------------

    def run(self, goal: str | CheckedGoal, *, run_id: str | None = None) -> RunResult:
        """Run a goal to its end or its first question (blocking); see `arun`."""
        return _run_sync(self.arun(goal, run_id=run_id))

    async def arun(
        self,
        goal: str | CheckedGoal,
        *,
        run_id: str | None = None,
        on_event: EventHandler | None = None,
        sinks: Iterable[EventSink] = (),
        tenant: str | None = None,
    ) -> RunResult:
        """Run a goal; `tenant` scopes its shared memory (default: `[memory] tenant`).

        Its events go to the instance's sinks, then `sinks`, then `on_event` (a callback,
        wrapped as a sink), each event masked of secrets; what a sink raises is logged, and
        the run goes on.

        Returns the `RunResult` of every run that started, however it ended (`status`, and
        `error` and `error_kind` when it did not complete). Raises GoalError when the goal is
        refused before any work, PlanError when no valid plan is made (the run is recorded
        failed; `exc.result` is its RunResult), StorageError when the data folder fails."""
        tenant = tenant or self.config.memory.tenant
        queued: RunRecord | None = None
        checked: CheckedGoal | None = None
        if isinstance(goal, CheckedGoal):  # checked by its caller (`podium run`, before loading)
            checked = goal
        else:
            queued = self._queued_record(run_id, goal, tenant) if run_id is not None else None
            checked = None if queued is not None else self.check_goal(goal)
        watchers = self._watchers(on_event, sinks)  # a wrong sink is refused before a run starts
        await self.executor.start()  # a Ray cluster that cannot be reached fails here, not mid-run
        if queued is not None:
            record = queued  # queued by a server: its goal was checked then; keep its profile
        else:
            assert checked is not None
            record = RunRecord.begun(
                checked, "running", tenant=tenant, run_id=run_id, owner=this_process()
            )
        with self._storing():  # a full or read-only disk: said in one line; no run started
            self.store.save(record)
        return await self._cancellable(record, watchers, resumed=False)

    def _queued_record(self, run_id: str, goal: str, tenant: str) -> RunRecord | None:
        """The stored record of `run_id` if it waits in a queue for exactly this run (its goal
        checked when it was queued), running now."""
        try:
            with self._storing():
                stored = self.store.get(run_id)
        except RunNotFoundError:
            return None
        if stored.status != "queued" or stored.goal_verdict is None:
            return None
        if (stored.goal, stored.tenant) != (goal, tenant):
            return None
        return stored.moved_to("running", owner=this_process())

    async def astream(
        self, goal: str | CheckedGoal, *, run_id: str | None = None
    ) -> AsyncIterator[RunEvent]:
        """Events as they happen; the last one is RunFinished. PlanError is raised after its events."""
        async for event in _stream(lambda emit: self.arun(goal, run_id=run_id, on_event=emit)):
            yield event

    def plan(self, goal: str) -> PlanResult:
        """Plan a goal without running it (a dry run). Raises PlanError like `run`."""
        return _run_sync(self.aplan(goal))

    async def aplan(self, goal: str, *, on_event: EventHandler | None = None) -> PlanResult:
        """A dry run's plan; its events go to `on_event` alone (sinks watch runs: a plan
        that never runs has no run_started or run_finished to frame it)."""
        goal = self.check_goal(goal).goal
        events = EventFanout([CallbackSink(on_event)] if on_event else [])
        ctx = self._context(new_run_id(), goal, events.emit, self.config.memory.tenant)
        started = time.perf_counter()
        plan, usage, attempts = await plan_only(ctx)
        return PlanResult(
            plan=plan, usage=usage, attempts=attempts, seconds=time.perf_counter() - started
        )

    def resume(
        self,
        run_id: str,
        *,
        answers: Mapping[str, HumanAnswer | Mapping[str, Any] | str] | None = None,
    ) -> RunResult:
        """Continue a run (blocking); see `aresume` for `answers`."""
        return _run_sync(self.aresume(run_id, answers=answers))

    async def aresume(
        self,
        run_id: str,
        *,
        on_event: EventHandler | None = None,
        sinks: Iterable[EventSink] = (),
        answers: Mapping[str, HumanAnswer | Mapping[str, Any] | str] | None = None,
    ) -> RunResult:
        """Continue a cancelled, crashed or paused run; tasks that completed are restored, not re-run.

        Which runs resume is one rule for every interface (`engine/_status.py`): an ended run
        (completed, failed, budget_exceeded) or one under way elsewhere raises RunStateError. A
        run waiting for a human continues once `answers` (escalation id -> HumanAnswer, its
        mapping such as {"decision": "edit", "output": "..."}, or a bare "approve" / "reject")
        answer its pending escalations; the planner's question (a `clarify` escalation) is
        answered with text, or "reject". An answer that does not fit raises AnswerError.
        Events go to sinks as in `arun`."""
        watchers = self._watchers(on_event, sinks)
        with self._storing():
            record = settle_stale(self.store, self.store.get(run_id))
        self.check_resumable(record, answering=bool(answers))
        checked = self.check_answers(record, answers or {})
        await self.executor.start()
        if not checked:
            return await self._cancellable(record, watchers, resumed=True)
        pending = {e.id: e for e in (record.result.escalations if record.result else [])}
        # A human's words are kept like the goal (checkpoints, audit): masked the same way.
        masked = Redactor().redact_data  # secrets only: `redact_pii` is the audit log's
        resume = {
            str(pending[i].payload["interrupt_id"]): resume_value(i, masked(answer.as_resume()))
            for i, answer in checked.items()
        }
        return await self._cancellable(
            record, watchers, resumed=True, resume=resume, answered=checked
        )

    async def astream_resume(
        self,
        run_id: str,
        *,
        answers: Mapping[str, HumanAnswer | Mapping[str, Any] | str] | None = None,
    ) -> AsyncIterator[RunEvent]:
        async for event in _stream(
            lambda emit: self.aresume(run_id, on_event=emit, answers=answers)
        ):
            yield event

    def runs(self, *, tenant: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """Run records, newest first; only `tenant`'s when given, at most `limit`.

        A record left "running" by a process that is gone (killed, crashed) is marked
        "cancelled" here, so it shows as what it is: stopped, and resumable."""
        with self._storing():
            return listed_runs(self.store, tenant=tenant, limit=limit)

    def cancel(self, run_id: str) -> bool:
        """Stop a run this instance is executing (call it on the run's event loop).

        The run ends with status "cancelled"; its completed tasks stay checkpointed, so
        `aresume(run_id)` continues it without running them again. False when the run is not
        executing here (finished, waiting for a human, or run by another process)."""
        running = self._active.get(run_id)
        if running is None or running.done():
            return False
        self._cancel_requested.add(run_id)
        running.cancel()
        return True

    # -- internals ---------------------------------------------------------------------

    def check_goal(self, goal: str) -> CheckedGoal:
        """The goal as a run will hold it (stripped, secrets masked) with the input guard's
        verdict, or GoalError: empty, over `planner.max_goal_chars`, or blocked by the input
        policy. A run checks its goal once; an interface that refuses a goal before queueing it
        (`podium serve`: a 400) stores the result in the queued record, and the run uses that."""
        return check_goal_input(
            goal, max_chars=self.config.planner.max_goal_chars, config=self.config.policies
        )

    def check_resumable(
        self, record: RunRecord, *, answering: bool = False, under_way: str | None = None
    ) -> None:
        """RunStateError, saying what to do, unless `record`'s run can go on now: the one resume
        rule of every interface (`engine/_status.py`). `answering`: answers come with it;
        `under_way`: where the caller knows it executes (a server: in its queue)."""
        pending = [e.id for e in (record.result.escalations if record.result else [])]
        check_resume(
            record.run_id,
            record.status,
            under_way=under_way or self._under_way(record),
            answering=answering,
            pending=pending,
            error=record.error,
        )

    def _under_way(self, record: RunRecord) -> str | None:
        """Where the run executes now, as far as this process can tell: None when nowhere."""
        running = self._active.get(record.run_id)
        if running is not None and not running.done():
            return "running in this process"
        owner = record.owner
        if (
            record.status in UNDER_WAY
            and owner is not None
            and owner != this_process()
            and owner_alive(owner)  # None (another machine, container): the caller's call
        ):
            return f"running in another process ({owner.describe()})"
        return None

    def check_answers(
        self, record: RunRecord, answers: Mapping[str, HumanAnswer | Mapping[str, Any] | str]
    ) -> dict[str, HumanAnswer]:
        """The answers, each read as its escalation takes it (`parse_answer`), or the error that
        refuses one before the run resumes: RunStateError for an escalation that is not pending,
        AnswerError for an answer it does not take, GoalError for the answer to the planner's
        question that the goal's checks refuse (it is read like a goal: size, input policy)."""
        pending = {e.id: e for e in (record.result.escalations if record.result else [])}
        unknown = sorted(set(answers) - set(pending))
        if unknown:
            raise RunStateError(
                f"run {record.run_id!r} has no pending escalation(s) {unknown}: "
                + (f"pending are {sorted(pending)}" if pending else "none is pending")
            )
        checked = {i: parse_answer(answer, pending[i]) for i, answer in answers.items()}
        for escalation_id, answer in checked.items():
            if answer.decision is not Decision.ANSWER or answer.text is None:
                continue  # only the planner's question takes an answer
            limit = self.config.planner.max_goal_chars
            if len(answer.text) > limit:
                raise GoalError(
                    f"the answer to {escalation_id!r} is {len(answer.text)} characters, over the "
                    f"limit of {limit}: shorten it, or put long material in a workspace file"
                )
            check_goal_policy(answer.text, self.config.policies)  # GoalError when it blocks
        return checked

    def _tool_context(self, run_id: str) -> ToolContext:
        tools = self.config.tools
        return ToolContext(
            workspace=tools.workspace.resolve(),
            datasets_dir=(tools.datasets or default_datasets_dir()).resolve(),
            http_enabled=tools.http.enabled,
            http_allowlist=tuple(tools.http.allowlist),
            run_id=run_id,
            outbox=(tools.outbox or self.config.storage.data_dir / "outbox").resolve(),
            look_up_named=self._looks_up_named(),
        )

    @contextlib.asynccontextmanager
    async def _run_tools(self) -> AsyncIterator[ToolRegistry]:
        """The run's tools: listed from its sources when it starts, open until it ends, and
        checked against the agents and policies as at construction (a source may list tools
        no one knew of before)."""
        async with contextlib.AsyncExitStack() as stack:
            with _source_errors():
                tools = await stack.enter_async_context(
                    open_tools(self.tool_sources, wrap=self._tool_wrapper)
                )
            check_grants(self.agents, tools, self.config)
            yield tools

    def _looks_up_named(self) -> bool:
        """Whether tool-first agents are shown what their task names first (`[run] lookups`)."""
        mode = self.config.run.lookups
        return mode == "on" or (
            mode == "auto"
            and isinstance(self.model, LiteLLMBackend)
            and all(is_local_model(d.model) for d in self.config.models.deployments_for("cheap"))
        )

    def _context(self, run_id: str, goal: str, emit: EventHandler, tenant: str) -> RunContext:
        budget = BudgetTracker(**self.config.budget.model_dump())
        store = self.memory()
        return RunContext(
            memory=(
                RunMemory(
                    store,
                    tenant,
                    run_id,
                    max_context_tokens=self._memory_budget(),
                    min_score=self._memory_min_score(),
                )
                if store is not None
                else None
            ),
            run_id=run_id,
            config=self.config,
            seam=ModelSeam(self.model, budget),
            routing=RoutingPolicy(self.config.routing),
            budget=budget,
            agents=self.agents,
            tool_context=self._tool_context(run_id),
            executor=self.executor,
            emit=emit,
            goal=goal,
            playbooks=self.playbooks,
            assemble_answer=self._assembles_answers(),
            fill_playbooks_from_data=self._plans_on_embedded_model(),
        )

    @contextlib.asynccontextmanager
    async def _checkpointer(self) -> AsyncIterator[Any]:
        if self.config.storage.checkpointer == "memory":
            from langgraph.checkpoint.memory import InMemorySaver

            self._memory_saver = self._memory_saver or InMemorySaver()
            yield self._memory_saver
        else:
            async with self._checkpoints.use() as saver:  # shared by concurrent runs
                yield saver

    def _watchers(self, on_event: EventHandler | None, sinks: Iterable[EventSink]) -> EventFanout:
        """Who watches one run call, in order: the instance's sinks, the call's, its callback.
        They see events masked of secrets (as the goal); the audit log, added by `_execute`,
        masks them itself."""
        watchers = [
            *self.sinks,
            *event_sinks(sinks),
            *([CallbackSink(on_event)] if on_event else []),
        ]
        # No watcher, nothing to mask for: masking costs ~1 ms an event (every text scanned).
        return EventFanout([RedactedSink(EventFanout(watchers), Redactor())] if watchers else [])

    def _audited(self, run_id: str, watchers: EventSink) -> EventSink:
        """The run's whole stream: its audit log first (`[policies] audit`), then `watchers`."""
        if not self.config.policies.audit:
            return watchers
        with self._storing():
            audit = AuditSink(self.store.run_dir(run_id), self.config.policies)
        return EventFanout([audit, watchers])

    async def _execute(
        self,
        record: RunRecord,
        watchers: EventSink,
        *,
        resumed: bool,
        resume: dict[str, Any] | None = None,
        answered: Mapping[str, HumanAnswer] = MappingProxyType({}),
    ) -> RunResult:
        run_id, goal = record.run_id, record.goal
        events = self._audited(run_id, watchers)
        decided = _answered_events(record, answered)  # before the record drops its escalations
        # What paused or cancelled tries spent before: no checkpoint holds it, its result does.
        carried = record.result.unsettled_usage if record.result else Usage()
        if record.status != "running" or record.owner != this_process():
            # Resumed: running again, in this process, until it finishes anew.
            record = record.moved_to("running", result=None, owner=this_process())
            with self._storing():
                self.store.save(record)
        events.emit(RunStarted(run_id=run_id, goal=goal, resumed=resumed))
        for event in decided:  # here, once: the graph's replay asks again, never answers
            events.emit(event)
        ctx = self._context(run_id, goal, events.emit, record.tenant)
        ctx.unsettled = carried
        self._contexts[run_id] = ctx
        ctx.policies.answered = frozenset(answered)
        with self._storing():
            ctx.effects = EffectJournal(self.store.run_dir(run_id) / EFFECTS_FILE)
        ctx.policies.record_goal(record.goal_verdict or goal_verdict(goal, self.config.policies))
        graph_config: Any = {"configurable": {"thread_id": run_id}, "recursion_limit": 10_000}
        async with self._checkpointer() as saver, self._run_tools() as tools:
            ctx.tools = tools  # listed as the run starts; open until its graph is done
            workflow = build_supervisor(ctx, saver)
            # With no checkpoint yet (a crash before the first write) the goal must be given again.
            has_checkpoint = resumed and await saver.aget_tuple(graph_config) is not None
            try:
                start: Any = Command(resume=resume) if resume else None if has_checkpoint else goal
                raw = await _with_backstop(
                    workflow.ainvoke(start, graph_config), self.config.budget.max_wall_s
                )
                if "__interrupt__" in raw:
                    result = waiting_result(ctx, raw["__interrupt__"])
                else:
                    result = finished_result(ctx, raw)
            except asyncio.CancelledError:
                self._finish_cancelled(ctx, events)
                raise
            except TimeoutError:
                result = budget_stopped_result(
                    ctx,
                    f"budget exceeded: wall_time limit of {self.config.budget.max_wall_s:g} seconds reached",
                )
            except PlanError as exc:
                self._finish_failed(ctx, events, exc)
                raise
        if ctx.memory is not None and result.status == "completed":
            result = await _remembered(ctx.memory, goal, result)
        with self._storing():
            record = self.store.get(run_id)
            self.store.save(record.moved_to(result.status, error=result.error, result=result))
        events.emit(
            RunFinished(
                run_id=run_id,
                status=result.status,
                answer=result.answer,
                usage=result.usage,
                error=result.error,
                error_kind=result.error_kind,
            )
        )
        return result

    async def _cancellable(
        self,
        record: RunRecord,
        watchers: EventSink,
        *,
        resumed: bool,
        resume: dict[str, Any] | None = None,
        answered: Mapping[str, HumanAnswer] = MappingProxyType({}),
    ) -> RunResult:
        """Execute in a task of its own, so `cancel` stops this run and nothing around it."""
        run_id = record.run_id
        if run_id in self._active:
            raise RunStateError(f"run {run_id!r} is already running in this process")
        running = asyncio.ensure_future(
            self._execute(record, watchers, resumed=resumed, resume=resume, answered=answered)
        )
        self._active[run_id] = running
        try:
            return await running
        except asyncio.CancelledError:
            current = asyncio.current_task()
            with self._storing():
                stored = self.store.get(run_id)
            if stored.status == "running":  # cancelled before the graph started
                ctx = self._contexts.get(run_id) or self._context(
                    run_id, record.goal, watchers.emit, record.tenant
                )
                self._finish_cancelled(ctx, watchers)
                with self._storing():
                    stored = self.store.get(run_id)
            asked = run_id in self._cancel_requested
            if asked and (current is None or not current.cancelling()) and stored.result:
                return stored.result  # `cancel` stopped it: the caller gets the cancelled result
            raise
        except PlanError as exc:
            # Recorded "failed" by `_execute`, with its result, rejected plans and event.
            raise _raised_here(exc) from None
        except Exception as exc:
            error = self._finish_broken(run_id, watchers, exc)
            if error is exc:
                raise
            raise error from exc
        finally:
            self._active.pop(run_id, None)
            self._cancel_requested.discard(run_id)
            self._contexts.pop(run_id, None)
            watchers.run_ended(run_id)

    def _finish_broken(self, run_id: str, events: EventSink, exc: Exception) -> Exception:
        """Record a run stopped by an error outside its task graph's own handling (a memory
        server that cannot be reached, a full disk, a bug), so that no record stays "running";
        return the error to raise.

        A failure of the disk or database under the data folder ends the run "cancelled":
        its completed tasks are checkpointed and `resume` continues it once that is fixed.
        Anything else ends it "failed", with the error."""
        interruption = storage_failure(exc, self.config.storage.data_dir)
        status: RunStatus = "failed"
        kind = RunErrorKind.REFUSED if isinstance(exc, GoalError) else RunErrorKind.ERROR
        if interruption is not None:
            status, kind = "cancelled", RunErrorKind.CANCELLED
            error = f"{interruption.message}; then `podium resume {run_id}` continues the run"
        elif isinstance(exc, PodiumError):
            error = str(exc)
        else:
            error = f"{type(exc).__name__}: {exc}"
        ctx = self._contexts.get(run_id)
        result = run_result(ctx, status, error=error, error_kind=kind) if ctx else None
        try:
            record = self.store.get(run_id)
            if record.status not in UNDER_WAY:
                return interruption or exc  # it had ended (the error came after): as recorded
            self.store.save(record.moved_to(status, error=error, result=result))
        except (OSError, sqlite3.Error, PodiumError) as failure:
            # The store failed as well (the same full disk): the record still says "running";
            # listing runs marks it once this process is gone.
            log.warning("run %s: its record could not be updated (%s)", run_id, failure)
        usage = result.usage if result else Usage()
        events.emit(
            RunFinished(
                run_id=run_id,
                status=status,
                answer=None,
                usage=usage,
                error=error,
                error_kind=kind,
            )
        )
        return interruption or exc

    def _finish_cancelled(self, ctx: RunContext, events: EventSink) -> None:
        error = f"cancelled: `podium resume {ctx.run_id}` continues it"
        result = run_result(ctx, "cancelled", error=error, error_kind=RunErrorKind.CANCELLED)
        self._finish_with(result, events)

    def _finish_failed(self, ctx: RunContext, events: EventSink, exc: PlanError) -> None:
        """No plan: the run ends failed with what it spent, kept in its record and on `exc`."""
        result = run_result(ctx, "failed", error=exc.message, error_kind=RunErrorKind.PLAN)
        exc.result = result
        rejected = [{"output": a.output, "problems": list(a.problems)} for a in exc.attempts]
        self._finish_with(result, events, rejected_plans=rejected)

    def _finish_with(self, result: RunResult, events: EventSink, **extra: Any) -> None:
        """Store a result the entrypoint did not return (the run stopped around it) and say so."""
        with self._storing():
            record = self.store.get(result.run_id)
            self.store.save(
                record.moved_to(result.status, error=result.error, result=result, **extra)
            )
        events.emit(
            RunFinished(
                run_id=result.run_id,
                status=result.status,
                answer=None,
                usage=result.usage,
                error=result.error,
                error_kind=result.error_kind,
            )
        )


def _answered_events(
    record: RunRecord, answers: Mapping[str, HumanAnswer]
) -> list[EscalationAnswered]:
    """The audit events of the answers a resume brings, in the order the run asked."""
    asked = record.result.escalations if record.result else []
    return [answered_event(record.run_id, e, answers[e.id]) for e in asked if e.id in answers]


async def _remembered(memory: RunMemory, goal: str, result: RunResult) -> RunResult:
    """A completed `result`, once its answer and plan are offered to shared memory.

    Only what passed its guards is kept as trusted, and only a plan whose every output was
    accepted is offered to later goals. Memory is an aid: when keeping them fails (the memory
    server went down after the last task), the answer stands, completed and saved, with a
    warning that says what was not kept."""
    try:
        await memory.run_done(goal, result.answer if result.answer_guarded else None)
        await plan_cache.keep(memory, goal, result)
    except Exception as exc:  # whatever breaks in memory, the answer is computed
        lost = f"memory did not keep this run's answer and plan ({type(exc).__name__}: {exc})"
        log.warning("run %s: %s", result.run_id, lost)
        memory.warnings.append(lost)
    # The result's own warnings (a playbook's problems) stay; memory's new ones are added.
    new = [w for w in memory.warnings if w not in result.warnings]
    return result.model_copy(update={"warnings": [*result.warnings, *new]})


WALL_TIME_GRACE_S = 5.0
"""The seam stops model calls at the wall-time limit; this backstop also stops a run stuck elsewhere (a tool)."""


async def _with_backstop(run: Coroutine[Any, Any, T], max_wall_s: float) -> T:
    if not max_wall_s:
        return await run
    async with asyncio.timeout(max_wall_s + WALL_TIME_GRACE_S):
        return await run


PYTHON_TOOLS = "Podium(tools=...)"
"""The name of the source holding the tools handed to `Podium(tools=...)`."""


@contextlib.contextmanager
def _source_errors() -> Iterator[None]:
    """A tool source that cannot list, or that clashes with another, as the ConfigError that
    says which sources and what to change (the run fails with it, without a traceback)."""
    try:
        yield
    except ToolSourceError as exc:
        raise ConfigError(exc.message) from exc


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on a loop of its own; a Podium error is raised from here, without the frames
    of the event loop it came through."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coro.close()
        raise RuntimeError(
            "Podium.run() was called inside a running event loop: use `await podium.arun(...)`"
        )
    try:
        return asyncio.run(coro)
    except PodiumError as exc:
        raise _raised_here(exc) from None


E = TypeVar("E", bound=BaseException)

FRAMEWORK_NOTE = "During task with name "
"""How LangGraph's runner annotates an exception raised inside a graph task (`add_note`)."""


def _raised_here(exc: E) -> E:
    """`exc` as if raised where it is raised again: without the frames it came through
    (LangGraph's runner, asyncio) and LangGraph's note. A Podium error says what happened
    and what to do; the framework's frames would bury that under 60 lines."""
    exc.__traceback__ = None
    notes = getattr(exc, "__notes__", None)
    if notes:
        exc.__notes__ = [n for n in notes if not n.startswith(FRAMEWORK_NOTE)]
    return exc


async def _stream(start: Callable[[EventHandler], Any]) -> AsyncIterator[RunEvent]:
    queue: asyncio.Queue[RunEvent | None] = asyncio.Queue()
    runner = asyncio.ensure_future(start(queue.put_nowait))
    runner.add_done_callback(lambda _: queue.put_nowait(None))
    try:
        while (event := await queue.get()) is not None:
            yield event
        await runner  # re-raises PlanError and friends after their events were seen
    finally:
        if not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
