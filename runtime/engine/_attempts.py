"""The attempt ladder: one task's tries, rung by rung, until one is accepted or none is left.

Errors: retries on the tier, then escalation (the routing ladder). A guard's refusal: re-asks
inside the agent loop first; then reask/filter escalate the tier (no same-tier retry: the same
model would write the same thing), refrain ends the task (the supervisor may re-plan),
exception ends it for a human (`_escalation.escalate_refusals`). A spent budget stops the task
without counting a failure: the supervisor ends the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, assert_never

from langgraph.errors import GraphBubbleUp
from langgraph.types import interrupt

from podium.agents import AgentLoopError, AgentOutput, AgentSpec, GuardRejected, ToolUse
from podium.policies import BudgetExceeded, Verdict
from podium.tools import ToolContext

from .._errors import ModelError
from ..models._model import prompt_room, result_budget, serving_window
from ..models._slot import SlotWatcher, watching
from ._context import RunContext
from ._events import ModelTurn, TaskCompleted, TaskFailed, TaskSkipped, TaskStarted
from ._executor import AgentAttempt, TaskChat, describe_failure
from ._facts import with_found_records
from ._plan import Task, Tier
from ._policy import TaskPolicy
from ._result import (
    MAX_RECORDED_RESULT_CHARS,
    FailureKind,
    Route,
    TaskResult,
    ToolCallRecord,
)
from ._routing import Rung


@dataclass(frozen=True)
class Accepted:
    """The try's output passed its guard."""

    output: AgentOutput
    tainted: bool
    """The agent saw untrusted data on the way (tool results, memory)."""


@dataclass(frozen=True)
class Refused:
    """A guard refused the try's output (after the agent loop's own re-asks)."""

    rejection: GuardRejected

    @property
    def error(self) -> str:
        return f"guard: {self.rejection.verdict.action}: {self.rejection.verdict.message}"


@dataclass(frozen=True)
class Failed:
    """The try raised."""

    kind: FailureKind
    error: str


@dataclass(frozen=True)
class Stopped:
    """The run's budget was spent during the try."""

    exceeded: BudgetExceeded


TryOutcome = Accepted | Refused | Failed | Stopped


def failure_kind(exc: Exception) -> FailureKind:
    """The kind of a failed try's exception (BudgetExceeded and GuardRejected are outcomes)."""
    match exc:
        case ModelError():
            return FailureKind.MODEL
        case AgentLoopError():
            return FailureKind.AGENT
        case _:
            return FailureKind.ERROR


@dataclass(frozen=True)
class Prompting:
    """What every try of a task is given: inputs, memory, tool context, and what is trusted."""

    inputs: dict[str, str]
    untrusted_inputs: frozenset[str]
    """Inputs whose tasks saw untrusted data: fenced as data in the prompt, like tool results."""
    memory: str
    tool_context: ToolContext
    trusted: list[str]
    untrusted: list[str]
    upstream: frozenset[str]


@dataclass
class Ladder:
    """One task's climb: its rungs, the chat it talks through, and what its tries left."""

    task: Task
    spec: AgentSpec
    rungs: Sequence[Rung]
    chat: TaskChat
    prompting: Prompting
    started: float
    routes: list[Route] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)


async def attempt_task(
    ctx: RunContext, t: Task, spec: AgentSpec, inputs: dict[str, str]
) -> TaskResult:
    """Climb the task's ladder (see the module docstring) until one try is accepted."""
    started = time.time()
    rungs = ctx.routing.ladder(t, spec, ctx.cheap_failures)
    chat = TaskChat(ctx.seam, ctx.run_id, t, rungs[0].tier)
    ladder = Ladder(t, spec, rungs, chat, await _prompting(ctx, t, inputs), started)
    try:
        return await _climb(ctx, ladder)
    except BaseException:
        # The task never settles here (a human is asked, the run is cancelled): what its
        # tries spent has no result to be counted in, so the run counts and carries it.
        ctx.unsettled += chat.usage
        raise


async def _climb(ctx: RunContext, ladder: Ladder) -> TaskResult:
    t, rungs, chat = ladder.task, ladder.rungs, ladder.chat
    index = attempt = 0
    while True:
        # `attempt` counts the tries made; `index` may skip rungs (a refusal leaves its tier).
        rung, attempt = rungs[index], attempt + 1
        index += 1
        outcome = await _try(ctx, ladder, rung, attempt)
        match outcome:
            case Accepted():
                ladder.routes.append(_route(attempt, rung, chat, "completed"))
                return await _completed(ctx, ladder, outcome, attempt)
            case Stopped(exceeded=exc):
                ladder.routes.append(_route(attempt, rung, chat, "stopped", str(exc)))
                return _ended(ctx, ladder, "skipped", str(exc), FailureKind.BUDGET)
            case Refused(rejection=exc):
                if exc.verdict.action in ("reask", "filter"):
                    # Escalate the tier; same-tier retries would ask the same model again.
                    while index < len(rungs) and rungs[index].tier == rung.tier:
                        index += 1
                else:
                    index = len(rungs)  # refrain: the supervisor decides; exception: a human does
            case Failed():
                if rung.tier == "cheap":
                    ctx.cheap_failures[t.agent] = ctx.cheap_failures.get(t.agent, 0) + 1
            case _:
                assert_never(outcome)
        ladder.routes.append(_route(attempt, rung, chat, "failed", outcome.error))
        _try_failed(ctx, t, outcome.error, attempt, will_retry=index < len(rungs))
        if index >= len(rungs):
            return _gave_up(ctx, ladder, outcome)


