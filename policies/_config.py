"""The `[policies]` section of podium.toml: guards, tool permissions, injection defence, audit.

Defaults are the safe ones: every output guarded, tools denied unless granted, side-effecting
tools waiting for a human, untrusted data never carried into a side effect, the audit on.

```toml
[policies]
validators = ["valid_length", "no_debris", "no_secrets", "no_agent_directives", "no_prompt_leak", "cites_given_sources", "safe_html"]
max_reasks = 1
escalation = "human"              # or "fail": no human in the loop (batch jobs, evals)

[policies.input]
injection = "block"               # "warn" | "off"
deny_patterns = ["(?i)wire transfer"]

[policies.agents.writer]
scopes = ["write:email"]          # granted on top of the card's scopes
validators = [{name = "ban_list", banned_words = ["guarantee"]}]   # added to its guard
allow_untrusted_to = ["send_email"]   # the body may quote tool data; the recipient may not

[policies.tools.send_email]
approval = "never"                # "auto" (= always when the tool has side effects) | "always"
max_calls_per_run = 5
max_calls_per_minute = 30
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._guards import ValidatorRef, parse_refs

DEFAULT_VALIDATORS: tuple[Any, ...] = (
    {"name": "valid_length", "min": 1, "max": 20_000},
    "no_debris",
    "no_secrets",
    "no_agent_directives",
    "no_prompt_leak",
    "cites_given_sources",
    "safe_html",
)
"""Every agent output passes these unless its card or `[policies.agents.X]` says otherwise."""

DEFAULT_PLANNER_VALIDATORS: tuple[Any, ...] = (
    {"name": "valid_length", "max": 100_000},
    "no_secrets",
)
DEFAULT_ANSWER_VALIDATORS: tuple[Any, ...] = (
    "no_debris",
    "no_secrets",
    "no_agent_directives",
    "no_prompt_leak",
    "safe_html",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _refs(value: Any) -> tuple[ValidatorRef, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError("expected a list of validator names or tables")
    return parse_refs(value)


class InputPolicy(_Section):
    """The goal's own guard: checked before anything is planned."""

    injection: Literal["block", "warn", "off"] = "block"
    """What to do when the goal carries prompt-injection patterns."""
    deny_patterns: list[str] = []
    """Regular expressions a goal must not match (organisation policy), e.g. "(?i)wire transfer".
    (The goal's size limit is `[planner] max_goal_chars`.)"""


class AgentPolicy(_Section):
    scopes: list[str] = []
    """Scopes granted on top of the agent card's own."""
    revoke: list[str] = []
    """Scopes taken away from the card's grants."""
    validators: tuple[ValidatorRef, ...] = ()
    """Added to the agent's validators (an entry replaces a validator of the same name)."""
    only_validators: tuple[ValidatorRef, ...] | None = None
    """The agent's complete validator list, instead of the default set plus its card's
    (`[]` turns its guard off: an explicit, audited choice)."""
    allow_untrusted_to: list[str] = []
    """Where this agent may send data that came from untrusted sources: "tool" (the tool's
    content arguments, e.g. an email's body), "tool.arg" (one argument, even a sink such as a
    recipient) or "tool.*" (every argument)."""

    _check_validators = field_validator("validators", "only_validators", mode="before")(
        lambda cls, v: None if v is None else _refs(v)
    )


class ToolPolicy(_Section):
    approval: Literal["auto", "always", "never"] = "auto"
    """auto: a human approves each call of a side-effecting tool; always: every call; never: none."""
    max_calls_per_run: int = Field(default=0, ge=0)
    """0 = no limit of its own (the run-wide `max_tool_calls_per_run` still applies)."""
    max_calls_per_minute: int = Field(default=0, ge=0)
    """Across every run of this process; 0 = no limit."""


class PoliciesConfig(_Section):
    validators: tuple[ValidatorRef, ...] = parse_refs(DEFAULT_VALIDATORS)
    planner_validators: tuple[ValidatorRef, ...] = parse_refs(DEFAULT_PLANNER_VALIDATORS)
    answer_validators: tuple[ValidatorRef, ...] = parse_refs(DEFAULT_ANSWER_VALIDATORS)
    max_reasks: int = Field(default=1, ge=0, le=5)
    """Re-asks of the same agent after a guard's reask, before the ladder escalates the tier."""
    escalation: Literal["human", "fail"] = "human"
    """The last rung of the ladder: pause the run for a human (a LangGraph interrupt), or fail."""
    max_tool_calls_per_run: int = Field(default=200, ge=1)
    input: InputPolicy = Field(default_factory=InputPolicy)
    agents: dict[str, AgentPolicy] = {}
    tools: dict[str, ToolPolicy] = {}
    redact_pii: list[str] = []
    """PII kinds (email, phone, credit_card, iban) masked in the audit log, besides secrets."""
    audit: bool = True
    """Write `audit.jsonl` in each run's folder."""

    _check_validators = field_validator(
        "validators", "planner_validators", "answer_validators", mode="before"
    )(lambda cls, v: _refs(v))

    def agent(self, name: str) -> AgentPolicy:
        return self.agents.get(name) or AgentPolicy()

    def tool(self, name: str) -> ToolPolicy:
        return self.tools.get(name) or ToolPolicy()

    def validators_for(
        self, name: str, card: tuple[ValidatorRef, ...] = ()
    ) -> tuple[ValidatorRef, ...]:
        """An agent's validators: the default set, then its card's, then `[policies.agents.X]
        validators` (a later entry replaces an earlier one of the same name); or exactly
        `only_validators` when that is set."""
        policy = self.agent(name)
        if policy.only_validators is not None:
            return tuple(policy.only_validators)
        merged: dict[str, ValidatorRef] = {}
        for ref in (*self.validators, *card, *policy.validators):
            merged.pop(ref.short_name, None)
            merged[ref.short_name] = ref
        return tuple(merged.values())
