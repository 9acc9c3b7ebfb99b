"""The scenario format: a goal, its configuration and fixtures, its cassette and its expectations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from podium.agents import AgentSpec
from podium.runtime import PodiumConfig, PodiumError, RunStatus, Tier

from ._errors import EvalErrorCode

SCENARIO_VERSION = 1
Workflow = Literal["sales", "recruiting", "research", "support", "compliance", "other"]
ScenarioKind = Literal["happy_path", "failure", "adversarial", "other"]
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


class ScenarioError(PodiumError):
    """A scenario file that cannot be used; the message names the file and the field."""

    code = EvalErrorCode.SCENARIO


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


ValueTest = dict[Literal["gte", "lte", "gt", "lt", "in", "contains", "regex", "type"], Any]


class TextCheck(_Strict):
    """One check on a text (the answer or a task's output). Exactly one kind per check."""

    equals: str | None = None
    contains: str | None = None
    not_contains: str | None = None
    regex: str | None = None
    """re.search must find it."""
    not_regex: str | None = None
    json_schema: dict[str, Any] | None = None
    """The text must be JSON (a fenced block is accepted) valid against this schema."""
    fields: dict[str, Any] | None = None
    """Dotted paths into the JSON text (`lead.score`, `items.0.name`) and the value each must have,
    or a test: {gte|lte|gt|lt: n}, {in: [...]}, {contains: s}, {regex: p}, {type: string|number|...}."""
    min_chars: int | None = None
    max_chars: int | None = None
    ignore_case: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> TextCheck:
        kinds = [k for k in _TEXT_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"a check needs exactly one of {', '.join(_TEXT_KINDS)}; got {kinds or 'none'}"
            )
        for pattern in (self.regex, self.not_regex):
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"regex {pattern!r} does not compile: {exc}") from None
        return self

    @property
    def kind(self) -> str:
        return next(k for k in _TEXT_KINDS if getattr(self, k) is not None)


_TEXT_KINDS = (
    "equals",
    "contains",
    "not_contains",
    "regex",
    "not_regex",
    "json_schema",
    "fields",
    "min_chars",
    "max_chars",
)


class GraphExpect(_Strict):
    """The task graph. Selectors name a task id or an agent (any task of that agent)."""

    agents_used: list[str] = []
    agents_not_used: list[str] = []
    max_tasks: int | None = Field(default=None, ge=1)
    min_tasks: int | None = Field(default=None, ge=0)
    depends: list[tuple[str, str]] = []
    """[a, b]: b depends on a, directly or through other tasks."""
    parallel: list[tuple[str, str]] = []
    """[a, b]: neither depends on the other, so they may run at the same time."""
    min_replans: int | None = Field(default=None, ge=0)
    max_replans: int | None = Field(default=None, ge=0)


class RoutingExpect(_Strict):
    escalated: list[str] = []
    """Selectors of tasks that must have climbed to the frontier tier after a cheap try."""
    not_escalated: list[str] = []
    max_frontier_tries: int | None = Field(default=None, ge=0)


class GuardExpect(_Strict):
    tripped: list[str] = []
    """Guards that must have rejected something at least once (see the README for the names)."""
    not_tripped: list[str] = []


class BudgetExpect(_Strict):
    max_cost_usd: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=0)
    max_calls: int | None = Field(default=None, ge=0)
    stopped_by: Literal["usd", "tokens", "calls", "wall_time"] | None = None
    """The run must have ended `budget_exceeded` because of this limit."""


class JudgeCheck(_Strict):
    """An LLM-as-judge grader, called through the model seam and recorded like any other call."""

    rubric: str = Field(min_length=1)
    target: str = "answer"
    """`answer`, or a task selector whose output is judged."""
    tier: Tier = "frontier"


class Expectations(_Strict):
    status: RunStatus | None = "completed"
    answer: list[TextCheck] = []
    tasks: dict[str, list[TextCheck]] = {}
    """Selector → checks; passes when some completed task it selects passes them all."""
    graph: GraphExpect | None = None
    routing: RoutingExpect | None = None
    guards: GuardExpect | None = None
    budget: BudgetExpect | None = None
    judge: list[JudgeCheck] = []


class Fixtures(_Strict):
    """Files the run's tools see: written into a fresh workspace / datasets folder per trial."""

    workspace: dict[str, str] = {}
    datasets: dict[str, str] = {}
    """Replace the sample datasets with these (CSV or JSON text by file name)."""


