"""The supervisor on LangGraph: plan → dispatch → tasks → review → synthesise, every task checkpointed.

Why the functional API: a LangGraph `@task` call starts at once and its result is written to
the checkpoint as soon as it finishes, with no superstep barrier between siblings. Every task of
a plan is *called* up front, in a fixed topological order, and waits inside its own body for its
inputs. Two things follow:
- dispatch is dependency-driven: a task starts the moment its inputs are done;
- replay is exact: LangGraph identifies a task call by its position in the call sequence, and
  that sequence depends only on the plan, never on which task happened to finish first. So on
  resume every finished task returns its checkpointed result instead of running again.
Re-planning waits until the tasks already under way have settled (failed inputs make their
dependents skip at once), so that each re-plan sees the same results in a replay.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, assert_never

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import GraphBubbleUp
from langgraph.func import entrypoint, task
from langgraph.pregel import Pregel

from podium.agents import AgentRegistry, AgentSpec, Message, Tier, run_agent
from podium.tools import ToolContext, ToolRegistry

from ._config import PodiumConfig
from ._errors import PlanAttempt, PlanError, PlanValidationError, PodiumError
from ._events import (
    PlanCreated,
    PlanRejected,
    Replanned,
    RunEvent,
    TaskCompleted,
    TaskFailed,
    TaskSkipped,
    TaskStarted,
)
from ._model import ModelRequest, ModelSeam, Purpose, is_local_model
from ._plan import Plan, Task
from ._planner import parse_plan, plan_messages, plan_schema, positional_plan_schema
from ._result import RunResult, TaskResult
from ._usage import Usage

Emit = Callable[[RunEvent], None]
LOCAL_MAX_TASKS = 6
"""Plan size for the embedded 135M model: small enough to decode in seconds, large enough for the workflows."""


@dataclass
class RunContext:
    """What one run's graph needs at hand. Lives in memory; only task results are checkpointed."""

    run_id: str
    config: PodiumConfig
    seam: ModelSeam
    agents: AgentRegistry
    tools: ToolRegistry
    tool_context: ToolContext
    emit: Emit
    started_at: float = field(default_factory=time.time)
    goal: str = ""
    executed: set[str] = field(default_factory=set)
    """Task calls whose bodies ran in this process; the others were restored from a checkpoint."""
    results: dict[str, TaskResult] = field(default_factory=dict)
    """Settled task results by id, across every plan revision."""
    outcomes: dict[str, asyncio.Future[TaskResult]] = field(default_factory=dict)
    """The current dispatch round's results, awaited by the tasks that take them as inputs."""
    semaphore: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.semaphore = asyncio.Semaphore(self.config.run.concurrency)


@dataclass(frozen=True)
class Finish:
    status: Literal["completed", "failed"]
    error: str | None = None


@dataclass(frozen=True)
class Replan:
    reason: str
    purpose: Literal["replan", "review"] = "replan"
    """replan: replace what failed; review: all done, may the plan grow before finishing?"""


Decision = Finish | Replan


def review(
    plan: Plan,
    results: Mapping[str, TaskResult],
    replans_used: int,
    max_replans: int,
    mode: Literal["on_failure", "each_round"] = "on_failure",
) -> Decision:
    """What the supervisor does once the tasks under way have settled."""
    unfinished = [t.id for t in plan.tasks if results[t.id].status != "completed"]
    if not unfinished:
        if mode == "each_round" and replans_used < max_replans:
            return Replan("review: every task has completed", purpose="review")
        return Finish("completed")
    failed = [t.id for t in plan.tasks if results[t.id].status == "failed"]
    reason = "; ".join(f"{i}: {results[i].error}" for i in failed) or "tasks did not complete"
    if replans_used >= max_replans:
        return Finish(
            "failed",
            f"tasks {unfinished} did not complete after {replans_used} re-plan(s): {reason}",
        )
    return Replan(reason)


