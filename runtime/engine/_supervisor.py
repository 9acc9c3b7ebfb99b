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
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, assert_never

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import GraphBubbleUp, GraphInterrupt
from langgraph.func import entrypoint, task
from langgraph.pregel import Pregel
from langgraph.types import interrupt

from podium.agents import AgentRegistry, AgentSpec, GuardRejected, ToolUse, upstream_block
from podium.memory import PlanMatch
from podium.policies import PASSING, BudgetExceeded, BudgetTracker, Verdict
from podium.tools import ToolContext, ToolRegistry

from .._config import PodiumConfig
from .._errors import PlanAttempt, PlanError, PlanValidationError, PodiumError
from ..models._model import (
    ModelRequest,
    ModelSeam,
    Purpose,
    is_local_model,
    prompt_room,
    result_budget,
    serving_window,
)
from ..models._usage import Usage
from ._effects import EffectJournal
from ._events import (
    EscalationRaised,
    PlanCreated,
    PlanRejected,
    Replanned,
    RunEvent,
    TaskCompleted,
    TaskFailed,
    TaskSkipped,
    TaskStarted,
)
from ._executor import (
    AgentAttempt,
    InProcessExecutor,
    TaskChat,
    TaskExecutor,
    describe_failure,
)
from ._facts import facts_answer, with_found_records
from ._memory import RunMemory, substitute_plan, template_message
from ._plan import Plan, Task, Tier
from ._planner import (
    PlannerQuestion,
    parse_planner_reply,
    plan_messages,
    plan_schema,
    positional_plan_schema,
    with_question,
)
from ._playbooks import PlaybookMatch, Playbooks, data_columns
from ._playbooks import template_message as playbook_template_message
from ._policy import RunPolicies, TaskPolicy, guard_event
from ._result import (
    MAX_RECORDED_RESULT_CHARS,
    Clarification,
    Escalation,
    PlanCacheUse,
    PlaybookUse,
    Route,
    RunResult,
    RunStatus,
    TaskResult,
    ToolCallRecord,
)
from ._routing import RoutingPolicy, Rung

Emit = Callable[[RunEvent], None]
LOCAL_MAX_TASKS = 6
"""Plan size for the embedded 135M model: small enough to decode in seconds, large enough for the workflows."""

log = logging.getLogger(__name__)


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
    routing: RoutingPolicy = field(default_factory=RoutingPolicy)
    budget: BudgetTracker = field(default_factory=BudgetTracker)
    """The same tracker the seam checks before every call."""
    started_at: float = field(default_factory=time.time)
    goal: str = ""
    executed: set[str] = field(default_factory=set)
    """Task calls whose bodies ran in this process; the others were restored from a checkpoint."""
    results: dict[str, TaskResult] = field(default_factory=dict)
    """Settled task results by id, across every plan revision."""
    outcomes: dict[str, asyncio.Future[TaskResult]] = field(default_factory=dict)
    """The current dispatch round's results, awaited by the tasks that take them as inputs."""
    cheap_failures: dict[str, int] = field(default_factory=dict)
    """Failed cheap-tier tries per agent in this run: the routing policy's memory of past failures."""
    plan_steps_run: int = 0
    plan_repairs: tuple[str, ...] = ()
    """Repairs of form the last accepted planner reply needed (counted in PlanCreated)."""
    human_notes: dict[str, str] = field(default_factory=dict)
    """Instructions a human added to a task at an escalation (the task runs again with them)."""
    effects: EffectJournal | None = None
    """The run's journal of side-effecting tool calls (None in a dry run)."""
    asked: set[str] = field(default_factory=set)
    """Escalations raised in this pass of the entrypoint (each is asked once)."""
    clarifications: list[Clarification] = field(default_factory=list)
    """The planner's questions the human answered, and the answers; every later plan sees them."""
    memory: RunMemory | None = None
    """Shared memory for this run; None when `[memory] enabled = false`."""
    plan_cache: PlanCacheUse | None = None
    fill_playbooks_from_data: bool = False
    """A goal naming records runs the playbook it reads like, filled with them (the embedded
    planner adapts a template poorly)."""
    assemble_answer: bool = False
    """Put the answer together from the run's facts instead of a synthesis call (`facts_answer`)."""
    playbooks: Playbooks | None = None
    """The playbooks goals are matched to before planning; None when `[planner] playbooks` is off."""
    playbook: PlaybookUse | None = None
    """How the first plan came from a playbook, if it did."""
    playbook_match: PlaybookMatch | None = None
    playbook_looked_up: bool = False
    policies: RunPolicies = field(init=False)
    """Guards, tool gate and escalation for this run (`[policies]`)."""
    executor: TaskExecutor = field(default_factory=InProcessExecutor)
    """Where each attempt's agent work runs (`[run] executor`); the rest of the run stays here."""
    semaphore: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.semaphore = asyncio.Semaphore(self.config.run.concurrency)
        self.policies = RunPolicies(
            self.config.policies, self.run_id, self.emit, tuple(self.agents.names())
        )


