"""Agent cards: what a specialist is, what it may use, how its output must look."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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

    @field_validator("validators", mode="before")
    @classmethod
    def _known_validators(cls, value: Any) -> tuple[ValidatorRef, ...]:
        return parse_refs(value if isinstance(value, list | tuple) else [value])
