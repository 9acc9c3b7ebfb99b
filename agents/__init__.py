"""Podium's agents: specs (cards), the registry, the agent loop and the built-in specialists."""

from ._json import LenientJSON, loads_lenient
from ._loop import (
    PROMPT_LABELS,
    UPSTREAM_NOTE,
    AgentLoopError,
    AgentOutput,
    ChatFn,
    GuardRejected,
    LoopPolicy,
    Message,
    Review,
    ToolChoice,
    ToolUse,
    run_agent,
    upstream_block,
)
from ._registry import AgentRegistry, AgentRegistryError
from ._spec import AgentSpec, Tier

__all__ = [
    "PROMPT_LABELS",
    "UPSTREAM_NOTE",
    "AgentLoopError",
    "AgentOutput",
    "AgentRegistry",
    "AgentRegistryError",
    "AgentSpec",
    "ChatFn",
    "GuardRejected",
    "LenientJSON",
    "LoopPolicy",
    "Message",
    "Review",
    "Tier",
    "ToolChoice",
    "ToolUse",
    "loads_lenient",
    "run_agent",
    "upstream_block",
]