@dataclass(frozen=True)
class Finish:
    status: Literal["completed", "failed", "budget_exceeded"]
    error: str | None = None


@dataclass(frozen=True)
class Replan:
    reason: str
    purpose: Literal["replan", "review"] = "replan"
    """replan: replace what failed; review: all done, may the plan grow before finishing?"""


Decision = Finish | Replan


@dataclass(frozen=True)
class Declined:
    """The human rejected the planner's question: there is no plan to make."""

    question: str

    @property
    def error(self) -> str:
        return (
            f"the planner asked {self.question!r} and the answer was reject: no plan was made; "
            "run the goal again with what it leaves out"
        )


def review(
    plan: Plan,
    results: Mapping[str, TaskResult],
    replans_used: int,
    max_replans: int,
    mode: Literal["on_failure", "each_round"] = "on_failure",
) -> Decision:
    """What the supervisor does once the tasks under way have settled."""
    for r in results.values():
        if r.status == "skipped" and (r.error or "").startswith("budget exceeded"):
            return Finish("budget_exceeded", r.error)
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
    async def synthesise(plan_data: dict[str, Any], feedback: str = "") -> dict[str, Any]:
        return await _synthesise(ctx, Plan.model_validate(plan_data), feedback)

    async def make_plan(
        revision: int, current: Plan | None, purpose: Purpose = "plan"
    ) -> tuple[Plan | Declined, Usage]:
        """A plan, asking the human first whenever the planner asks a question."""

        async def step(
            rejected: list[list[Any]], current_data: dict[str, Any] | None
        ) -> dict[str, Any]:
            before = ctx.plan_steps_run
            raw: dict[str, Any] = await plan_step(revision, rejected, current_data, purpose)
            if raw.get("cache"):
                ctx.plan_cache = PlanCacheUse.model_validate(raw["cache"])
            if raw.get("playbook"):
                ctx.playbook = PlaybookUse.model_validate(raw["playbook"])
            if ctx.plan_steps_run == before:
                # Restored from a checkpoint: what it spent still counts against the budget.
                used = Usage.model_validate(raw["usage"])
                ctx.budget.add(usd=used.cost_usd, tokens=used.total_tokens, calls=used.calls)
                for data in raw.get("verdicts", []):
                    verdict = Verdict.model_validate(data)
                    ctx.policies.verdicts.append(verdict)
                    ctx.emit(guard_event(ctx.run_id, verdict))
            return raw

        usage = Usage()
        while True:
            reply, spent, _ = await plan_with_retries(ctx, step, current)
            usage += spent
            match reply:
                case Plan():
                    return reply, usage
                case PlannerQuestion(question=question):
                    answer = _ask_clarification(ctx, question)
                    if answer is None:
                        return Declined(question), usage
                    ctx.clarifications.append(Clarification(question=question, answer=answer))
                case _:
                    assert_never(reply)

    async def run_epoch(epoch: int, plan: Plan, *, keep_failed: bool = False) -> None:
        loop = asyncio.get_running_loop()
        final = ("completed", "failed") if keep_failed else ("completed",)
        done = {i for i, r in ctx.results.items() if r.status in final and i in plan.ids}
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
                outcome = ctx.outcomes[t.id]
                outcome.set_exception(exc)
                outcome.exception()  # dependents may never await it (an interrupt): no warning
                raise
            if f"{epoch}:{t.id}" not in ctx.executed:
                _restored(ctx, result)
            ctx.results[t.id] = result
            ctx.outcomes[t.id].set_result(result)

        settled = await asyncio.gather(
            *(settle(t, call) for t, call in calls), return_exceptions=True
        )
        failures = [e for e in settled if isinstance(e, BaseException)]
        others = [e for e in failures if not isinstance(e, GraphInterrupt)]
        if others:
            raise others[0]
        if failures:
            # Every task waiting for a human asks at once: the escalations are answered by id.
            raise GraphInterrupt([i for e in failures for i in e.args[0]])

    @entrypoint(checkpointer=checkpointer)
    async def supervisor(goal: str) -> dict[str, Any]:
        ctx.goal = goal
        ctx.results.clear()
        try:
            first, usage = await make_plan(0, None)
        except BudgetExceeded as exc:
            return _run_result(ctx, None, 0, Usage(), "budget_exceeded", None, str(exc))
        if isinstance(first, Declined):
            return _run_result(ctx, None, 0, usage, "failed", None, first.error)
        plan = first
        ctx.emit(
            PlanCreated(
                run_id=ctx.run_id,
                plan=plan,
                revision=0,
                repairs=ctx.plan_repairs,
                playbook=_playbook_label(ctx.playbook),
                clarifications=tuple(ctx.clarifications),
            )
        )
        revision, epoch, resumed_by_human = 0, 0, False
        while True:
            await run_epoch(epoch, plan, keep_failed=resumed_by_human)
            epoch += 1
            # A refusal with on_fail=exception goes to a human before anything else.
            if _escalate_refusals(ctx, plan, exceptions_only=True):
                resumed_by_human = True
                continue  # run what waited on the approved outputs
            planner = ctx.config.planner
            decision = review(
                plan, ctx.results, revision, planner.max_replans, ctx.config.run.review
            )
            resumed_by_human = False
            match decision:
                case Finish(status="failed") if _escalate_refusals(
                    ctx, plan, exceptions_only=False
                ):
                    resumed_by_human = True  # the last rung: a human approved or edited
                    continue
                case Finish(status=status, error=error):
                    break
                case Replan(reason=reason, purpose=purpose):
                    try:
                        new_plan, plan_usage = await make_plan(revision + 1, plan, purpose)
                    except BudgetExceeded as exc:
                        status, error = "budget_exceeded", str(exc)
                        break
                    except PlanError as exc:
                        # A review that cannot improve the plan leaves a completed run completed.
                        status, error = (
                            ("completed", None)
                            if purpose == "review"
                            else ("failed", f"re-plan failed: {exc.message}")
                        )
                        break
                    usage += plan_usage
                    if isinstance(new_plan, Declined):  # re-plans are offered no question today
                        status, error = "failed", new_plan.error
                        break
                    if purpose == "review" and set(new_plan.ids) <= set(plan.ids):
                        status, error = "completed", None  # the reviewer added nothing: finish
                        break
                    revision += 1
                    _announce_revision(ctx, revision, reason, plan, new_plan)
                    plan = new_plan
                case _:
                    assert_never(decision)
        answer = None
        assembled = status == "completed" and ctx.assemble_answer
        synthesised = (
            status == "completed"
            and not assembled
            and _needs_synthesis(plan, ctx.config.run.synthesis)
        )
        if assembled:
            answer = facts_answer(ctx.goal, plan, ctx.results)
        elif status == "completed" and not synthesised:
            answer = ctx.results[
                plan.sinks()[-1].id
            ].output  # the final task's output is the answer
        elif status == "completed":
            feedback = ""
            for attempt in range(1, ctx.config.policies.max_reasks + 2):
                try:
                    synthesis = await synthesise(plan.model_dump(mode="json"), feedback)
                except BudgetExceeded as exc:
                    return _run_result(
                        ctx, plan, revision, usage, "budget_exceeded", None, str(exc)
                    )
                usage += Usage.model_validate(synthesis["usage"])
                answer, synthesis_error = synthesis["answer"], synthesis["error"]
                if synthesis_error:
                    status, error = "failed", synthesis_error
                    break
                verdict, guarded = ctx.policies.check_run_output(
                    "answer", answer or "", metadata=_answer_metadata(ctx), attempt=attempt
                )
                if verdict.action != "reask" or attempt > ctx.config.policies.max_reasks:
                    break
                feedback = verdict.message
        if status == "completed" and not synthesised:
            verdict, guarded = ctx.policies.check_run_output(
                "answer", answer or "", metadata=_answer_metadata(ctx)
            )
        if status == "completed":
            answer, status, error = _settle_answer(ctx, answer or "", verdict, guarded)
        return _run_result(ctx, plan, revision, usage, status, answer, error)

    return supervisor


