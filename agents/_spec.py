"""Agent cards: what a specialist is, what it may use, how its output must look."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from podium.policies import ValidatorRef, parse_refs

Tier = Literal["cheap", "frontier"]
"""Model tier: a small fast model, or the strongest configured one."""

AGENT_NAME_PATTERN = r"^[a-z][a-z0-9_\-]{0,47}$"


class AgentSpec(BaseModel):
    """A specialist agent, as declared in a YAML card or in Python."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=AGENT_NAME_PATTERN)
    description: str = Field(min_length=1)
    """One or two sentences; the planner chooses agents by this."""
    system_prompt: str = Field(min_length=1)
    tools: tuple[str, ...] = ()
    """Names of the tools this agent may call."""
    scopes: tuple[str, ...] = ()
    """Permission scopes granted to this agent; a tool needing any other scope is refused."""
    tier: Tier = "cheap"
    """Default tier when the planner gives no hint."""
    output_schema: dict[str, Any] | None = None
    """JSON schema for the agent's final output, if it must be structured."""
    validators: tuple[ValidatorRef, ...] = ()
    """Output validators added to the default set (`[policies] validators`): names such as
    "no_pii", or tables such as {name: ban_list, banned_words: [...], on_fail: fix}."""
    max_steps: int = Field(default=6, ge=1, le=50)
    """Model turns allowed per task, tool calls included."""
    tool_first: bool = False
    """The first turn must call a tool (`tool_choice="required"`): an agent whose work is looking
    things up answers from what it found, not from what a model would guess. Small models
    otherwise often answer at once from nothing."""
    allow_untrusted_to: tuple[str, ...] = ()
    """Tools of this card whose content arguments (an email's subject and body) may carry data
    that came from tools or memory: an agent whose job is to send what another wrote needs it.
    Names only, never an argument: a sink (a recipient) is opened by the operator alone, in
    `[policies.agents.X] allow_untrusted_to`, which adds to this list."""

    @field_validator("allow_untrusted_to")
    @classmethod
    def _content_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if "." in entry:
                raise ValueError(
                    f"{entry!r} names an argument: a card opens a tool's content arguments only "
                    f"(write {entry.partition('.')[0]!r}); a sink such as a recipient is opened in "
                    "podium.toml's `[policies.agents.NAME] allow_untrusted_to`"
                )
        return value

    @model_validator(mode="after")
    def _own_tools(self) -> AgentSpec:
        foreign = [t for t in self.allow_untrusted_to if t not in self.tools]
        if foreign:
            raise ValueError(
                f"allow_untrusted_to names {foreign}, not among the card's tools {list(self.tools)}"
            )
        return self

    @field_validator("validators", mode="before")
    @classmethod
    def _known_validators(cls, value: Any) -> tuple[ValidatorRef, ...]:
        return parse_refs(value if isinstance(value, list | tuple) else [value])