async def _prompting(ctx: RunContext, t: Task, inputs: dict[str, str]) -> Prompting:
    upstream = _upstream(ctx, t)
    memory, access = "", None
    if ctx.memory is not None:
        memory, access = await ctx.memory.context(t, upstream), ctx.memory.access(t, upstream)
    tool_context = dataclasses.replace(
        ctx.tool_context, task_id=t.id, memory=access, task_text=f"{t.instruction}\n{ctx.goal}"
    )
    tainted = {i for i in inputs if ctx.results[i].tainted}
    trusted_inputs = [text for i, text in inputs.items() if i not in tainted]
    tainted_inputs = [text for i, text in inputs.items() if i in tainted]
    return Prompting(
        inputs=inputs,
        untrusted_inputs=frozenset(tainted),
        memory=memory,
        tool_context=tool_context,
        trusted=[ctx.goal, t.instruction, *trusted_inputs],
        untrusted=[*tainted_inputs, memory],
        upstream=upstream,
    )


def _upstream(ctx: RunContext, t: Task) -> frozenset[str]:
    """Every task `t` depends on, directly or not (all settled before `t` starts)."""
    seen: set[str] = set()
    stack = list(t.inputs)
    while stack:
        task_id = stack.pop()
        if task_id not in seen:
            seen.add(task_id)
            if task_id in ctx.results:
                stack.extend(ctx.results[task_id].task.inputs)
    return frozenset(seen)


async def _try(ctx: RunContext, ladder: Ladder, rung: Rung, attempt: int) -> TryOutcome:
    """One try on `rung`'s tier, through the run's executor."""
    t, prompting = ladder.task, ladder.prompting
    ladder.chat.tier = rung.tier
    ctx.emit(
        TaskStarted(
            run_id=ctx.run_id,
            task_id=t.id,
            agent=t.agent,
            tier=rung.tier,
            attempt=attempt,
            reason=rung.reason,
        )
    )
    policy = TaskPolicy(
        ctx.policies,
        ladder.spec,
        t.id,
        trusted=prompting.trusted,
        untrusted=prompting.untrusted,
        approve=interrupt,
        siblings=functools.partial(_accepted_outputs, ctx, prompting.upstream),
    )
    outcome: TryOutcome
    try:
        with watching(_model_turns(ctx, t)):
            output = await ctx.executor.run(_agent_attempt(ctx, ladder, rung, policy))
    except GraphBubbleUp:
        raise  # LangGraph's own control flow (interrupts) must pass through
    except BudgetExceeded as exc:
        outcome = Stopped(exc)
    except GuardRejected as exc:
        outcome = Refused(exc)
    except Exception as exc:
        outcome = Failed(failure_kind(exc), describe_failure(exc))
    else:
        outcome = Accepted(output, policy.taint.tainted)
    ladder.verdicts += policy.verdicts
    return outcome


def _model_turns(ctx: RunContext, t: Task) -> SlotWatcher:
    """The task's waits for a model that serves one call at a time, as `ModelTurn` events. The
    model tells them from the thread its call runs on: they are handed to the run's loop."""
    loop = asyncio.get_running_loop()

    def tell(held: bool) -> None:
        state: Literal["waiting", "serving"] = "serving" if held else "waiting"
        event = ModelTurn(run_id=ctx.run_id, task_id=t.id, agent=t.agent, state=state)
        with contextlib.suppress(RuntimeError):  # the loop is closed: the run is gone
            loop.call_soon_threadsafe(ctx.emit, event)

    return tell


def _agent_attempt(ctx: RunContext, ladder: Ladder, rung: Rung, policy: TaskPolicy) -> AgentAttempt:
    prompting = ladder.prompting
    return AgentAttempt(
        run_id=ctx.run_id,
        goal=ctx.goal,
        task=ladder.task,
        spec=ladder.spec,
        inputs=prompting.inputs,
        untrusted_inputs=prompting.untrusted_inputs,
        memory=prompting.memory,
        trusted=prompting.trusted,
        untrusted=prompting.untrusted,
        chat=ladder.chat,
        policy=policy,
        tools=ctx.tools.for_agent(ladder.spec.tools),
        tool_context=prompting.tool_context,
        budget=ctx.budget,
        effects=ctx.effects,
        max_result_tokens=_result_tokens(ctx, rung.tier),
        prompt_room=prompt_room(serving_window(ctx.seam.backend, rung.tier)),
    )