SYNTHESIS_PROMPT = (
    "Combine the results below into one complete answer to the goal. Use only what they say."
)


def _answer_metadata(ctx: RunContext) -> dict[str, Any]:
    return {"system_prompts": [s.system_prompt for s in ctx.agents.specs()] + [SYNTHESIS_PROMPT]}


def _settle_answer(
    ctx: RunContext, answer: str, verdict: Verdict, guarded: str | None
) -> tuple[str | None, Literal["completed", "failed"], str | None]:
    """The final answer after its guard: as is, fixed, judged by a human, or refused."""
    if verdict.action in PASSING and guarded is not None:
        return guarded, "completed", None
    decision = _ask_human(
        ctx,
        "guard-answer",
        f"The final answer was refused by its guard ({verdict.message}). Approve it, edit it, or reject it.",
        output=answer,
    )
    if decision is not None and decision[0] in ("approve", "edit"):
        return decision[1], "completed", None
    return None, "failed", f"the final answer was refused by its guard: {verdict.message}"


def _escalate_refusals(ctx: RunContext, plan: Plan, *, exceptions_only: bool) -> bool:
    """Ask a human about each task whose output a guard refused; True when one was accepted."""
    accepted = False
    for t in plan.tasks:
        r = ctx.results.get(t.id)
        if r is None or r.status != "failed" or r.guard is None:
            continue
        if exceptions_only and r.guard != "exception":
            continue
        refused = next((v for v in reversed(r.verdicts) if not v.passed), None)
        reason = refused.message if refused else r.error or ""
        asked = sum(1 for a in ctx.asked if a == f"guard-{t.id}" or a.startswith(f"guard-{t.id}-"))
        decision = _ask_human(
            ctx,
            f"guard-{t.id}" + (f"-{asked + 1}" if asked else ""),
            f"Agent {t.agent!r} (task {t.id!r}) wrote an output its guard refused ({reason}). "
            "Approve it, edit it, reject it, or give the agent instructions and run it again.",
            output=r.rejected_output or "",
            task=t,
        )
        if decision is not None and decision[0] == "instruct":
            ctx.human_notes[t.id] = decision[1]
            del ctx.results[t.id]  # runs again, with the note (see _run_task)
            accepted = True
            continue
        if decision is None or decision[0] not in ("approve", "edit"):
            continue
        ctx.results[t.id] = r.model_copy(
            update={
                "status": "completed",
                "output": decision[1],
                "error": None,
                "approved_by": "human",
            }
        )
        accepted = True
    return accepted