def build_supervisor(
    ctx: RunContext, checkpointer: BaseCheckpointSaver[Any]
) -> Pregel[Any, Any, Any, Any]:
    """The run's LangGraph workflow, bound to this run's context."""

    @task
    async def plan_step(
        revision: int, rejected: list[list[Any]], current: dict[str, Any] | None, purpose: Purpose
    ) -> dict[str, Any]:
        return await _plan_step(ctx, rejected, current, purpose)

    @task
    async def run_task(epoch: int, task_data: dict[str, Any]) -> dict[str, Any]:
        return (await _run_task(ctx, epoch, Task.model_validate(task_data))).model_dump(mode="json")

    @task
    async def synthesise(plan_data: dict[str, Any]) -> dict[str, Any]:
        return await _synthesise(ctx, Plan.model_validate(plan_data))

    async def make_plan(
        revision: int, current: Plan | None, purpose: Purpose = "plan"
    ) -> tuple[Plan, Usage]:
        rejected: list[PlanAttempt] = []
        usage = Usage()
        for attempt in range(1, ctx.config.planner.attempts + 1):
            current_data = _replan_context(current, ctx) if current else None
            raw = await plan_step(
                revision, [[a.output, list(a.problems)] for a in rejected], current_data, purpose
            )
            usage += Usage.model_validate(raw["usage"])
            if raw["plan"] is not None:
                return Plan.model_validate(raw["plan"]), usage
            rejected.append(PlanAttempt(output=raw["output"], problems=tuple(raw["problems"])))
            ctx.emit(
                PlanRejected(run_id=ctx.run_id, attempt=attempt, problems=tuple(raw["problems"]))
            )
        raise PlanError(
            f"no valid plan after {len(rejected)} attempt(s); last problems: {'; '.join(rejected[-1].problems)}",
            rejected,
        )

    async def run_epoch(epoch: int, plan: Plan) -> None:
        loop = asyncio.get_running_loop()
        done = {i for i, r in ctx.results.items() if r.status == "completed" and i in plan.ids}
        ctx.outcomes = {}
        for task_id in done:
            ctx.outcomes[task_id] = loop.create_future()
            ctx.outcomes[task_id].set_result(ctx.results[task_id])
        todo = [t for t in plan.topological_order() if t.id not in done]
        for t in todo:
            ctx.outcomes[t.id] = loop.create_future()
        # Called in a fixed order, all at once: see the module docstring.
        calls = [(t, run_task(epoch, t.model_dump(mode="json"))) for t in todo]

        async def settle(t: Task, call: Awaitable[dict[str, Any]]) -> None:
            try:
                result = TaskResult.model_validate(await call)
            except BaseException as exc:
                ctx.outcomes[t.id].set_exception(exc)
                raise
            if f"{epoch}:{t.id}" not in ctx.executed:
                _emit_restored(ctx, result)
            ctx.results[t.id] = result
            ctx.outcomes[t.id].set_result(result)

        await asyncio.gather(*(settle(t, call) for t, call in calls))

    @entrypoint(checkpointer=checkpointer)
    async def supervisor(goal: str) -> dict[str, Any]:
        ctx.goal = goal
        ctx.results.clear()
        plan, usage = await make_plan(0, None)
        ctx.emit(PlanCreated(run_id=ctx.run_id, plan=plan, revision=0))
        revision = 0
        while True:
            await run_epoch(revision, plan)
            planner = ctx.config.planner
            decision = review(
                plan, ctx.results, revision, planner.max_replans, ctx.config.run.review
            )
            match decision:
                case Finish(status=status, error=error):
                    break
                case Replan(reason=reason, purpose=purpose):
                    try:
                        new_plan, plan_usage = await make_plan(revision + 1, plan, purpose)
                    except PlanError as exc:
                        # A review that cannot improve the plan leaves a completed run completed.
                        status, error = (
                            ("completed", None)
                            if purpose == "review"
                            else ("failed", f"re-plan failed: {exc.message}")
                        )
                        break
                    usage += plan_usage
                    if purpose == "review" and set(new_plan.ids) <= set(plan.ids):
                        status, error = "completed", None  # the reviewer added nothing: finish
                        break
                    revision += 1
                    _announce_revision(ctx, revision, reason, plan, new_plan)
                    plan = new_plan
                case _:
                    assert_never(decision)
        answer = None
        if status == "completed":
            synthesis = await synthesise(plan.model_dump(mode="json"))
            usage += Usage.model_validate(synthesis["usage"])
            answer, synthesis_error = synthesis["answer"], synthesis["error"]
            if synthesis_error:
                status, error = "failed", synthesis_error
        for r in ctx.results.values():
            usage += r.usage
        return RunResult(
            run_id=ctx.run_id,
            goal=goal,
            status=status,
            answer=answer,
            plan=plan,
            plan_revisions=revision,
            tasks=dict(ctx.results),
            usage=usage,
            started_at=ctx.started_at,
            finished_at=time.time(),
            error=error,
        ).model_dump(mode="json")

    return supervisor


