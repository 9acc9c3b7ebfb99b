"""The routing benchmark's workload file: tasks, their graders, recorded answers per tier, prices.

The format is described, with an example, in evals/bench/ROUTING_WORKLOAD.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from podium.agents import AgentRegistry
from podium.evals import EvalErrorCode
from podium.runtime import PodiumError, RoutingConfig, Task, Tier


class WorkloadError(PodiumError, ValueError):
    """A workload file is unreadable or malformed; the message names the task and the field."""

    code = EvalErrorCode.BENCH_INPUT


class _Grader(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExactGrader(_Grader):
    """The answer, without surrounding whitespace, is exactly this text (case matters)."""

    exact: str

    def passes(self, answer: str) -> bool:
        return answer.strip() == self.exact.strip()


class ContainsGrader(_Grader):
    """Every one of these phrases appears in the answer, ignoring case."""

    contains: list[str] = Field(min_length=1)

    def passes(self, answer: str) -> bool:
        text = answer.casefold()
        return all(phrase.casefold() in text for phrase in self.contains)


class RegexGrader(_Grader):
    """The pattern matches somewhere in the answer (`re.search`; add `(?i)` for any case)."""

    regex: str

    @field_validator("regex")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return pattern

    def passes(self, answer: str) -> bool:
        return re.search(self.regex, answer) is not None


class JsonFieldsGrader(_Grader):
    """The answer is a JSON object whose named top-level fields equal these values."""

    json_fields: dict[str, Any] = Field(min_length=1)

    def passes(self, answer: str) -> bool:
        try:
            data = json.loads(answer)
        except json.JSONDecodeError:
            return False
        if not isinstance(data, dict):
            return False
        return all(
            name in data and _same_value(expected, data[name])
            for name, expected in self.json_fields.items()
        )


def _same_value(expected: Any, actual: Any) -> bool:
    # In Python `True == 1`: a grader expecting `true` must not accept `1`, nor the reverse.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


_GRADER_KINDS: dict[type[_Grader], str] = {
    ExactGrader: "exact",
    ContainsGrader: "contains",
    RegexGrader: "regex",
    JsonFieldsGrader: "json_fields",
}


def _grader_kind(value: Any) -> str | None:
    """The grader's kind from its single key, so errors speak of that kind only."""
    if isinstance(value, dict):
        kinds = [key for key in value if key in _GRADER_KINDS.values()]
        return kinds[0] if len(kinds) == 1 else None
    return _GRADER_KINDS.get(type(value))


Grader = Annotated[
    Annotated[ExactGrader, Tag("exact")]
    | Annotated[ContainsGrader, Tag("contains")]
    | Annotated[RegexGrader, Tag("regex")]
    | Annotated[JsonFieldsGrader, Tag("json_fields")],
    Discriminator(
        _grader_kind,
        custom_error_type="grader_kind",
        custom_error_message=(
            "a grader has exactly one of the keys exact, contains, regex, json_fields"
        ),
    ),
]


class RecordedAnswer(BaseModel):
    """What one tier answered on one try, and the tokens that try used."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answer: str
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)


class WorkloadTask(BaseModel):
    """A plan task, how to grade its output, and each tier's recorded answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    agent: str
    instruction: str
    tier: Tier | None = None
    """The planner's hint, as it would appear in a plan."""
    grader: Grader
    cheap: RecordedAnswer
    frontier: RecordedAnswer
    cheap_retry: RecordedAnswer | None = None
    """The answer on later tries on the cheap tier; None: the same answer again."""
    frontier_retry: RecordedAnswer | None = None

    @model_validator(mode="after")
    def _is_a_plan_task(self) -> WorkloadTask:
        try:
            self.as_task()
        except ValidationError as exc:
            problems = "; ".join(f"{_field_path(e)}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"not a valid plan task: {problems}") from None
        return self

    def as_task(self) -> Task:
        return Task(id=self.id, agent=self.agent, instruction=self.instruction, tier=self.tier)

    def answer(self, tier: Tier, earlier_tries: int) -> RecordedAnswer:
        """The recorded answer for a try on `tier` after `earlier_tries` tries on that tier."""
        first, retry = (
            (self.cheap, self.cheap_retry)
            if tier == "cheap"
            else (self.frontier, self.frontier_retry)
        )
        return first if earlier_tries == 0 or retry is None else retry


class TierPrice(BaseModel):
    """List price of a tier's model, USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)

    def cost(self, answer: RecordedAnswer) -> float:
        return (
            answer.input_tokens * self.input_per_mtok + answer.output_tokens * self.output_per_mtok
        ) / 1_000_000


class Prices(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cheap: TierPrice = TierPrice(input_per_mtok=0.15, output_per_mtok=0.60)
    """Default: gpt-4o-mini's list price."""
    frontier: TierPrice = TierPrice(input_per_mtok=2.50, output_per_mtok=10.00)
    """Default: gpt-4o's list price."""

    def of(self, tier: Tier) -> TierPrice:
        return self.cheap if tier == "cheap" else self.frontier


class RoutingWorkload(BaseModel):
    """A whole workload file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prices: Prices = Prices()
    routing: RoutingConfig = RoutingConfig()
    """The policy under test; the baselines keep its `retries_per_tier` and `frontier_retries`."""
    tasks: list[WorkloadTask] = Field(min_length=1)

    @model_validator(mode="after")
    def _tasks_are_runnable(self) -> RoutingWorkload:
        agents = AgentRegistry.builtin().names()
        seen: set[str] = set()
        for task in self.tasks:
            if task.agent not in agents:
                raise ValueError(
                    f"task {task.id!r}: unknown agent {task.agent!r} (built-in agents: {agents})"
                )
            if task.id in seen:
                raise ValueError(f"task {task.id!r}: the id is used twice")
            seen.add(task.id)
        return self


BUNDLED_WORKLOAD = Path(__file__).parent / "workloads" / "routing.yaml"


def load_workload(path: Path | None = None) -> RoutingWorkload:
    """Read and validate a workload file; None reads the bundled one."""
    try:
        raw = yaml.safe_load((path or BUNDLED_WORKLOAD).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise WorkloadError(f"cannot read the workload {path or BUNDLED_WORKLOAD}: {exc}") from None
    return parse_workload(raw, source=str(path or BUNDLED_WORKLOAD.name))


def parse_workload(raw: Any, *, source: str = "workload") -> RoutingWorkload:
    try:
        return RoutingWorkload.model_validate(raw)
    except ValidationError as exc:
        problems = "\n".join(f"  {_locate(e, raw)}: {e['msg']}" for e in exc.errors())
        raise WorkloadError(f"{source} is malformed:\n{problems}") from None


def _locate(error: ErrorDetails, raw: Any) -> str:
    """`task 'id' (#n) field.path` for errors inside a task, else the plain field path."""
    loc = error["loc"]
    if len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
        index = loc[1]
        tasks = raw.get("tasks") if isinstance(raw, dict) else None
        entry = tasks[index] if isinstance(tasks, list) and index < len(tasks) else None
        name = repr(entry.get("id")) if isinstance(entry, dict) and "id" in entry else "?"
        rest = ".".join(str(part) for part in loc[2:]) or "(task)"
        return f"task {name} (#{index + 1}) {rest}"
    return _field_path(error) or "(workload)"


def _field_path(error: ErrorDetails) -> str:
    return ".".join(str(part) for part in error["loc"])