def _ask_human(
    ctx: RunContext, escalation_id: str, question: str, *, output: str, task: Task | None = None
) -> tuple[str, str] | None:
    """The ladder's last rung: a LangGraph interrupt (the run pauses, checkpointed, until a
    human answers), or None when `[policies] escalation = "fail"` or it was already answered no."""
    if ctx.config.policies.escalation != "human" or escalation_id in ctx.asked:
        return None
    ctx.asked.add(escalation_id)
    ctx.policies.raise_escalation(
        EscalationRaised(
            run_id=ctx.run_id,
            escalation_id=escalation_id,
            reason="guard",
            task_id=task.id if task else None,
            agent=task.agent if task else None,
            question=question,
        )
    )
    answer = interrupt(
        {
            "id": escalation_id,
            "reason": "guard",
            "question": question,
            "task_id": task.id if task else None,
            "agent": task.agent if task else None,
            "output": output,
        }
    )
    return parse_answer(answer, output)


def _offers_questions(ctx: RunContext, purpose: Purpose) -> bool:
    """Whether this planner call may ask the human instead of planning (`[planner] questions`)."""
    planner = ctx.config.planner
    return (
        purpose == "plan"
        and ctx.config.policies.escalation == "human"
        and len(ctx.clarifications) < planner.max_questions
        and (
            planner.questions == "on"
            or (planner.questions == "auto" and not is_local_model(ctx.config.models.frontier))
        )
    )


def _ask_clarification(ctx: RunContext, question: str) -> str | None:
    """Put the planner's question to the human (a `clarify` escalation, a LangGraph interrupt);
    their answer's text, or None when they rejected the question."""
    escalation_id = f"clarify-{len(ctx.clarifications) + 1}"
    ctx.asked.add(escalation_id)
    ctx.policies.raise_escalation(
        EscalationRaised(
            run_id=ctx.run_id, escalation_id=escalation_id, reason="clarify", question=question
        )
    )
    answer = interrupt(
        {
            "id": escalation_id,
            "reason": "clarify",
            "question": question,
            "task_id": None,
            "agent": None,
        }
    )
    try:
        return parse_clarification(answer)
    except ValueError:
        return None  # `Podium.aresume` checks answers first: only a hand-made resume gets here


def parse_clarification(answer: Any) -> str | None:
    """A human's answer to the planner's question: its text, or None when they rejected it.

    Accepts the text itself, {"decision": "answer", "text": ...}, or "reject" /
    {"decision": "reject"}. Raises ValueError, saying how to answer, for anything else."""
    how = 'answer it with text ({"decision": "answer", "text": ...}, `--answer TEXT`) or reject it'
    if isinstance(answer, Mapping):
        decision = str(answer.get("decision", "")).strip().lower()
        if decision == "reject":
            return None
        if decision != "answer":
            raise ValueError(
                f"the planner asked a question, decision {decision!r} does not answer it: {how}"
            )
        answer = answer.get("text")
    if not isinstance(answer, str):
        raise ValueError(f"the answer to the planner's question must be text: {how}")
    text = answer.strip()
    if text.lower() == "reject":
        return None
    if not text:
        raise ValueError(f"the answer to the planner's question is empty: {how}")
    if text.lower() in ("approve", "edit", "instruct"):
        raise ValueError(f"{text!r} does not answer the planner's question: {how}")
    return text


def parse_answer(answer: Any, output: str) -> tuple[str, str]:
    """A human's answer as (decision, text): approve keeps `output`, edit replaces it, reject
    drops it, instruct runs the task again with the human's instructions added.

    Accepts "approve" / "reject", or {"decision": ..., "output": ..., "instructions": ...}."""
    if isinstance(answer, Mapping):
        decision = str(answer.get("decision", "reject")).lower()
        if decision == "instruct":
            return "instruct", str(answer.get("instructions") or "")
        edited = answer.get("output")
        if isinstance(edited, str) and decision in ("edit", "approve") and edited != output:
            return "edit", edited
        return decision, output
    return str(answer).lower(), output


