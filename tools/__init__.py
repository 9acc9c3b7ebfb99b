"""Podium's tool seam (Tool, ToolContext, ToolRegistry) and its offline built-in tools."""

from ._choices import GROUNDING_KEY, MAX_LOOKUPS, VARIANTS_KEY, Choices, ChoicesFn, for_provider
from ._core import JSONValue, Tool, ToolContext, ToolError, default_datasets_dir, tool
from ._datasets import dataset_choices
from ._memory import MemoryAccess
from ._registry import ToolRegistry, builtin_tools
from ._results import (
    DEFAULT_MAX_RESULT_TOKENS,
    MIN_RESULT_TOKENS,
    OFFLOAD_LABEL,
    READ_RESULT,
    KeptResult,
    ReadResultArgs,
    ResultStore,
    View,
    head,
    message_tokens,
    prompt_tokens,
    result_bound,
    token_bound,
)

__all__ = [
    "DEFAULT_MAX_RESULT_TOKENS",
    "GROUNDING_KEY",
    "MAX_LOOKUPS",
    "MIN_RESULT_TOKENS",
    "OFFLOAD_LABEL",
    "READ_RESULT",
    "VARIANTS_KEY",
    "Choices",
    "ChoicesFn",
    "JSONValue",
    "KeptResult",
    "MemoryAccess",
    "ReadResultArgs",
    "ResultStore",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolRegistry",
    "View",
    "builtin_tools",
    "dataset_choices",
    "default_datasets_dir",
    "for_provider",
    "head",
    "message_tokens",
    "prompt_tokens",
    "result_bound",
    "token_bound",
    "tool",
]
