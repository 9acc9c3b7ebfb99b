"""Configuration: one `podium.toml`, or the same objects built in Python. Every field has an offline default."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from podium.agents import Tier
from podium.memory import MemoryConfig
from podium.policies import PoliciesConfig
from podium.tools import DEFAULT_MAX_RESULT_TOKENS, MIN_RESULT_TOKENS

from ._config_file import (
    Section as _Section,
    StorageConfig as StorageConfig,
    config_path,
    describe_invalid,
    read_toml,
    with_env,
)
from ._errors import ConfigError

if TYPE_CHECKING:
    from podium.agents import AgentRegistry, AgentSpec

DEFAULT_LOCAL_MODEL = "podium-local/smollm2-135m"


class RoutingRule(BaseModel):
    """Send matching tasks to a tier, whatever the planner hinted. All given conditions must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent: str | None = None
    min_instruction_chars: int | None = Field(default=None, ge=0)
    """Task size: instructions at least this long match (long, intricate tasks)."""
    max_instruction_chars: int | None = Field(default=None, ge=0)
    tier: Tier

    def describe(self) -> str:
        parts = [f"agent={self.agent}"] if self.agent else []
        if self.min_instruction_chars is not None:
            parts.append(f"instruction>={self.min_instruction_chars} chars")
        if self.max_instruction_chars is not None:
            parts.append(f"instruction<={self.max_instruction_chars} chars")
        return "rule " + (", ".join(parts) or "(all tasks)") + f" -> {self.tier}"


class RoutingConfig(BaseModel):
    """`[routing]` in podium.toml."""

    model_config = ConfigDict(extra="forbid")

    rules: list[RoutingRule] = []
    """First matching rule wins, and overrides the planner's hint."""
    retries_per_tier: int = Field(default=1, ge=0, le=5)
    """Extra tries on a tier after a failure (a failure: an error, or output that fails validation)."""
    frontier_retries: int | None = Field(default=None, ge=0, le=5)
    """Extra tries on the frontier tier after a failure; None: as `retries_per_tier`. 0 hands a
    task the frontier tier failed straight to the supervisor's re-plan, which sees the error (a
    retry sends the same prompt again). On the bundled routing workload 0 cuts routing's cost
    by 22% and frontier-only's by 9%, and both lose the one task a second frontier try rescued;
    that benchmark does not price the re-plan that would follow, so the default keeps the retry."""
    escalate: bool = True
    """After the cheap tier's tries are spent, move to the frontier tier."""
    escalate_agent_after_failures: int = Field(default=0, ge=0)
    """Past failures: once an agent's tasks have failed this often on the cheap tier in a run,
    its later tasks start on the frontier tier. Off (0) by default: failures are mostly
    task-specific, and the ladder already escalates the task that failed; on the bundled
    routing workload turning it on raised cost by 0.06 of frontier-only with no quality gain."""

    def retries_on(self, tier: Tier) -> int:
        """Extra tries on `tier` after a failure."""
        if tier == "frontier" and self.frontier_retries is not None:
            return self.frontier_retries
        return self.retries_per_tier


class Deployment(_Section):
    """One model serving a tier. Several deployments of a tier are load-balanced by litellm's Router."""

    tier: Tier
    model: str
    """Any litellm model string: openai/gpt-4o-mini, anthropic/..., ollama/llama3, hosted_vllm/..., azure/..."""
    api_base: str | None = None
    api_key_env: str | None = None
    """Name of the environment variable holding this deployment's key (keys never go in the file)."""
    input_cost_per_token: float | None = Field(default=None, ge=0)
    """Custom price in USD, overriding litellm's price map (self-hosted models, negotiated rates)."""
    output_cost_per_token: float | None = Field(default=None, ge=0)
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    server: Literal["openai", "llama-cpp"] = "openai"
    """The dialect of the OpenAI-compatible API at `api_base`. llama-cpp: llama-cpp-python's
    server (`python -m llama_cpp.server`), which takes a JSON schema as a json_object format,
    calls tools only when asked with tool_choice "auto" or a named function (it fails on
    "required": a required call of a request's only tool names it), and wants text
    in an assistant's tool-call turn. A fallback from such a deployment's tier should go to a
    tier of the same dialect or the embedded model."""
    context_window: int | None = Field(default=None, ge=256)
    """Prompt tokens the model takes; None: litellm's model map knows (the embedded model: 4096).
    Set it for a self-hosted server (`llama-server -c 8192`): prompts are sized to it."""
    params: dict[str, Any] = {}
    """Further litellm parameters for this deployment (api_version, temperature, ...)."""