def _run_result(
    ctx: RunContext,
    plan: Plan | None,
    revision: int,
    planning_usage: Usage,
    status: RunStatus,
    answer: str | None,
    error: str | None,
) -> dict[str, Any]:
    usage = sum((r.usage for r in ctx.results.values()), planning_usage)
    return RunResult(
        run_id=ctx.run_id,
        goal=ctx.goal,
        status=status,
        answer=answer,
        plan=plan,
        plan_revisions=revision,
        tasks=dict(ctx.results),
        usage=usage,
        started_at=ctx.started_at,
        finished_at=time.time(),
        error=error,
        plan_cache=ctx.plan_cache,
        playbook=ctx.playbook,
        warnings=(list(ctx.memory.warnings) if ctx.memory else [])
        + (list(ctx.playbooks.problems) if ctx.playbooks else []),
        verdicts=list(ctx.policies.verdicts),
        clarifications=list(ctx.clarifications),
    ).model_dump(mode="json")


def waiting_result(ctx: RunContext, interrupts: Sequence[Any]) -> RunResult:
    """A run paused at LangGraph interrupts: what it has so far, and the questions pending."""
    escalations = []
    for pending in interrupts:
        value = (
            pending.value
            if isinstance(pending.value, Mapping)
            else {"question": str(pending.value)}
        )
        escalations.append(
            Escalation(
                id=str(value.get("id") or pending.id),
                reason=value.get("reason", "supervisor"),
                question=str(value.get("question", "")),
                task_id=value.get("task_id"),
                agent=value.get("agent"),
                payload={**value, "interrupt_id": pending.id},
            )
        )
    result = RunResult.model_validate(
        _run_result(ctx, None, 0, Usage(), "waiting_for_human", None, None)
    )
    return result.model_copy(update={"escalations": escalations})


def budget_stopped_result(ctx: RunContext, error: str) -> RunResult:
    """What a run has when its wall-time backstop fires: every settled result, no answer."""
    return RunResult.model_validate(
        _run_result(ctx, None, 0, Usage(), "budget_exceeded", None, error)
    )


PlanStep = Callable[[list[list[Any]], dict[str, Any] | None], Awaitable[dict[str, Any]]]


async def plan_with_retries(
    ctx: RunContext, step: PlanStep, current: Plan | None
) -> tuple[Plan | PlannerQuestion, Usage, int]:
    """Call the planner until a plan passes validation, feeding each rejection back.

    Returns the plan (or the question the planner asks instead, when offered one), the
    planner's usage and the number of attempts; raises PlanError.
    """
    rejected: list[PlanAttempt] = []
    usage = Usage()
    for attempt in range(1, ctx.config.planner.attempts + 1):
        current_data = _replan_context(current, ctx) if current else None
        raw = await step([[a.output, list(a.problems)] for a in rejected], current_data)
        usage += Usage.model_validate(raw["usage"])
        if raw.get("question"):
            return PlannerQuestion(raw["question"]), usage, attempt
        if raw["plan"] is not None:
            ctx.plan_repairs = tuple(raw.get("repairs") or ())
            return Plan.model_validate(raw["plan"]), usage, attempt
        rejected.append(PlanAttempt(output=raw["output"], problems=tuple(raw["problems"])))
        ctx.emit(PlanRejected(run_id=ctx.run_id, attempt=attempt, problems=tuple(raw["problems"])))
    raise PlanError(
        f"no valid plan after {len(rejected)} attempt(s); last problems: {'; '.join(rejected[-1].problems)}",
        rejected,
    )


async def plan_only(ctx: RunContext) -> tuple[Plan, Usage, int]:
    """Plan `ctx.goal` without running anything or writing checkpoints (a dry run)."""

    async def step(
        rejected: list[list[Any]], current_data: dict[str, Any] | None
    ) -> dict[str, Any]:
        return await _plan_step(ctx, rejected, current_data, "plan")

    plan, usage, attempts = await plan_with_retries(ctx, step, None)
    if isinstance(plan, PlannerQuestion):
        # A dry run has no one to ask: say what the planner needs, to put in the goal.
        raise PlanError(
            f"the planner asks before it plans: {plan.question!r}; "
            "put the answer in the goal and plan again"
        )
    return plan, usage, attempts


def _announce_revision(ctx: RunContext, revision: int, reason: str, old: Plan, new: Plan) -> None:
    added = tuple(i for i in new.ids if i not in old.ids)
    removed = tuple(i for i in old.ids if i not in new.ids)
    ctx.emit(
        Replanned(run_id=ctx.run_id, revision=revision, reason=reason, added=added, removed=removed)
    )
    ctx.emit(PlanCreated(run_id=ctx.run_id, plan=new, revision=revision, repairs=ctx.plan_repairs))