class Scenario(_Strict):
    """One graded run. See evals/SCENARIOS.md for the format."""

    podium_scenario: Literal[1]
    name: str
    goal: str = Field(min_length=1)
    description: str = ""
    workflow: Workflow = "other"
    kind: ScenarioKind = "other"
    config: dict[str, Any] = {}
    """A podium.toml as a mapping (tables become mappings), applied on top of `config_file`."""
    config_file: str | None = None
    """A podium.toml, relative to the scenario file."""
    agents: list[dict[str, Any]] = []
    """Agent cards (same fields as the YAML cards) added to the built-ins for this scenario."""
    fixtures: Fixtures = Field(default_factory=Fixtures)
    cassette: str
    """The cassette file, relative to the scenario file."""
    expect: Expectations = Field(default_factory=Expectations)
    metadata: dict[str, Any] = {}
    """Free-form: who recorded it, with which models, whether the cassette was written by hand."""

    path: Path = Field(default=Path("scenario.yaml"), exclude=True)

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(
                f"{name!r}: use lowercase letters, digits, '-', '_' or '.', e.g. 'sales-happy'"
            )
        return name

    @property
    def cassette_path(self) -> Path:
        return self.path.parent / self.cassette

    def agent_specs(self) -> list[AgentSpec]:
        try:
            return [AgentSpec.model_validate(card) for card in self.agents]
        except ValidationError as exc:
            raise ScenarioError(f"{self.path}: agents: {_problems(exc)}") from None

    def podium_config(self, workdir: Path, *, data_dir: Path | None = None) -> PodiumConfig:
        """The trial's configuration: the scenario's alone (no PODIUM_* variables, no podium.toml
        of the caller's), with storage, memory, workspace and datasets inside `workdir`.

        A trial never sees the user's data folder: its memory would reach the replayed prompts
        (which then miss the cassette), and the trial's run would join the user's run list.
        `data_dir` (`podium eval run --data-dir`) keeps the trials' run records and audit trails
        there to inspect; memory stays the trial's own even then, as one scenario's memory would
        change the next one's prompts."""
        raw: dict[str, Any] = {}
        if self.config_file:
            import tomllib

            config_path = self.path.parent / self.config_file
            try:
                raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ScenarioError(f"{self.path}: config_file {config_path}: {exc}") from None
        raw = _merge(raw, self.config)
        workspace = workdir / "workspace"
        _write_files(workspace, self.fixtures.workspace)
        tools: dict[str, Any] = {
            **raw.get("tools", {}),
            "workspace": str(workspace),
            "outbox": str(workdir / "outbox"),
        }
        if self.fixtures.datasets:
            _write_files(workdir / "datasets", self.fixtures.datasets)
            tools["datasets"] = str(workdir / "datasets")
        storage = {"data_dir": str(data_dir or workdir / "data"), "checkpointer": "memory"}
        # A replay makes the calls its recording made: a scenario recorded before playbooks
        # existed (its config does not say) planned with the planner, so it replays without them.
        planner = {"playbooks": False, **raw.get("planner", {})}
        merged = {
            **raw,
            "tools": tools,
            "planner": planner,
            "storage": {**raw.get("storage", {}), **storage},
            "memory": {**raw.get("memory", {}), "path": str(workdir / "memory")},
        }
        try:
            # Relative paths in the config (agent cards, ...) are relative to the scenario file.
            return PodiumConfig.from_mapping(
                merged, source=f"{self.path}: config", base_dir=self.path.parent, environment=False
            )
        except PodiumError as exc:
            raise ScenarioError(str(exc)) from None


def load_scenario(path: Path) -> Scenario:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"scenario {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"scenario {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or "podium_scenario" not in raw:
        raise ScenarioError(
            f"{path} is not a Podium scenario: it needs `podium_scenario: {SCENARIO_VERSION}` at the top"
        )
    if raw["podium_scenario"] != SCENARIO_VERSION:
        raise ScenarioError(
            f"{path}: podium_scenario {raw['podium_scenario']!r} is not a version this Podium "
            f"reads ({SCENARIO_VERSION})"
        )
    try:
        return Scenario.model_validate({**raw, "path": path})
    except ValidationError as exc:
        raise ScenarioError(f"{path}: {_problems(exc)}") from None


def discover(paths: list[Path]) -> list[Path]:
    """Scenario files under each path (a file, or a folder searched recursively), sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*.y*ml") if p.suffix in {".yaml", ".yml"} and _is_scenario(p)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise ScenarioError(f"{path} is neither a scenario file nor a folder of scenarios")
    return list(dict.fromkeys(found))


def dump_scenario(scenario: Scenario, path: Path) -> None:
    data = scenario.model_dump(mode="json", exclude_defaults=True, exclude={"path"})
    data = {"podium_scenario": SCENARIO_VERSION, **data}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8"
    )


def _is_scenario(path: Path) -> bool:
    with path.open(encoding="utf-8") as f:
        return f.readline().startswith("podium_scenario:")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _write_files(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        target = (folder / name).resolve()
        if not target.is_relative_to(folder.resolve()):
            raise ScenarioError(f"fixture file {name!r} points outside its folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
        for e in exc.errors(include_url=False)
    )
