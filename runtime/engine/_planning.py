"""The plan step: a goal (or a failed plan) to a validated `Plan`, asking the human when the
planner asks, feeding each rejected reply back to the planner."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, assert_never

from podium.agents import Message
from podium.policies import BudgetExceeded

from .._errors import PlanAttempt, PlanError, PlanValidationError, PodiumError
from ..models._model import ModelRequest, Purpose, is_local_model
from ..models._usage import Usage
from . import _plan_cache as plan_cache
from ._context import GraphTasks, PlanStepOutcome, RunContext
from ._escalation import ask_clarification
from ._events import PlanCreated, PlanRejected
from ._plan import Plan
from ._plan_sources import filled_playbook, match_playbook, playbook_label
from ._planner import (
    PlannerQuestion,
    parse_planner_reply,
    plan_messages,
    plan_schema,
    positional_plan_schema,
    with_question,
)
from ._playbooks import template_message as playbook_template_message
from ._replay import restored_plan_step
from ._result import Clarification, TaskResult

LOCAL_MAX_TASKS = 6
"""Plan size for the embedded 135M model: small enough to decode in seconds, large enough for the workflows."""

PlanStep = Callable[[list[list[Any]], dict[str, Any] | None], Awaitable[PlanStepOutcome]]
"""One plan step given the rejected attempts so far and the current plan (None: a first plan)."""


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


async def make_plan(
    ctx: RunContext, tasks: GraphTasks, revision: int, current: Plan | None, purpose: Purpose
) -> Plan | Declined:
    """A plan, asking the human first whenever the planner asks a question (what each step
    spends is counted in `ctx.spent`)."""
    step = functools.partial(_checkpointed_step, ctx, tasks, revision, purpose)
    while True:
        reply, _, _ = await plan_with_retries(ctx, step, current)
        match reply:
            case Plan():
                return reply
            case PlannerQuestion(question=question):
                answer = ask_clarification(ctx, question)
                if answer is None:
                    return Declined(question)
                ctx.clarifications.append(Clarification(question=question, answer=answer))
            case _:
                assert_never(reply)


async def _checkpointed_step(
    ctx: RunContext,
    tasks: GraphTasks,
    revision: int,
    purpose: Purpose,
    rejected: list[list[Any]],
    current: dict[str, Any] | None,
) -> PlanStepOutcome:
    """One plan step as a `plan_step` task call: run, or restored from the checkpoint."""
    before = ctx.plan_steps_run
    outcome = PlanStepOutcome.model_validate(
        await tasks.plan_step(revision, rejected, current, purpose)
    )
    ctx.spent += outcome.usage
    if outcome.cache:
        ctx.plan_cache = outcome.cache
    if outcome.playbook:
        ctx.playbook = outcome.playbook
    if ctx.plan_steps_run == before:  # the body did not run: restored from a checkpoint
        restored_plan_step(ctx, outcome)
    return outcome


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
        current_data = _replan_context(ctx, current) if current else None
        outcome = await step([[a.output, list(a.problems)] for a in rejected], current_data)
        usage += outcome.usage
        if outcome.question:
            return PlannerQuestion(outcome.question), usage, attempt
        if outcome.plan is not None:
            ctx.plan_repairs = outcome.repairs
            return outcome.plan, usage, attempt
        rejected.append(PlanAttempt(output=outcome.output, problems=outcome.problems))
        ctx.emit(PlanRejected(run_id=ctx.run_id, attempt=attempt, problems=outcome.problems))
    # The problems are feedback written for the planner ("reply with JSON only"): the message
    # counts them and says where each refused reply is shown with them.
    raise PlanError(
        f"no valid plan after {len(rejected)} attempt(s): the planner's replies broke the plan "
        f"rules each time ({len(rejected[-1].problems)} problem(s) with the last; each refused "
        f"reply and why: `podium show {ctx.run_id}`). Try again, "
        "state the goal more plainly, or give the frontier tier a stronger model "
        "([models] frontier)",
        rejected,
    )


async def plan_only(ctx: RunContext) -> tuple[Plan, Usage, int]:
    """Plan `ctx.goal` without running anything or writing checkpoints (a dry run)."""
    step = functools.partial(plan_step, ctx, purpose="plan")
    plan, usage, attempts = await plan_with_retries(ctx, step, None)
    if isinstance(plan, PlannerQuestion):
        # A dry run has no one to ask: say what the planner needs, to put in the goal.
        raise PlanError(
            f"the planner asks before it plans: {plan.question!r}; "
            "put the answer in the goal and plan again"
        )
    return plan, usage, attempts


def announce_plan(ctx: RunContext, plan: Plan) -> None:
    """The run's first plan, with where it came from."""
    ctx.emit(
        PlanCreated(
            run_id=ctx.run_id,
            plan=plan,
            revision=0,
            repairs=ctx.plan_repairs,
            playbook=playbook_label(ctx.playbook),
            clarifications=tuple(ctx.clarifications),
        )
    )


