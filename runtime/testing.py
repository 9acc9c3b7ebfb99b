"""Test doubles for the model seam, shipped with the library so users test their agents too.

`ScriptedModel` plays a queue of steps; `FunctionModel` answers with a function;
`FaultyProvider` makes litellm fail on cue. They live beside the seam they stand in for
(`podium.runtime.models`); this module is their public name. No production module imports it
(an import-linter contract in pyproject.toml keeps it so).
"""

from podium.memory import estimate_tokens

from .models._doubles import (
    Fault,
    FaultyProvider,
    FunctionModel,
    ModelFunction,
    Reply,
    ScriptedModel,
    Step,
    UnexpectedModelCall,
    fail,
    plan_reply,
    reply,
    tool_call,
)

__all__ = [
    "Fault",
    "FaultyProvider",
    "FunctionModel",
    "ModelFunction",
    "Reply",
    "ScriptedModel",
    "Step",
    "UnexpectedModelCall",
    "estimate_tokens",
    "fail",
    "plan_reply",
    "reply",
    "tool_call",
]