def _result_tokens(ctx: RunContext, tier: Tier) -> int:
    """The bound on one tool message of a try on `tier` (`[tools] max_result_tokens`, `_share`)."""
    tools = ctx.config.tools
    window = serving_window(ctx.seam.backend, tier)
    return result_budget(window, tools.max_result_tokens, tools.max_result_share)


def _accepted_outputs(ctx: RunContext, upstream: frozenset[str]) -> dict[str, str]:
    """Other tasks' accepted outputs, the task's own inputs left out (an editor may rightly
    pass a draft on unchanged: only a sibling's text is a copy)."""
    settled = {i: r.output for i, r in ctx.results.items() if r.status == "completed" and r.output}
    return {i: o for i, o in {**ctx.policies.accepted, **settled}.items() if i not in upstream}


async def _completed(
    ctx: RunContext, ladder: Ladder, accepted: Accepted, attempt: int
) -> TaskResult:
    """The accepted try's result: its tool calls recorded, its facts attached, remembered."""
    t, chat, output = ladder.task, ladder.chat, accepted.output
    calls = tuple(_recorded(ctx, use) for use in output.tool_uses)
    if ctx.assemble_answer and output.data is None:  # a schema's JSON output stays as is
        # The records found travel with the output (see `with_found_records`).
        named_in = f"{ctx.goal}\n{t.instruction}"
        output = dataclasses.replace(
            output, text=with_found_records(output.text, named_in, list(calls))
        )
    if ctx.memory is not None:
        await ctx.memory.task_done(t, output.text, output.tool_uses)
    finished = time.time()
    repairs = (*chat.repairs, *output.repairs)
    ctx.emit(
        TaskCompleted(
            run_id=ctx.run_id,
            task_id=t.id,
            agent=t.agent,
            output=output.text,
            usage=chat.usage,
            duration_s=finished - ladder.started,
            model=chat.model,
            repairs=repairs,
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
        started_at=ladder.started,
        finished_at=finished,
        routes=tuple(ladder.routes),
        verdicts=tuple(ladder.verdicts),
        tainted=accepted.tainted,
        repairs=repairs,
        tool_calls=calls,
    )


def _recorded(ctx: RunContext, use: ToolUse) -> ToolCallRecord:
    redact = ctx.policies.redactor.redact
    # Masked before it is cut (a secret cut in two would pass), but only the part that is kept:
    # masking a 2 MB result whole costs seconds. A secret of under 5,000 characters at the cut
    # is still seen whole.
    result = redact(use.result[: MAX_RECORDED_RESULT_CHARS + 5000])
    if len(use.result) > len(result) or len(result) > MAX_RECORDED_RESULT_CHARS:
        cut = len(use.result) - MAX_RECORDED_RESULT_CHARS
        result = f"{result[:MAX_RECORDED_RESULT_CHARS]} … (+about {cut} chars not kept)"
    return ToolCallRecord(name=use.name, arguments=redact(use.arguments), ok=use.ok, result=result)


def _gave_up(ctx: RunContext, ladder: Ladder, last: Refused | Failed) -> TaskResult:
    """No rung left: the task failed as its last try did (a refusal is kept for a human)."""
    if isinstance(last, Failed):
        return _ended(ctx, ladder, "failed", last.error, last.kind)
    failed = _ended(ctx, ladder, "failed", last.error, FailureKind.GUARD)
    return failed.model_copy(
        update={"guard": last.rejection.verdict.action, "rejected_output": last.rejection.rejected}
    )


def _try_failed(ctx: RunContext, t: Task, error: str, attempt: int, *, will_retry: bool) -> None:
    ctx.emit(
        TaskFailed(
            run_id=ctx.run_id,
            task_id=t.id,
            agent=t.agent,
            error=error,
            attempt=attempt,
            will_retry=will_retry,
        )
    )


def _route(
    attempt: int,
    rung: Rung,
    chat: TaskChat,
    outcome: Literal["completed", "failed", "stopped"],
    error: str | None = None,
) -> Route:
    return Route(
        attempt=attempt,
        tier=rung.tier,
        model=chat.model,
        reason=rung.reason,
        outcome=outcome,
        error=error,
    )


def _ended(
    ctx: RunContext,
    ladder: Ladder,
    status: Literal["failed", "skipped"],
    error: str,
    failure: FailureKind,
) -> TaskResult:
    t, chat = ladder.task, ladder.chat
    if status == "skipped":
        ctx.emit(TaskSkipped(run_id=ctx.run_id, task_id=t.id, reason=error))
    return TaskResult(
        task=t,
        status=status,
        error=error,
        failure=failure,
        attempts=len(ladder.routes),
        model=chat.model,
        usage=chat.usage,
        started_at=ladder.started,
        finished_at=time.time(),
        routes=tuple(ladder.routes),
        verdicts=tuple(ladder.verdicts),
    )
