"""The planner's side of the supervisor: prompts, the plan schema, and strict parsing of replies."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from podium.agents import AgentSpec, loads_lenient

from .._errors import PlanAttempt, PlanValidationError
from ._plan import TASK_ID_PATTERN, Plan, Task, validate_plan
from ._result import Clarification, TaskResult

_SYSTEM = """You are the supervisor of a team of specialist agents.
Break the user's goal into a graph of tasks, each done by one agent.
- Give every task a short unique id (t1, t2, ...), one agent from the list, and a precise instruction.
- `inputs` lists the ids of earlier tasks whose outputs the task needs. Tasks with no shared
  inputs run in parallel, so only add an input when the task truly needs that output.
- Use tier "frontier" only for tasks that need deep reasoning; otherwise "cheap".
- End with one task that produces the final answer to the goal, taking the outputs it needs.
- At most {max_tasks} tasks.
Typical shapes:
- sales lead: enricher -> researcher -> analyst (score) -> writer (personalise) -> writer (outreach)
- recruiting: sourcer -> screener -> writer (outreach) -> scheduler
- research: several researchers in parallel -> synthesizer
- support: classifier -> router -> writer (escalation note)
- compliance: reviewer (documents) -> reviewer (policy checks) -> analyst (risk score)
Agents:
{agents}
Reply with JSON only: {{"tasks": [{{"id": ..., "agent": ..., "instruction": ..., "inputs": [...], "tier": ...}}], "rationale": "..."}}"""

_QUESTION_RULE = """
If the goal leaves out something you cannot plan without guessing (what to improve, for whom,
which records, what result is wanted), do not invent it: reply instead with JSON only:
{"question": "..."}, one short question for the user. Their answer comes back to you."""
"""Offered only when a human can answer (see `[planner] questions`): without it the prompt is
the one every earlier recording was made with, so their fingerprints still match."""

MAX_QUESTION_CHARS = 500

_REPLAN = """The plan below has been partly carried out. Some tasks failed.
Current plan:
{plan}
Results so far:
{results}
Return a revised complete plan that still reaches the goal. Rules:
- Completed tasks are kept with the same id, agent, instruction and inputs (their outputs are reused); list them only if still needed.
- Replace each failed task with a different approach: another agent, a better instruction, or smaller steps, under a new id.
- Skipped tasks waited on a failed task: keep them (pointing at the replacement) or replace them."""


def plan_schema(agent_names: Sequence[str], max_tasks: int) -> dict[str, Any]:
    """The JSON schema constrained decoders follow: agent names as an enum, bounded arrays."""
    return {
        "type": "object",
        "properties": {
            "tasks": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_tasks,
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "pattern": TASK_ID_PATTERN},
                        "agent": {"type": "string", "enum": list(agent_names)},
                        "instruction": {"type": "string", "minLength": 1},
                        "inputs": {
                            "type": "array",
                            "items": {"type": "string"},
                            "maxItems": max_tasks,
                        },
                        "tier": {"type": "string", "enum": ["cheap", "frontier"]},
                    },
                    "required": ["id", "agent", "instruction", "inputs"],
                    "additionalProperties": False,
                },
            },
            "rationale": {"type": "string"},
        },
        "required": ["tasks"],
        "additionalProperties": False,
    }


def question_schema() -> dict[str, Any]:
    """The other reply the planner may give when questions are offered: one question."""
    return {
        "type": "object",
        "properties": {
            "question": {"type": "string", "minLength": 1, "maxLength": MAX_QUESTION_CHARS}
        },
        "required": ["question"],
        "additionalProperties": False,
    }


def with_question(plan: dict[str, Any]) -> dict[str, Any]:
    """A reply schema allowing a plan or a question. The root stays `"type": "object"`, which
    providers' structured outputs (and Anthropic's tool-backed JSON mode) require of a root;
    each branch of the `anyOf` is a closed object, so a reply is one or the other."""
    return {"type": "object", "anyOf": [plan, question_schema()]}


def positional_plan_schema(
    agent_names: Sequence[str], max_tasks: int, min_tasks: int = 2
) -> dict[str, Any]:
    """A schema under which every plan is a valid DAG, for small models on constrained decoding.

    Task k is called t<k> and may only take inputs from t1..t<k-1>: ids are unique and the graph
    acyclic by construction, so the only freedom left is what a small model can handle.
    """

    def task_schema(k: int) -> dict[str, Any]:
        earlier = [f"t{i}" for i in range(1, k)]
        inputs: dict[str, Any] = {"const": []}
        if earlier:
            inputs = {"type": "array", "items": {"enum": earlier}, "maxItems": min(len(earlier), 3)}
        return {
            "type": "object",
            "properties": {
                "id": {"const": f"t{k}"},
                "agent": {"enum": list(agent_names)},
                "instruction": {"type": "string", "minLength": 8, "maxLength": 160},
                "inputs": inputs,
            },
            "required": ["id", "agent", "instruction", "inputs"],
        }

    lengths = range(min(min_tasks, max_tasks), max_tasks + 1)
    shapes = [
        {
            "type": "array",
            "prefixItems": [task_schema(k) for k in range(1, n + 1)],
            "minItems": n,
            "maxItems": n,
        }
        for n in lengths
    ]
    return {"type": "object", "properties": {"tasks": {"anyOf": shapes}}, "required": ["tasks"]}


_REVIEW = """Every task of the plan below has completed.
Current plan:
{plan}
Results:
{results}
If these results achieve the goal, reply with the current plan unchanged.
Otherwise reply with the plan extended by the tasks still needed (new ids; completed tasks unchanged)."""


def plan_messages(
    goal: str,
    agents: Sequence[AgentSpec],
    *,
    max_tasks: int,
    rejected: Sequence[PlanAttempt] = (),
    current: Plan | None = None,
    results: Mapping[str, TaskResult] | None = None,
    review: bool = False,
    questions: bool = False,
    clarifications: Sequence[Clarification] = (),
) -> list[dict[str, Any]]:
    """Messages for a plan (or, with `current`, a re-plan); rejected attempts are fed back.

    `questions` offers the planner a question instead of a plan; `clarifications` are the
    human's answers to its earlier questions, given with the goal."""
    roster = "\n".join(f"- {a.name}: {a.description}" for a in agents)
    system = _SYSTEM.format(max_tasks=max_tasks, agents=roster)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system + (_QUESTION_RULE if questions else "")},
        {"role": "user", "content": f"Goal: {goal}" + _clarified(clarifications)},
    ]
    if current is not None:
        messages.append(
            {
                "role": "user",
                "content": (_REVIEW if review else _REPLAN).format(
                    plan=current.model_dump_json(exclude_defaults=True),
                    results=_summarise(results or {}),
                ),
            }
        )
    for attempt in rejected:
        messages.append({"role": "assistant", "content": attempt.output})
        messages.append(
            {
                "role": "user",
                "content": "That plan was rejected:\n- "
                + "\n- ".join(attempt.problems)
                + "\nReturn a corrected plan as JSON only.",
            }
        )
    return messages


