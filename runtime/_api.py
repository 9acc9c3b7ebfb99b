"""The Python API: `Podium(config).run(goal)`, streaming, resume."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from langgraph.types import Command

from podium.agents import AgentRegistry, AgentSpec
from podium.policies import BudgetTracker, Redactor, redact_logs
from podium.tools import Tool, ToolContext, ToolRegistry, default_datasets_dir

from ._config import PodiumConfig
from ._errors import (
    AgentError,
    ConfigError,
    GoalError,
    PlanError,
    PodiumError,
    RunNotFoundError,
    RunStateError,
    did_you_mean,
)
from .engine._context import RunContext
from .engine._effects import EFFECTS_FILE, EffectJournal
from .engine._escalation import parse_clarification
from .engine._events import RunEvent, RunFinished, RunStarted
from .engine._executor import TaskExecutor
from .engine._memory import RunMemory
from .engine._planning import plan_only
from .engine._playbooks import Playbooks, load_playbooks
from .engine._policy import audit_writer, check_goal_policy
from .engine._result import PlanResult, RunErrorKind, RunResult, RunStatus
from .engine._results import budget_stopped_result, finished_result, run_result, waiting_result
from .engine._routing import RoutingPolicy
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
        tool_wrapper: Callable[[Tool], Tool] | None = None,
        memory: MemoryStore | None = None,
    ) -> None:
        """`tool_wrapper`, when given, wraps every tool (built-in and added) at the tool seam:
        the eval cassettes use it to record and replay tool calls. `memory` shares one memory
        store between instances; by default each opens `[memory]` itself on its first run."""
        self.config = config or PodiumConfig.load()
        redact_logs(Redactor(pii=frozenset(self.config.policies.redact_pii)))
        self.agents = _agent_registry(self.config, agents)
        self.tools = ToolRegistry.with_builtins()
        for t in tools:
            self.tools.register(t)
        if tool_wrapper is not None:
            self.tools = ToolRegistry(tool_wrapper(self.tools.get(n)) for n in self.tools.names())
        _check_agent_tools(self.agents, self.tools)
        _check_scopes(self.agents, self.tools, self.config)
        _check_untrusted_allowances(self.tools, self.config)
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
            tuple(self.tools.get(n) for n in self.tools.names()),
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

    def run(self, goal: str, *, run_id: str | None = None) -> RunResult:
        """Run a goal to its end or its first question (blocking); see `arun`."""
        return _run_sync(self.arun(goal, run_id=run_id))

    async def arun(
        self,
        goal: str,
        *,
        run_id: str | None = None,
        on_event: EventHandler | None = None,
        tenant: str | None = None,
    ) -> RunResult:
        """Run a goal; `tenant` scopes its shared memory (default: `[memory] tenant`).

        Returns the `RunResult` of every run that started, however it ended (`status`, and
        `error` and `error_kind` when it did not complete). Raises GoalError when the goal is
        refused before any work, PlanError when no valid plan is made (the run is recorded
        failed; `exc.result` is its RunResult), StorageError when the data folder fails."""
        goal = self.check_goal(goal)
        await self.executor.start()  # a Ray cluster that cannot be reached fails here, not mid-run
        now = time.time()
        record = RunRecord(
            run_id=run_id or new_run_id(),
            goal=goal,
            status="running",
            created_at=now,
            updated_at=now,
            tenant=tenant or self.config.memory.tenant,
            owner=this_process(),
        )
        with self._storing():  # a full or read-only disk: said in one line; no run started
            if run_id is not None and (queued := self._queued_record(run_id, record)) is not None:
                record = queued  # queued by a server: keep when it was submitted and its profile
            self.store.save(record)
        return await self._cancellable(record, on_event or _ignore, resumed=False)

    def _queued_record(self, run_id: str, new: RunRecord) -> RunRecord | None:
        """The stored record of `run_id` if it waits in a queue for exactly this run, running now."""
        try:
            stored = self.store.get(run_id)
        except RunNotFoundError:
            return None
        if stored.status != "queued" or (stored.goal, stored.tenant) != (new.goal, new.tenant):
            return None
        return stored.model_copy(
            update={"status": "running", "updated_at": new.updated_at, "owner": new.owner}
        )

    async def astream(self, goal: str, *, run_id: str | None = None) -> AsyncIterator[RunEvent]:
        """Events as they happen; the last one is RunFinished. PlanError is raised after its events."""
        async for event in _stream(lambda emit: self.arun(goal, run_id=run_id, on_event=emit)):
            yield event

    def plan(self, goal: str) -> PlanResult:
        """Plan a goal without running it (a dry run). Raises PlanError like `run`."""
        return _run_sync(self.aplan(goal))

    async def aplan(self, goal: str, *, on_event: EventHandler | None = None) -> PlanResult:
        goal = self.check_goal(goal)
        ctx = self._context(new_run_id(), goal, on_event or _ignore, self.config.memory.tenant)
        started = time.perf_counter()
        plan, usage, attempts = await plan_only(ctx)
        return PlanResult(
            plan=plan, usage=usage, attempts=attempts, seconds=time.perf_counter() - started
        )

    def resume(self, run_id: str, *, answers: Mapping[str, Any] | None = None) -> RunResult:
        """Continue a run (blocking); see `aresume` for `answers`."""
        return _run_sync(self.aresume(run_id, answers=answers))

    async def aresume(
        self,
        run_id: str,
        *,
        on_event: EventHandler | None = None,
        answers: Mapping[str, Any] | None = None,
    ) -> RunResult:
        """Continue a crashed or stopped run; tasks that completed are restored, not re-run.

        A run waiting for a human continues once `answers` (escalation id -> "approve",
        "reject", or {"decision": "edit", "output": "..."}) answer its pending escalations; the
        planner's question (a `clarify` escalation) is answered with text, or "reject"."""
        with self._storing():
            record = self.store.get(run_id)
        owner = record.owner
        if record.status == "running" and owner is not None and owner != this_process():
            elsewhere = owner_alive(owner)  # None (another machine): as before, the caller's call
        else:
            elsewhere = False
        if elsewhere and owner is not None:
            raise RunStateError(
                f"run {run_id!r} is running in another process ({owner.describe()}): wait "
                "for it, or stop that process and resume it then"
            )
        await self.executor.start()
        if record.status == "waiting_for_human":
            pending = {e.id: e for e in (record.result.escalations if record.result else [])}
            unknown = sorted(set(answers or {}) - set(pending))
            if not answers or unknown:
                raise RunStateError(
                    f"run {run_id!r} is waiting for a human: answer escalation(s) "
                    f"{sorted(pending)}" + (f" (unknown id(s) {unknown})" if unknown else "")
                )
            self.check_answers(record, answers)
            # A human's words are kept like the goal (checkpoints, audit): masked the same way.
            masked = Redactor().redact_data  # secrets only: `redact_pii` is the audit log's
            resume = {
                str(pending[i].payload["interrupt_id"]): masked(answer)
                for i, answer in answers.items()
            }
            return await self._cancellable(
                record,
                on_event or _ignore,
                resumed=True,
                resume=resume,
                answered=frozenset(answers),
            )
        if record.status == "failed":
            raise RunStateError(f"run {run_id!r} failed and has nothing to resume: {record.error}")
        if record.result is not None and record.status != "cancelled":
            return record.result  # already finished: resuming is a no-op
        return await self._cancellable(record, on_event or _ignore, resumed=True)

    async def astream_resume(
        self, run_id: str, *, answers: Mapping[str, Any] | None = None
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
            records = self.store.list(tenant=tenant, limit=limit)
            return [settle_stale(self.store, r) for r in records]

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

    def check_goal(self, goal: str) -> str:
        """The goal as a run will hold it (stripped, secrets masked), or GoalError: empty, over
        `planner.max_goal_chars`, or blocked by the input policy. Runs check their goal; an
        interface calls this to refuse a goal before queueing it (`podium serve`: a 400)."""
        goal = goal.strip()
        limit = self.config.planner.max_goal_chars
        if not goal:
            raise GoalError("the goal is empty: say what you want done")
        if len(goal) > limit:
            raise GoalError(
                f"the goal is {len(goal)} characters, over the limit of {limit}: shorten it, "
                "put long material in a workspace file, or raise `planner.max_goal_chars`"
            )
        check_goal_policy(goal, self.config.policies)  # raises GoalError when it blocks
        # A secret in the goal stops here: the run, its records, events, checkpoints, prompts
        # and recordings only ever hold the masked goal (a tool that needs a credential reads
        # it from its configuration or the environment, never from the goal).
        # Secrets only: `[policies] redact_pii` masks the audit log, not the work (a goal that
        # says whom to email keeps the address).
        return Redactor().redact(goal)

    def check_answers(self, record: RunRecord, answers: Mapping[str, Any]) -> None:
        """Refuse, before the run resumes, answers of the wrong kind: the planner's question
        (a clarify escalation) takes text or reject, and that text is read like a goal (size,
        input policy); `{"decision": "answer"}` answers nothing else."""
        pending = {e.id: e for e in (record.result.escalations if record.result else [])}
        for escalation_id, answer in answers.items():
            escalation = pending.get(escalation_id)
            if escalation is None:
                continue  # the caller names unknown ids
            where = f"run {record.run_id!r}, escalation {escalation_id!r}"
            if escalation.reason != "clarify":
                if isinstance(answer, Mapping) and answer.get("decision") == "answer":
                    raise RunStateError(
                        f"{where} asks about {escalation.reason}, not a question of the "
                        "planner: approve, reject or edit it"
                    )
                continue
            try:
                text = parse_clarification(answer)
            except ValueError as exc:
                raise RunStateError(f"{where}: {exc}") from None
            limit = self.config.planner.max_goal_chars
            if text is not None and len(text) > limit:
                raise GoalError(
                    f"the answer to {escalation_id!r} is {len(text)} characters, over the limit "
                    f"of {limit}: shorten it, or put long material in a workspace file"
                )
            if text is not None:
                check_goal_policy(text, self.config.policies)  # GoalError when it blocks

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
            tools=self.tools,
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

    async def _execute(
        self,
        record: RunRecord,
        emit: EventHandler,
        *,
        resumed: bool,
        resume: dict[str, Any] | None = None,
        answered: frozenset[str] = frozenset(),
    ) -> RunResult:
        run_id, goal = record.run_id, record.goal
        with self._storing():
            audit = audit_writer(self.store.run_dir(run_id), self.config.policies)
        if audit is not None:
            emit = _tee(audit, emit)
        if record.status != "running" or record.owner != this_process():
            # Resumed: running again, in this process, until it finishes anew.
            record = record.model_copy(
                update={
                    "status": "running",
                    "updated_at": time.time(),
                    "result": None,
                    "owner": this_process(),
                }
            )
            with self._storing():
                self.store.save(record)
        emit(RunStarted(run_id=run_id, goal=goal, resumed=resumed))
        ctx = self._context(run_id, goal, emit, record.tenant)
        self._contexts[run_id] = ctx
        ctx.policies.answered = answered
        with self._storing():
            ctx.effects = EffectJournal(self.store.run_dir(run_id) / EFFECTS_FILE)
        ctx.policies.check_goal(goal)
        graph_config: Any = {"configurable": {"thread_id": run_id}, "recursion_limit": 10_000}
        async with self._checkpointer() as saver:
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
                self._finish_cancelled(ctx, emit)
                raise
            except TimeoutError:
                result = budget_stopped_result(
                    ctx,
                    f"budget exceeded: wall_time limit of {self.config.budget.max_wall_s:g} seconds reached",
                )
            except PlanError as exc:
                self._finish_failed(ctx, emit, exc)
                raise
        if ctx.memory is not None and result.status == "completed":
            result = await _remembered(ctx.memory, goal, result)
        with self._storing():
            record = self.store.get(run_id)
            self.store.save(
                record.model_copy(
                    update={
                        "status": result.status,
                        "updated_at": time.time(),
                        "error": result.error,
                        "result": result,
                    }
                )
            )
        emit(
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
        emit: EventHandler,
        *,
        resumed: bool,
        resume: dict[str, Any] | None = None,
        answered: frozenset[str] = frozenset(),
    ) -> RunResult:
        """Execute in a task of its own, so `cancel` stops this run and nothing around it."""
        run_id = record.run_id
        emit = _redacting(emit, Redactor())  # secrets only, as the goal
        if run_id in self._active:
            raise RunStateError(f"run {run_id!r} is already running in this process")
        running = asyncio.ensure_future(
            self._execute(record, emit, resumed=resumed, resume=resume, answered=answered)
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
                    run_id, record.goal, emit, record.tenant
                )
                self._finish_cancelled(ctx, emit)
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
            error = self._finish_broken(run_id, emit, exc)
            if error is exc:
                raise
            raise error from exc
        finally:
            self._active.pop(run_id, None)
            self._cancel_requested.discard(run_id)
            self._contexts.pop(run_id, None)

    def _finish_broken(self, run_id: str, emit: EventHandler, exc: Exception) -> Exception:
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
            if record.status not in ("queued", "running"):
                return interruption or exc  # it had ended (the error came after): as recorded
            update = {"status": status, "updated_at": time.time(), "error": error}
            self.store.save(record.model_copy(update={**update, "result": result}))
        except (OSError, sqlite3.Error, PodiumError) as failure:
            # The store failed as well (the same full disk): the record still says "running";
            # listing runs marks it once this process is gone.
            log.warning("run %s: its record could not be updated (%s)", run_id, failure)
        usage = result.usage if result else Usage()
        emit(
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

    def _finish_cancelled(self, ctx: RunContext, emit: EventHandler) -> None:
        error = f"cancelled: `podium resume {ctx.run_id}` continues it"
        result = run_result(ctx, "cancelled", error=error, error_kind=RunErrorKind.CANCELLED)
        self._finish_with(result, emit)

    def _finish_failed(self, ctx: RunContext, emit: EventHandler, exc: PlanError) -> None:
        """No plan: the run ends failed with what it spent, kept in its record and on `exc`."""
        result = run_result(ctx, "failed", error=exc.message, error_kind=RunErrorKind.PLAN)
        exc.result = result
        rejected = [{"output": a.output, "problems": list(a.problems)} for a in exc.attempts]
        self._finish_with(result, emit, rejected_plans=rejected)

    def _finish_with(self, result: RunResult, emit: EventHandler, **extra: Any) -> None:
        """Store a result the entrypoint did not return (the run stopped around it) and say so."""
        update = {"status": result.status, "updated_at": time.time(), "error": result.error}
        with self._storing():
            record = self.store.get(result.run_id)
            self.store.save(record.model_copy(update={**update, "result": result, **extra}))
        emit(
            RunFinished(
                run_id=result.run_id,
                status=result.status,
                answer=None,
                usage=result.usage,
                error=result.error,
                error_kind=result.error_kind,
            )
        )


async def _remembered(memory: RunMemory, goal: str, result: RunResult) -> RunResult:
    """A completed `result`, once its answer and plan are offered to shared memory.

    Only what passed its guards is kept as trusted, and only a plan whose every output was
    accepted is offered to later goals. Memory is an aid: when keeping them fails (the memory
    server went down after the last task), the answer stands, completed and saved, with a
    warning that says what was not kept."""
    try:
        await memory.run_done(
            goal,
            result.answer if result.answer_guarded else None,
            result.plan if result.accepted_throughout else None,
        )
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


def _agent_registry(config: PodiumConfig, extra: Iterable[AgentSpec]) -> AgentRegistry:
    from podium.agents import AgentRegistryError

    registry = AgentRegistry.builtin()
    try:
        for path in config.agents.paths:
            registry.load(path)
    except AgentRegistryError as exc:
        raise ConfigError(str(exc)) from None
    for spec in extra:
        registry.register(spec, replace=True)
    return registry


def _check_agent_tools(agents: AgentRegistry, tools: ToolRegistry) -> None:
    for spec in agents.specs():
        unknown = [t for t in spec.tools if t not in tools]
        if unknown:
            raise AgentError(
                f"agent {spec.name!r} lists unknown tool(s) {unknown}: known tools are {tools.names()}"
            )


def _check_scopes(agents: AgentRegistry, tools: ToolRegistry, config: PodiumConfig) -> None:
    """Every scope a card or `[policies.agents.X]` grants or revokes is one some tool needs.

    Checked here, where the agents and the tools first meet: a typo such as "write:emial"
    would otherwise pass and only show as a denial when the tool is called (or, in `revoke`,
    silently leave the real scope granted)."""
    offered = sorted({scope for name in tools.names() for scope in tools.get(name).scopes})

    def unknown(scopes: Iterable[str]) -> list[str]:
        return [
            f"{s!r}{did_you_mean(s, offered)}" for s in dict.fromkeys(scopes) if s not in offered
        ]

    known = f"the tools offer {', '.join(offered) or 'no scopes'}"
    cards = [
        f"agent {spec.name!r} grants unknown scope(s) {', '.join(bad)}"
        for spec in agents.specs()
        if (bad := unknown(spec.scopes))
    ]
    if cards:
        raise AgentError(f"{'; '.join(cards)}: {known}")
    policies = [
        f"[policies.agents.{agent}] {field} names unknown scope(s) {', '.join(bad)}"
        for agent, policy in config.policies.agents.items()
        for field, scopes in (("scopes", policy.scopes), ("revoke", policy.revoke))
        if (bad := unknown(scopes))
    ]
    if policies:
        raise ConfigError(f"{'; '.join(policies)}: {known}")


def _redacting(emit: EventHandler, redactor: Redactor) -> EventHandler:
    """`emit`, with every text in each event masked first: events reach `astream` and SSE
    consumers, and carry tool arguments, outputs and questions."""

    def masked(event: RunEvent) -> None:
        data = event.model_dump()
        clean = redactor.redact_data(data)
        emit(event if clean == data else type(event).model_validate(clean))

    return masked


def _check_untrusted_allowances(tools: ToolRegistry, config: PodiumConfig) -> None:
    """Each `allow_untrusted_to` entry names a side-effecting tool ("send_email"), one of its
    arguments ("send_email.body") or all of them ("send_email.*"): a typo would leave the
    legitimate call blocked, or worse, read as if it opened something it does not."""
    effectful = {n: tools.get(n) for n in tools.names() if tools.get(n).side_effects}
    problems = []
    for agent, policy in config.policies.agents.items():
        for entry in policy.allow_untrusted_to:
            name, _, argument = entry.partition(".")
            if name not in effectful:
                problems.append(
                    f"[policies.agents.{agent}] allow_untrusted_to names {entry!r}, not a "
                    f"side-effecting tool{did_you_mean(name, effectful)} (they are "
                    f"{', '.join(sorted(effectful)) or 'none'})"
                )
                continue
            arguments = sorted(effectful[name].args_model.model_fields)
            if not argument and not effectful[name].content_args:
                problems.append(
                    f"[policies.agents.{agent}] allow_untrusted_to names {entry!r}, which opens "
                    f"nothing: {name!r} declares no content arguments (every argument is a sink). "
                    f"Name the argument ('{name}.<argument>', one of {', '.join(arguments)}) or "
                    f"'{name}.*' for all"
                )
                continue
            if argument and argument != "*" and argument not in arguments:
                problems.append(
                    f"[policies.agents.{agent}] allow_untrusted_to names {entry!r}: {name!r} has "
                    f"no argument {argument!r}{did_you_mean(argument, arguments)} (its arguments "
                    f"are {', '.join(arguments)}, or '*' for all)"
                )
    if problems:
        raise ConfigError("; ".join(problems))


def _ignore(event: RunEvent) -> None:
    return None


def _tee(first: EventHandler, then: EventHandler) -> EventHandler:
    def both(event: RunEvent) -> None:
        first(event)
        then(event)

    return both


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