PROVIDER_DEFAULTS: list[tuple[str, str, str]] = [
    ("OPENAI_API_KEY", "openai/gpt-4o-mini", "openai/gpt-4o"),
    ("ANTHROPIC_API_KEY", "anthropic/claude-3-5-haiku-latest", "anthropic/claude-sonnet-4-5"),
    ("GEMINI_API_KEY", "gemini/gemini-2.0-flash", "gemini/gemini-2.5-pro"),
]
"""(key variable, cheap model, frontier model): the tiers used when a key is set and none are configured."""


def default_tier(tier: Tier) -> str:
    """The first provider whose key is in the environment, else the embedded model (no key, no network)."""
    for variable, cheap, frontier in PROVIDER_DEFAULTS:
        if os.environ.get(variable):
            return cheap if tier == "cheap" else frontier
    return DEFAULT_LOCAL_MODEL


class ModelsConfig(_Section):
    """Model tiers as litellm Router model groups, and how the Router retries and fails over."""

    cheap: str = Field(default_factory=lambda: default_tier("cheap"))
    """Shorthand for one cheap deployment (used when `deployments` has none for the tier)."""
    frontier: str = Field(default_factory=lambda: default_tier("frontier"))
    deployments: list[Deployment] = []
    fallbacks: dict[Tier, list[Tier]] = {"cheap": ["frontier"]}
    """When every deployment of a tier fails, the Router tries these tiers next."""
    timeout_s: float = Field(default=120.0, gt=0)
    num_retries: int = Field(default=2, ge=0, le=10)
    """Router retries per call (rate limits, server errors, timeouts), before fallbacks."""
    cooldown_s: float = Field(default=30.0, ge=0)
    """How long a deployment that keeps failing is taken out of rotation."""
    allowed_fails: int = Field(default=3, ge=0)
    """Failures a deployment may have in a minute before its cooldown."""

    @model_validator(mode="after")
    def _one_dialect_per_tier(self) -> ModelsConfig:
        # A call's format is chosen per tier (litellm's Router picks the deployment after).
        for tier in ("cheap", "frontier"):
            dialects = {d.server for d in self.deployments if d.tier == tier}
            if len(dialects) > 1:
                raise ValueError(
                    f"the {tier} tier mixes server dialects {sorted(dialects)}: put the "
                    'llama-cpp deployments (server = "llama-cpp") in a tier of their own'
                )
        return self

    def deployments_for(self, tier: Tier) -> list[Deployment]:
        listed = [d for d in self.deployments if d.tier == tier]
        return listed or [
            Deployment(tier=tier, model=self.cheap if tier == "cheap" else self.frontier)
        ]

    def models(self) -> list[str]:
        return [d.model for tier in ("cheap", "frontier") for d in self.deployments_for(tier)]


class BudgetConfig(_Section):
    """Hard limits per run; 0 means no limit. Crossing one stops new model calls and ends the run."""

    max_usd: float = Field(default=0.0, ge=0)
    max_tokens: int = Field(default=0, ge=0)
    max_calls: int = Field(default=0, ge=0)
    max_wall_s: float = Field(default=0.0, ge=0)


class HttpToolConfig(_Section):
    enabled: bool = False
    allowlist: list[str] = []


class ToolsConfig(_Section):
    workspace: Path = Path(".")
    """Folder the file tools may read."""
    datasets: Path | None = None
    """Folder of CSV/JSON datasets; None means the sample datasets shipped with Podium."""
    http: HttpToolConfig = Field(default_factory=HttpToolConfig)
    outbox: Path | None = None
    """Folder `send_email` delivers to; None means `data_dir/outbox`."""
    max_result_tokens: int = Field(default=DEFAULT_MAX_RESULT_TOKENS, ge=MIN_RESULT_TOKENS)
    """A tool message larger than this goes into the prompt as a bounded view: the result is
    kept whole (secrets masked) under a handle the agent reads on with `read_result`."""
    max_result_share: float = Field(default=0.5, gt=0, le=0.9)
    """At most this share of the smallest context window of the tier serving the task (and of
    the tiers it falls back to), if that is less than `max_result_tokens`."""


class AgentsConfig(_Section):
    paths: list[Path] = []
    """YAML agent cards (files or folders) loaded on top of the built-ins."""


