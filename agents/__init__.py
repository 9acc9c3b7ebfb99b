"""Podium's agents: specs (cards), the registry, the agent loop and the built-in specialists.

Names are imported on first use (PEP 562): the configuration names a `Tier` and the
registry lists cards (`podium agents`) without loading the agent loop and the tools it calls.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_EXPORTS: dict[str, str] = {
    "AgentLoopError": "._loop",
    "AgentOutput": "._loop",
    "AgentRegistry": "._registry",
    "AgentRegistryError": "._registry",
    "AgentSpec": "._spec",
    "ChatFn": "._loop",
    "GuardRejected": "._loop",
    "LenientJSON": "._json",
    "LoopPolicy": "._loop",
    "Message": "._loop",
    "PROMPT_LABELS": "._loop",
    "Review": "._loop",
    "Tier": "._spec",
    "ToolChoice": "._loop",
    "ToolUse": "._loop",
    "UPSTREAM_NOTE": "._loop",
    "loads_lenient": "._json",
    "run_agent": "._loop",
    "upstream_block": "._loop",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