def _announce_revision(ctx: RunContext, revision: int, reason: str, old: Plan, new: Plan) -> None:
    added = tuple(i for i in new.ids if i not in old.ids)
    removed = tuple(i for i in old.ids if i not in new.ids)
    ctx.emit(
        Replanned(run_id=ctx.run_id, revision=revision, reason=reason, added=added, removed=removed)
    )
    ctx.emit(PlanCreated(run_id=ctx.run_id, plan=new, revision=revision))


async def _plan_step(
    ctx: RunContext, rejected: list[list[Any]], current: dict[str, Any] | None, purpose: Purpose
) -> dict[str, Any]:
    agents = ctx.agents.specs()
    names = [a.name for a in agents]
    max_tasks = ctx.config.planner.max_tasks
    current_plan = Plan.model_validate(current["plan"]) if current else None
    results = (
        {k: TaskResult.model_validate(v) for k, v in current["results"].items()}
        if current
        else None
    )
    messages = plan_messages(
        ctx.goal,
        agents,
        max_tasks=max_tasks,
        rejected=[PlanAttempt(output=o, problems=tuple(p)) for o, p in rejected],
        current=current_plan,
        results=results,
        review=purpose == "review",
    )
    local = is_local_model(ctx.config.models.frontier)
    schema = (
        positional_plan_schema(names, min(max_tasks, LOCAL_MAX_TASKS))
        if local
        else plan_schema(names, max_tasks)
    )
    request = ModelRequest(
        tier="frontier",
        messages=tuple(messages),
        response_schema=schema,
        purpose=purpose,
        run_id=ctx.run_id,
    )
    try:
        response = await ctx.seam.complete(request)
    except PodiumError as exc:
        return {
            "output": "",
            "plan": None,
            "problems": [f"the planner call failed: {exc.message}"],
            "usage": Usage().model_dump(),
        }
    text = response.message.content or ""
    completed = {i: r.task for i, r in (results or {}).items() if r.status == "completed"}
    try:
        plan = parse_plan(text, agents=names, max_tasks=max_tasks, completed=completed)
    except PlanValidationError as exc:
        return {
            "output": text,
            "plan": None,
            "problems": exc.problems,
            "usage": response.usage.model_dump(),
        }
    return {
        "output": text,
        "plan": plan.model_dump(mode="json"),
        "problems": [],
        "usage": response.usage.model_dump(),
    }


def _replan_context(plan: Plan, ctx: RunContext) -> dict[str, Any]:
    return {
        "plan": plan.model_dump(mode="json"),
        "results": {
            t.id: ctx.results[t.id].model_dump(mode="json")
            for t in plan.tasks
            if t.id in ctx.results
        },
    }


async def _run_task(ctx: RunContext, epoch: int, t: Task) -> TaskResult:
    ctx.executed.add(f"{epoch}:{t.id}")
    inputs = [await ctx.outcomes[i] for i in t.inputs]
    missing = [r.task.id for r in inputs if r.status != "completed"]
    if missing:
        reason = f"input(s) {missing} did not complete"
        ctx.emit(TaskSkipped(run_id=ctx.run_id, task_id=t.id, reason=reason))
        return TaskResult(task=t, status="skipped", error=reason)
    spec = ctx.agents.get(t.agent)
    tier = t.tier or spec.tier
    async with ctx.semaphore:
        return await _attempt_task(ctx, t, spec, tier, {r.task.id: r.output or "" for r in inputs})