class PlannerConfig(_Section):
    attempts: int = Field(default=3, ge=1, le=10)
    """Planner calls allowed to produce a valid plan; each retry sees the previous problems."""
    max_tasks: int = Field(default=100, ge=1, le=1000)
    max_replans: int = Field(default=2, ge=0, le=20)
    max_goal_chars: int = Field(default=20_000, ge=100)
    playbooks: bool = True
    """Match goals to playbooks (plan templates for known workflows) before planning."""
    playbooks_dir: Path | None = None
    """A folder of the team's own playbooks (*.yaml); a name shared with a built-in replaces it."""
    playbook_fill_similarity: float = Field(default=0.9, ge=0.0, le=1.0)
    """A goal at least this close in meaning to a playbook's example goal, differing only in
    names, runs the playbook's plan with those names (no planner call)."""
    playbook_adapt_similarity: float = Field(default=0.75, ge=0.0, le=1.0)
    """At least this close (and not filled): the planner adapts the playbook's plan."""
    questions: Literal["auto", "on", "off"] = "auto"
    """May the planner ask the human a clarifying question instead of planning a goal it would
    have to guess at? The run then waits (a `clarify` escalation) and the answer goes back to
    the planner. auto: on, except when the embedded model plans (it asks about clear goals
    too; see README). Only before the first plan, and only with `[policies] escalation = "human"`."""
    max_questions: int = Field(default=2, ge=0, le=10)
    """Questions per run; after these the planner must plan with what it has been told."""


class RunConfig(_Section):
    concurrency: int = Field(default=8, ge=1, le=512)
    """Tasks that may run at the same time."""
    review: Literal["on_failure", "each_round"] = "on_failure"
    """on_failure: the planner is called again only to replace failed tasks. each_round: also
    after every round of tasks completes, so it may add tasks before the run finishes."""
    synthesis: Literal["auto", "model", "last_task", "facts"] = "auto"
    """auto: a single final task's output is the answer; otherwise a synthesis call merges them;
    and when the embedded model would write the answer, as facts. facts: the answer is put
    together without a model: the final outputs, the records the tools found that the goal
    names, the files read, a line from each other task."""
    lookups: Literal["auto", "on", "off"] = "auto"
    """Before a tool-first agent's first model turn, its tools look up the records and files its task
    names (a lead's row, "the Cirrusly contract"), as if the model had asked. auto: when the
    agents run on the embedded model, which works from a record it is shown far better than it
    asks for one; on / off: always / never."""
    executor: Literal["asyncio", "ray"] = "asyncio"
    """Where the agent work of each task runs: asyncio, in this process; ray, as Ray tasks on the
    cluster at `ray_address` (the supervisor, checkpoints, budget and events stay here)."""
    ray_address: str | None = None
    """The Ray cluster to join ("head-host:6379", "ray://head-host:10001", "auto"); None starts a
    local Ray inside this process (PODIUM_RAY_ADDRESS overrides it)."""
    ray_num_cpus: int | None = Field(default=None, ge=1)
    """CPUs of the local Ray when `ray_address` is None; None means every CPU of this machine."""
    ray_task_cpus: float = Field(default=1.0, gt=0, le=64)
    """CPUs Ray reserves for one task attempt: below 1 packs several model-bound agents per core."""
    ray_runtime_env: dict[str, Any] = {}
    """Ray's `runtime_env` for the workers, as Ray takes it (`env_vars`, `working_dir`,
    `py_modules`, `pip`): how a cluster's workers get code of your own, such as custom tools."""


class ServerKey(_Section):
    """One API key of `podium serve`: where its bearer token is, and whose runs it makes."""

    token_env: str = Field(min_length=1)
    """Name of the environment variable holding the token (tokens never go in the file)."""
    tenant: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    """Every run made with this key belongs to this tenant: its memory and its run list."""


PROFILE_SECTIONS = ("models", "routing", "budget", "planner", "run", "agents", "policies")
"""What a server profile may override; storage, memory and server stay the server's own."""


class ServerConfig(_Section):
    """`podium serve`: where it listens, how many runs it executes at once, who may call it."""

    host: str = "127.0.0.1"
    """Loopback by default; any other address needs at least one key."""
    port: int = Field(default=8321, ge=0, le=65535)
    concurrency: int = Field(default=64, ge=1, le=4096)
    """Runs executing at once; further runs wait in the queue."""
    queue_size: int = Field(default=1000, ge=0)
    """Runs accepted and waiting for a slot; a submission beyond this is refused with 503."""
    workers: int = Field(default=0, ge=0, le=64)
    """Processes that execute the runs (each with its own Podium), so runs use more cores and
    the server's own process keeps answering while they work. 0: a thread of the server's
    process (a Podium built in Python, e.g. with a test model, needs this)."""
    keys: dict[str, ServerKey] = {}
    """API keys by name (`[server.keys.NAME] token_env = "...", tenant = "..."`)."""
    profiles: dict[str, dict[str, Any]] = {}
    """Named overrides of the sections in PROFILE_SECTIONS, chosen on the OpenAI endpoint
    with model `podium/<name>` (or `profile` when submitting a run)."""
    progress: Literal["reasoning", "content", "none"] = "reasoning"
    """Where a streamed /v1/chat/completions puts progress lines: `reasoning_content` deltas
    (shown as "thinking" by chat UIs that know it), the answer's `content`, or nowhere."""
    kept_event_logs: int = Field(default=1000, ge=0)
    """Finished runs whose events stay in memory for late subscribers (older ones replay
    only their outcome)."""

    @model_validator(mode="after")
    def _profiles_touch_only_run_sections(self) -> ServerConfig:
        for name, overrides in self.profiles.items():
            bad = sorted(set(overrides) - set(PROFILE_SECTIONS))
            if bad:
                raise ValueError(
                    f"profile {name!r} overrides {bad}: a profile may only override "
                    f"{list(PROFILE_SECTIONS)}"
                )
        return self


