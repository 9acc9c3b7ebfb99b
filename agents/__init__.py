"""Podium's agents: specs (cards), the registry, the agent loop and the built-in specialists."""

from ._json import LenientJSON, loads_lenient
from ._loop import (
    AgentLoopError,
    AgentOutput,
    ChatFn,
    GuardRejected,
    LoopPolicy,
    Message,
    Review,
    ToolUse,
    run_agent,
)
from ._registry import AgentRegistry, AgentRegistryError
from ._spec import AgentSpec, Tier

__all__ = [
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
    "ToolUse",
    "loads_lenient",
    "run_agent",
]