async def _plan_step(
    ctx: RunContext, rejected: list[list[Any]], current: dict[str, Any] | None, purpose: Purpose
) -> dict[str, Any]:
    ctx.plan_steps_run += 1
    agents = ctx.agents.specs()
    names = [a.name for a in agents]
    max_tasks = ctx.config.planner.max_tasks
    current_plan = Plan.model_validate(current["plan"]) if current else None
    results = (
        {k: TaskResult.model_validate(v) for k, v in current["results"].items()}
        if current
        else None
    )
    match = await _match_playbook(ctx, names, max_tasks) if purpose == "plan" else None
    playbook = {"playbook": match.use.model_dump(mode="json")} if match is not None else {}
    if match is not None and match.use.mode == "filled" and not rejected:
        return {
            "output": "",
            "plan": match.plan.model_dump(mode="json"),
            "problems": [],
            "usage": Usage().model_dump(),
            **playbook,
        }  # the playbook's plan with the goal's values: no planner call
    # A plan cached for the goal's words alone does not answer what the human clarified.
    looks_up = ctx.memory is not None and purpose == "plan" and not ctx.clarifications
    cached = await ctx.memory.lookup_plan(ctx.goal) if ctx.memory and looks_up else None
    if cached is not None and not rejected:
        reused = _reuse_cached_plan(cached, ctx.goal, names, max_tasks)
        if reused is not None:
            return reused  # the cheapest planner call: none
    questions = _offers_questions(ctx, purpose)
    messages = plan_messages(
        ctx.goal,
        agents,
        max_tasks=max_tasks,
        rejected=[PlanAttempt(output=o, problems=tuple(p)) for o, p in rejected],
        current=current_plan,
        results=results,
        review=purpose == "review",
        questions=questions,
        clarifications=ctx.clarifications,
    )
    if cached is not None:
        messages.insert(2, template_message(cached))
    elif match is not None:
        messages.insert(2, playbook_template_message(match))
    local = is_local_model(ctx.config.models.frontier)
    schema = (
        positional_plan_schema(names, min(max_tasks, LOCAL_MAX_TASKS))
        if local
        else plan_schema(names, max_tasks)
    )
    if questions:
        schema = with_question(schema)
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
    verdict, guarded = ctx.policies.check_run_output(
        "plan", text, metadata={"system_prompt": ""}, attempt=len(rejected) + 1
    )
    refused = {
        "output": text,
        "plan": None,
        "usage": response.usage.model_dump(),
        "verdicts": [verdict.model_dump(mode="json")],
    }
    if not verdict.passed or guarded is None:
        return {**refused, "problems": [f"refused by the plan guard: {verdict.message}"]}
    try:
        parsed = parse_planner_reply(
            guarded, agents=names, max_tasks=max_tasks, completed=completed, questions=questions
        )
    except PlanValidationError as exc:
        return {**refused, "problems": exc.problems}
    if isinstance(parsed, PlannerQuestion):
        return {**refused, "question": parsed.question, "problems": []}
    plan, repairs = parsed
    return {
        "output": text,
        "plan": plan.model_dump(mode="json"),
        "problems": [],
        "repairs": list(repairs),
        "usage": response.usage.model_dump(),
        "cache": _cache_use(cached, "adapted") if cached is not None else None,
        "verdicts": [verdict.model_dump(mode="json")],
        **({} if cached is not None else playbook),
    }


async def _match_playbook(
    ctx: RunContext, agents: list[str], max_tasks: int
) -> PlaybookMatch | None:
    """The playbook for this run's goal (looked up once per run), or None."""
    if ctx.playbooks is None:
        return None
    if not ctx.playbook_looked_up:
        memory = ctx.memory
        embed = memory.store.embed if memory is not None else None
        planner = ctx.config.planner
        known = data_columns(ctx.tool_context) if ctx.fill_playbooks_from_data else None
        try:
            ctx.playbook_match = await asyncio.to_thread(
                ctx.playbooks.match,
                ctx.goal,
                embed=embed,
                agents=agents,
                max_tasks=max_tasks,
                fill_similarity=planner.playbook_fill_similarity,
                adapt_similarity=planner.playbook_adapt_similarity,
                known_values=known,
            )
        except Exception as exc:  # an aid, like memory: the planner plans without it
            log.warning("playbook matching failed, planning without it: %s", exc)
            ctx.playbook_match = None
        ctx.playbook_looked_up = True
    return ctx.playbook_match


def _playbook_label(use: PlaybookUse | None) -> str | None:
    return f"{use.name} ({use.mode}: {use.reason})" if use is not None else None


def _reuse_cached_plan(
    cached: PlanMatch, goal: str, agents: list[str], max_tasks: int
) -> dict[str, Any] | None:
    try:
        plan = Plan.model_validate_json(cached.plan_json)
    except ValueError:
        return None
    reused = substitute_plan(cached.goal, goal, plan, agents, max_tasks)
    if reused is None:
        return None
    return {
        "output": cached.plan_json,
        "plan": reused.model_dump(mode="json"),
        "problems": [],
        "usage": Usage().model_dump(),
        "cache": _cache_use(cached, "reused"),
    }


def _cache_use(cached: PlanMatch, mode: Literal["reused", "adapted"]) -> dict[str, Any]:
    return PlanCacheUse(
        mode=mode,
        similarity=round(cached.similarity, 4),
        cached_goal=cached.goal,
        cached_run_id=cached.run_id,
    ).model_dump(mode="json")


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
    if t.id in ctx.human_notes:
        note = ctx.human_notes[t.id]
        t = t.model_copy(
            update={"instruction": f"{t.instruction}\n\nA human reviewer adds: {note}"}
        )
    inputs = [await ctx.outcomes[i] for i in t.inputs]
    missing = [r.task.id for r in inputs if r.status != "completed"]
    if missing:
        return _skip(ctx, t, f"input(s) {missing} did not complete")
    spec = ctx.agents.get(t.agent)
    async with ctx.semaphore:
        if ctx.budget.stopped is not None:
            return _skip(ctx, t, str(ctx.budget.stopped))
        return await _attempt_task(ctx, t, spec, {r.task.id: r.output or "" for r in inputs})


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