class PodiumConfig(_Section):
    """Everything a Podium instance needs. `PodiumConfig()` works offline on one machine."""

    models: ModelsConfig = Field(default_factory=ModelsConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    planner: PlannerConfig = Field(default_factory=PlannerConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    agents: AgentsConfig = Field(default_factory=AgentsConfig)
    tools: ToolsConfig = Field(default_factory=ToolsConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    policies: PoliciesConfig = Field(default_factory=PoliciesConfig)
    """Guards, tool permissions, injection defence, escalation and audit (`[policies]`)."""
    server: ServerConfig = Field(default_factory=ServerConfig)
    """`podium serve`: address, concurrency, queue, API keys and tenants, profiles."""

    @property
    def runs_dir(self) -> Path:
        return self.storage.runs_dir

    def agent_registry(self, extra: Iterable[AgentSpec] = ()) -> AgentRegistry:
        """The built-in agents, then the cards `[agents] paths` names, then `extra` (each
        replacing an agent of its name). Here, not in the façade: `podium agents` lists them
        without loading what running a goal needs."""
        from podium.agents import AgentRegistry, AgentRegistryError

        registry = AgentRegistry.builtin()
        try:
            for path in self.agents.paths:
                registry.load(path)
        except AgentRegistryError as exc:
            raise ConfigError(str(exc)) from None
        for spec in extra:
            registry.register(spec, replace=True)
        return registry

    @classmethod
    def from_toml(cls, path: Path) -> PodiumConfig:
        return cls.from_mapping(read_toml(path), source=str(path), base_dir=path.parent)

    @classmethod
    def from_mapping(
        cls,
        raw: dict[str, Any],
        *,
        source: str = "config",
        base_dir: Path | None = None,
        environment: bool = True,
    ) -> PodiumConfig:
        """`raw` as a configuration, with the PODIUM_* environment variables applied last unless
        `environment` is False (an eval scenario is the whole configuration its replay needs: the
        user's data folder or models must not reach it)."""
        try:
            config = cls.model_validate(with_env(raw) if environment else raw)
        except ValidationError as exc:
            raise ConfigError(f"{source}: {describe_invalid(exc, cls)}") from None
        return config._relative_to(base_dir) if base_dir else config

    @classmethod
    def load(cls, path: Path | None = None) -> PodiumConfig:
        """`path`, else $PODIUM_CONFIG, else ./podium.toml if present, else defaults."""
        candidate = config_path(path)
        return cls.from_toml(candidate) if candidate else cls.from_mapping({})

    def with_profile(self, name: str) -> PodiumConfig:
        """This configuration with `[server.profiles.NAME]` applied (section by section)."""
        try:
            overrides = self.server.profiles[name]
        except KeyError:
            raise ConfigError(
                f"no profile {name!r}: configured profiles are {sorted(self.server.profiles)}"
            ) from None
        update: dict[str, Any] = {}
        for section, values in overrides.items():
            current = getattr(self, section)
            try:
                update[section] = type(current).model_validate(
                    {**current.model_dump(mode="json"), **values}
                )
            except ValidationError as exc:
                described = describe_invalid(exc, type(current), section)
                raise ConfigError(f"server.profiles.{name}.{section}: {described}") from None
        return self.model_copy(update=update)

    def _relative_to(self, base: Path) -> PodiumConfig:
        def fix(p: Path) -> Path:
            return p if p.is_absolute() else base / p

        return self.model_copy(
            update={
                "storage": self.storage.model_copy(update={"data_dir": fix(self.storage.data_dir)}),
                "agents": AgentsConfig(paths=[fix(p) for p in self.agents.paths]),
                "planner": self.planner.model_copy(
                    update={
                        "playbooks_dir": fix(self.planner.playbooks_dir)
                        if self.planner.playbooks_dir
                        else None
                    }
                ),
                "memory": self.memory.model_copy(
                    update={"path": fix(self.memory.path) if self.memory.path else None}
                ),
                "tools": self.tools.model_copy(
                    update={
                        "workspace": fix(self.tools.workspace),
                        "datasets": fix(self.tools.datasets) if self.tools.datasets else None,
                        "outbox": fix(self.tools.outbox) if self.tools.outbox else None,
                    }
                ),
            }
        )