async def plan_step(
    ctx: RunContext, rejected: list[list[Any]], current: dict[str, Any] | None, purpose: Purpose
) -> PlanStepOutcome:
    """The body of one `plan_step` task: a playbook's plan, a cached plan, or a planner call."""
    ctx.plan_steps_run += 1
    names = [a.name for a in ctx.agents.specs()]
    max_tasks = ctx.config.planner.max_tasks
    match = await match_playbook(ctx, names, max_tasks) if purpose == "plan" else None
    if match is not None and match.use.mode == "filled" and not rejected:
        return filled_playbook(match)
    cached = await plan_cache.lookup(ctx, purpose)
    if cached is not None and not rejected:
        reused = plan_cache.reused(cached, ctx.goal, names, max_tasks)
        if reused is not None:
            return reused
    if cached is not None:
        template: Message | None = plan_cache.template_message(cached)
    else:
        template = playbook_template_message(match) if match is not None else None
    outcome = await _ask_planner(ctx, rejected, _Current.read(current), purpose, template)
    if outcome.plan is None:
        return outcome
    if cached is not None:
        return outcome.model_copy(update={"cache": plan_cache.use(cached, "adapted")})
    return outcome.model_copy(update={"playbook": match.use if match is not None else None})


@dataclass(frozen=True)
class _Current:
    """The plan being revised and its tasks' results, as a re-plan's planner sees them."""

    plan: Plan | None = None
    results: dict[str, TaskResult] | None = None

    @classmethod
    def read(cls, data: dict[str, Any] | None) -> _Current:
        if data is None:
            return cls()
        results = {k: TaskResult.model_validate(v) for k, v in data["results"].items()}
        return cls(Plan.model_validate(data["plan"]), results)


def _replan_context(ctx: RunContext, plan: Plan) -> dict[str, Any]:
    """The current plan and its tasks' results, as the `plan_step` task takes them (JSON)."""
    return {
        "plan": plan.model_dump(mode="json"),
        "results": {
            t.id: ctx.results[t.id].model_dump(mode="json")
            for t in plan.tasks
            if t.id in ctx.results
        },
    }


async def _ask_planner(
    ctx: RunContext,
    rejected: list[list[Any]],
    current: _Current,
    purpose: Purpose,
    template: Message | None,
) -> PlanStepOutcome:
    """One planner call, given a cached plan or a playbook as `template` when there is one."""
    questions = _offers_questions(ctx, purpose)
    request = _planner_request(ctx, rejected, current, purpose, questions, template)
    try:
        response = await ctx.seam.complete(request)
    except BudgetExceeded:
        raise  # a signal for the run (it ends budget_exceeded), not a failed planner call
    except PodiumError as exc:
        return PlanStepOutcome(problems=(f"the planner call failed: {exc.message}",))
    text = response.message.content or ""
    verdict, guarded = ctx.policies.check_run_output(
        "plan", text, metadata={"system_prompt": ""}, attempt=len(rejected) + 1
    )
    refused = PlanStepOutcome(output=text, usage=response.usage, verdicts=(verdict,))
    if not verdict.passed or guarded is None:
        return refused.model_copy(
            update={"problems": (f"refused by the plan guard: {verdict.message}",)}
        )
    completed = {i: r.task for i, r in (current.results or {}).items() if r.status == "completed"}
    try:
        parsed = parse_planner_reply(
            guarded,
            agents=[a.name for a in ctx.agents.specs()],
            max_tasks=ctx.config.planner.max_tasks,
            completed=completed,
            questions=questions,
        )
    except PlanValidationError as exc:
        return refused.model_copy(update={"problems": tuple(exc.problems)})
    if isinstance(parsed, PlannerQuestion):
        return refused.model_copy(update={"question": parsed.question})
    plan, repairs = parsed
    return refused.model_copy(update={"plan": plan, "repairs": tuple(repairs)})


def _planner_request(
    ctx: RunContext,
    rejected: list[list[Any]],
    current: _Current,
    purpose: Purpose,
    questions: bool,
    template: Message | None,
) -> ModelRequest:
    """The planner's prompt and its reply's schema (positional and smaller on the embedded model)."""
    agents = ctx.agents.specs()
    names = [a.name for a in agents]
    max_tasks = ctx.config.planner.max_tasks
    messages = plan_messages(
        ctx.goal,
        agents,
        max_tasks=max_tasks,
        rejected=[PlanAttempt(output=o, problems=tuple(p)) for o, p in rejected],
        current=current.plan,
        results=current.results,
        review=purpose == "review",
        questions=questions,
        clarifications=ctx.clarifications,
    )
    if template is not None:
        messages.insert(2, template)
    if is_local_model(ctx.config.models.frontier):
        schema = positional_plan_schema(names, min(max_tasks, LOCAL_MAX_TASKS))
    else:
        schema = plan_schema(names, max_tasks)
    return ModelRequest(
        tier="frontier",
        messages=tuple(messages),
        response_schema=with_question(schema) if questions else schema,
        purpose=purpose,
        run_id=ctx.run_id,
    )


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