async def _attempt_task(
    ctx: RunContext, t: Task, spec: AgentSpec, tier: Tier, inputs: dict[str, str]
) -> TaskResult:
    started = time.time()
    chat = _TaskChat(ctx, t, tier)
    attempts = ctx.config.run.task_attempts
    error = ""
    for attempt in range(1, attempts + 1):
        ctx.emit(
            TaskStarted(run_id=ctx.run_id, task_id=t.id, agent=t.agent, tier=tier, attempt=attempt)
        )
        try:
            output = await run_agent(
                spec,
                instruction=t.instruction,
                inputs=inputs,
                chat=chat,
                tools=ctx.tools.for_agent(spec.tools),
                tool_context=ctx.tool_context,
                output_schema=t.output_schema,
                goal=ctx.goal,
            )
        except GraphBubbleUp:
            raise  # LangGraph's own control flow (interrupts) must pass through
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            ctx.emit(
                TaskFailed(
                    run_id=ctx.run_id,
                    task_id=t.id,
                    agent=t.agent,
                    error=error,
                    attempt=attempt,
                    will_retry=attempt < attempts,
                )
            )
            continue
        finished = time.time()
        ctx.emit(
            TaskCompleted(
                run_id=ctx.run_id,
                task_id=t.id,
                agent=t.agent,
                output=output.text,
                usage=chat.usage,
                duration_s=finished - started,
            )
        )
        return TaskResult(
            task=t,
            status="completed",
            output=output.text,
            data=output.data,
            attempts=attempt,
            model=chat.model,
            usage=chat.usage,
            started_at=started,
            finished_at=finished,
        )
    return TaskResult(
        task=t,
        status="failed",
        error=error,
        attempts=attempts,
        model=chat.model,
        usage=chat.usage,
        started_at=started,
        finished_at=time.time(),
    )


class _TaskChat:
    """The agent loop's view of the model seam for one task: tier bound, usage summed."""

    def __init__(self, ctx: RunContext, t: Task, tier: Tier) -> None:
        self.ctx, self.task, self.tier = ctx, t, tier
        self.usage = Usage()
        self.model: str | None = None

    async def __call__(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        response_schema: dict[str, Any] | None,
    ) -> Message:
        response = await self.ctx.seam.complete(
            ModelRequest(
                tier=self.tier,
                messages=tuple(messages),
                tools=tuple(tools),
                response_schema=response_schema,
                purpose="task",
                run_id=self.ctx.run_id,
                task_id=self.task.id,
                agent=self.task.agent,
            )
        )
        self.usage += response.usage
        self.model = response.model
        return response.message.to_message()


async def _synthesise(ctx: RunContext, plan: Plan) -> dict[str, Any]:
    results = ctx.results
    sinks = plan.sinks()
    mode = ctx.config.run.synthesis
    if mode == "last_task" or (mode == "auto" and len(sinks) == 1):
        return {
            "answer": results[sinks[-1].id].output,
            "usage": Usage().model_dump(),
            "error": None,
        }
    parts = "\n\n".join(
        f"<result task={t.id!r} agent={t.agent!r}>\n{results[t.id].output}\n</result>"
        for t in sinks
    )
    request = ModelRequest(
        tier="frontier",
        messages=(
            {
                "role": "system",
                "content": "Combine the results below into one complete answer to the goal. Use only what they say.",
            },
            {"role": "user", "content": f"Goal: {ctx.goal}\n\n{parts}"},
        ),
        purpose="synthesis",
        run_id=ctx.run_id,
    )
    try:
        response = await ctx.seam.complete(request)
    except PodiumError as exc:
        return {
            "answer": None,
            "usage": Usage().model_dump(),
            "error": f"synthesis failed: {exc.message}",
        }
    return {
        "answer": response.message.content or "",
        "usage": response.usage.model_dump(),
        "error": None,
    }


def _emit_restored(ctx: RunContext, r: TaskResult) -> None:
    if r.status == "completed":
        ctx.emit(
            TaskCompleted(
                run_id=ctx.run_id,
                task_id=r.task.id,
                agent=r.task.agent,
                output=r.output or "",
                usage=r.usage,
                duration_s=r.duration_s,
                restored=True,
            )
        )
    elif r.status == "skipped":
        ctx.emit(TaskSkipped(run_id=ctx.run_id, task_id=r.task.id, reason=r.error or ""))
    else:
        ctx.emit(
            TaskFailed(
                run_id=ctx.run_id,
                task_id=r.task.id,
                agent=r.task.agent,
                error=r.error or "",
                attempt=r.attempts,
                will_retry=False,
            )
        )