def _skip(ctx: RunContext, t: Task, reason: str) -> TaskResult:
    ctx.emit(TaskSkipped(run_id=ctx.run_id, task_id=t.id, reason=reason))
    return TaskResult(task=t, status="skipped", error=reason)


async def _attempt_task(
    ctx: RunContext, t: Task, spec: AgentSpec, inputs: dict[str, str]
) -> TaskResult:
    """Climb the task's failure ladder until one try succeeds.

    Errors: retries on the tier, then escalation (the routing ladder). A guard's refusal:
    re-asks inside the agent loop first; then reask/filter escalate the tier (no same-tier
    retry: the same model would write the same thing), refrain ends the task (the supervisor
    may re-plan), exception ends it for a human (see `_escalate_refusals`).
    """
    started = time.time()
    rungs = ctx.routing.ladder(t, spec, ctx.cheap_failures)
    chat = TaskChat(ctx.seam, ctx.run_id, t, rungs[0].tier)
    memory, access = "", None
    if ctx.memory is not None:
        upstream = _upstream(ctx, t)
        memory, access = await ctx.memory.context(t, upstream), ctx.memory.access(t, upstream)
    tool_context = dataclasses.replace(
        ctx.tool_context, task_id=t.id, memory=access, task_text=f"{t.instruction}\n{ctx.goal}"
    )
    tainted_inputs = [text for task_id, text in inputs.items() if ctx.results[task_id].tainted]
    trusted_inputs = [text for task_id, text in inputs.items() if not ctx.results[task_id].tainted]
    trusted, untrusted = [ctx.goal, t.instruction, *trusted_inputs], [*tainted_inputs, memory]
    # Their outputs were built from untrusted data: fenced as data in the prompt, like tool results.
    untrusted_inputs = frozenset(i for i in inputs if ctx.results[i].tainted)
    routes: list[Route] = []
    verdicts: list[Verdict] = []
    refusal: GuardRejected | None = None
    index = 0
    while index < len(rungs):
        rung = rungs[index]
        attempt = index + 1
        index += 1
        chat.tier = rung.tier
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
            spec,
            t.id,
            trusted=trusted,
            untrusted=untrusted,
            approve=interrupt,
            siblings=functools.partial(_accepted_outputs, ctx, _upstream(ctx, t)),
        )
        try:
            output = await ctx.executor.run(
                AgentAttempt(
                    run_id=ctx.run_id,
                    goal=ctx.goal,
                    task=t,
                    spec=spec,
                    inputs=inputs,
                    untrusted_inputs=untrusted_inputs,
                    memory=memory,
                    trusted=trusted,
                    untrusted=untrusted,
                    chat=chat,
                    policy=policy,
                    tools=ctx.tools.for_agent(spec.tools),
                    tool_context=tool_context,
                    budget=ctx.budget,
                    effects=ctx.effects,
                    max_result_tokens=_result_tokens(ctx, rung.tier),
                    prompt_room=prompt_room(serving_window(ctx.seam.backend, rung.tier)),
                )
            )
        except GraphBubbleUp:
            raise  # LangGraph's own control flow (interrupts) must pass through
        except BudgetExceeded as exc:
            # Not the task's fault: stop without counting a failure; the supervisor ends the run.
            verdicts += policy.verdicts
            routes.append(_route(attempt, rung, chat, "stopped", str(exc)))
            return _ended(ctx, t, "skipped", str(exc), chat, routes, started, verdicts)
        except GuardRejected as exc:
            verdicts += policy.verdicts
            refusal = exc
            error = f"guard: {exc.verdict.action}: {exc.verdict.message}"
            routes.append(_route(attempt, rung, chat, "failed", error))
            if exc.verdict.action in ("reask", "filter"):
                # Escalate the tier; same-tier retries would ask the same model again.
                while index < len(rungs) and rungs[index].tier == rung.tier:
                    index += 1
            else:
                index = len(rungs)  # refrain: the supervisor decides; exception: a human does
            _try_failed(ctx, t, error, attempt, will_retry=index < len(rungs))
            continue
        except Exception as exc:
            verdicts += policy.verdicts
            error = describe_failure(exc)
            routes.append(_route(attempt, rung, chat, "failed", error))
            if rung.tier == "cheap":
                ctx.cheap_failures[t.agent] = ctx.cheap_failures.get(t.agent, 0) + 1
            _try_failed(ctx, t, error, attempt, will_retry=attempt < len(rungs))
            continue
        verdicts += policy.verdicts
        routes.append(_route(attempt, rung, chat, "completed"))
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
        ctx.emit(
            TaskCompleted(
                run_id=ctx.run_id,
                task_id=t.id,
                agent=t.agent,
                output=output.text,
                usage=chat.usage,
                duration_s=finished - started,
                model=chat.model,
                repairs=(*chat.repairs, *output.repairs),
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
            routes=tuple(routes),
            verdicts=tuple(verdicts),
            tainted=policy.taint.tainted,
            repairs=(*chat.repairs, *output.repairs),
            tool_calls=calls,
        )
    failed = _ended(ctx, t, "failed", routes[-1].error or "", chat, routes, started, verdicts)
    if refusal is not None and routes[-1].error and routes[-1].error.startswith("guard:"):
        return failed.model_copy(
            update={"guard": refusal.verdict.action, "rejected_output": refusal.rejected}
        )
    return failed


def _result_tokens(ctx: RunContext, tier: Tier) -> int:
    """The bound on one tool message of a try on `tier` (`[tools] max_result_tokens`, `_share`)."""
    tools = ctx.config.tools
    window = serving_window(ctx.seam.backend, tier)
    return result_budget(window, tools.max_result_tokens, tools.max_result_share)


def _recorded(ctx: RunContext, use: ToolUse) -> ToolCallRecord:
    redact = ctx.policies.redactor.redact
    # Masked before it is cut (a secret cut in two would pass), but only the part that is kept:
    # masking a 2 MB result whole costs seconds. A secret of under 5,000 characters at the cut
    # is still seen whole.
    result = redact(use.result[: MAX_RECORDED_RESULT_CHARS + 5000])
    if len(use.result) > len(result) or len(result) > MAX_RECORDED_RESULT_CHARS:
        cut = len(use.result) - MAX_RECORDED_RESULT_CHARS
        result = f"{result[:MAX_RECORDED_RESULT_CHARS]} … (about {cut} more characters not kept)"
    return ToolCallRecord(name=use.name, arguments=redact(use.arguments), ok=use.ok, result=result)


def _accepted_outputs(ctx: RunContext, upstream: frozenset[str]) -> dict[str, str]:
    """Other tasks' accepted outputs, the task's own inputs left out (an editor may rightly
    pass a draft on unchanged: only a sibling's text is a copy)."""
    settled = {i: r.output for i, r in ctx.results.items() if r.status == "completed" and r.output}
    return {i: o for i, o in {**ctx.policies.accepted, **settled}.items() if i not in upstream}


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
    t: Task,
    status: Literal["failed", "skipped"],
    error: str,
    chat: TaskChat,
    routes: list[Route],
    started: float,
    verdicts: Sequence[Verdict] = (),
) -> TaskResult:
    if status == "skipped":
        ctx.emit(TaskSkipped(run_id=ctx.run_id, task_id=t.id, reason=error))
    return TaskResult(
        task=t,
        status=status,
        error=error,
        attempts=len(routes),
        model=chat.model,
        usage=chat.usage,
        started_at=started,
        finished_at=time.time(),
        routes=tuple(routes),
        verdicts=tuple(verdicts),
    )