def _clarified(clarifications: Sequence[Clarification]) -> str:
    return "".join(
        f"\n\nYou asked: {c.question}\nThe user's clarification: {c.answer}" for c in clarifications
    )


class PlannerQuestion(NamedTuple):
    """The planner's reply when it asks the human before planning (a `clarify` escalation)."""

    question: str


class _QuestionReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str

    @field_validator("question")
    @classmethod
    def _one_short_question(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("the question is empty: ask one short question, or reply with a plan")
        if len(value) > MAX_QUESTION_CHARS:
            raise ValueError(
                f"the question is {len(value)} characters, over {MAX_QUESTION_CHARS}: "
                "ask one short question"
            )
        return value


class ParsedPlan(NamedTuple):
    plan: Plan
    repairs: tuple[str, ...]
    """What the reply's JSON needed before it parsed (see `podium.agents.loads_lenient`)."""


def parse_plan(
    text: str,
    *,
    agents: Sequence[str],
    max_tasks: int,
    completed: Mapping[str, Task] | None = None,
) -> Plan:
    """Parse and check a planner reply. Raises PlanValidationError with every problem found."""
    return parse_plan_reply(text, agents=agents, max_tasks=max_tasks, completed=completed).plan


def parse_plan_reply(
    text: str,
    *,
    agents: Sequence[str],
    max_tasks: int,
    completed: Mapping[str, Task] | None = None,
) -> ParsedPlan:
    """`parse_plan`, also saying which repairs of form the reply's JSON needed: a reply that is
    valid after a repair is a valid plan, not a failed attempt."""
    reply = parse_planner_reply(text, agents=agents, max_tasks=max_tasks, completed=completed)
    assert isinstance(reply, ParsedPlan)  # questions=False: a question is a PlanValidationError
    return reply


def parse_planner_reply(
    text: str,
    *,
    agents: Sequence[str],
    max_tasks: int,
    completed: Mapping[str, Task] | None = None,
    questions: bool = False,
) -> ParsedPlan | PlannerQuestion:
    """A planner reply: a plan, or (when `questions` are offered) one question for the human.

    Raises PlanValidationError with every problem found; a question where none may be asked,
    an empty one, or a question with tasks beside it is such a problem, fed back like any."""
    try:
        parsed = loads_lenient(text)
    except json.JSONDecodeError as exc:
        raise PlanValidationError(
            [f"the reply is not a JSON object ({exc}): reply with JSON only"]
        ) from None
    if isinstance(parsed.value, dict) and "question" in parsed.value:
        return _question(parsed.value, allowed=questions)
    plan = validate_plan(parsed.value, agents=agents, max_tasks=max_tasks)
    changed = [
        f"task {t.id!r} has already completed, so it cannot change: keep its agent, "
        "instruction and inputs, or give the new task a new id"
        for t in plan.tasks
        if completed and t.id in completed and _definition(t) != _definition(completed[t.id])
    ]
    if changed:
        raise PlanValidationError(changed)
    return ParsedPlan(plan, parsed.repairs)


def _question(reply: dict[str, Any], *, allowed: bool) -> PlannerQuestion:
    if "tasks" in reply:
        raise PlanValidationError(
            [
                'the reply holds both a question and tasks: reply with either a plan or {"question": '
                '"..."}, not both'
            ]
            if allowed
            else [
                "the reply holds a question: no question can be asked now, reply with the plan only"
            ]
        )
    if not allowed:
        raise PlanValidationError(
            [
                "no question can be asked now: reply with a plan, and where the goal is unclear "
                "make the most reasonable assumption and say it in `rationale`"
            ]
        )
    try:
        return PlannerQuestion(_QuestionReply.model_validate(reply).question)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            field = ".".join(str(p) for p in err["loc"]) or "(whole)"
            if err["type"] == "extra_forbidden":
                problems.append(
                    f'the question reply has an unknown field {field!r}: reply with {{"question": '
                    '"..."}} only'
                )
            elif err["type"] == "value_error":
                problems.append(str(err["ctx"]["error"]))
            else:
                problems.append(f"the question: {err['msg']}: write it as text")
        raise PlanValidationError(problems) from None


def _definition(task: Task) -> tuple[str, str, tuple[str, ...]]:
    return (task.agent, task.instruction, tuple(sorted(task.inputs)))


def _summarise(results: Mapping[str, TaskResult]) -> str:
    lines = []
    for task_id, r in results.items():
        if r.status == "completed":
            lines.append(f"- {task_id} completed: {(r.output or '')[:300]}")
        elif r.status == "failed":
            lines.append(f"- {task_id} FAILED: {r.error}")
        else:
            lines.append(f"- {task_id} skipped: {r.error}")
    return "\n".join(lines) or "(none)"