def _needs_synthesis(plan: Plan, mode: Literal["auto", "model", "last_task", "facts"]) -> bool:
    """A synthesis call merges several final outputs; one final task's output is the answer as is."""
    return mode == "model" or (mode == "auto" and len(plan.sinks()) > 1)


async def _synthesise(ctx: RunContext, plan: Plan, feedback: str = "") -> dict[str, Any]:
    results = ctx.results
    sinks = plan.sinks()
    parts = "\n\n".join(
        upstream_block(
            "result",
            f"task={t.id!r} agent={t.agent!r}",
            results[t.id].output or "",
            untrusted=results[t.id].tainted,
        )
        for t in sinks
    )
    request = ModelRequest(
        tier="frontier",
        messages=(
            {
                "role": "system",
                "content": SYNTHESIS_PROMPT,
            },
            {"role": "user", "content": f"Goal: {ctx.goal}\n\n{parts}"},
            *(
                [
                    {
                        "role": "user",
                        "content": f"Your previous answer was not accepted: {feedback}. Answer again.",
                    }
                ]
                if feedback
                else []
            ),
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


def _restored(ctx: RunContext, r: TaskResult) -> None:
    """A result that came from a checkpoint: announce it, and count what it spent."""
    ctx.budget.add(usd=r.usage.cost_usd, tokens=r.usage.total_tokens, calls=r.usage.calls)
    for route in r.routes:
        if route.outcome == "failed" and route.tier == "cheap":
            ctx.cheap_failures[r.task.agent] = ctx.cheap_failures.get(r.task.agent, 0) + 1
    if r.status == "completed":
        ctx.emit(
            TaskCompleted(
                run_id=ctx.run_id,
                task_id=r.task.id,
                agent=r.task.agent,
                output=r.output or "",
                usage=r.usage,
                duration_s=r.duration_s,
                model=r.model,
                restored=True,
                repairs=r.repairs,
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
