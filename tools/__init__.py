"""Podium's tool seam (Tool, ToolContext, ToolRegistry), its tool sources, and its offline
built-in tools.

Tools come from tool sources (`ToolSource`): the built-ins (`BuiltinTools`) are one, the tools a
user hands over in Python (`Podium(tools=[...])`) another, and any object with a `name` and an
`open()` async context that lists tools is a third (`Podium(tool_sources=[...])`; an MCP
server's source will be one). A run lists every source when it starts (`open_tools`) and keeps
them open until it ends; two sources offering one tool name is an error naming both. Agents
get only the tools their cards name (deny by default). A source is a picklable description, so
the Ray executor's workers open it again rather than receive a live session.

This package imports nothing else of Podium's.
"""

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
from ._sources import (
    BuiltinTools,
    ToolList,
    ToolSource,
    ToolSourceError,
    ToolWrapper,
    compose_tools,
    open_tools,
)

__all__ = [
    "DEFAULT_MAX_RESULT_TOKENS",
    "GROUNDING_KEY",
    "MAX_LOOKUPS",
    "MIN_RESULT_TOKENS",
    "OFFLOAD_LABEL",
    "READ_RESULT",
    "VARIANTS_KEY",
    "BuiltinTools",
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
    "ToolList",
    "ToolRegistry",
    "ToolSource",
    "ToolSourceError",
    "ToolWrapper",
    "View",
    "builtin_tools",
    "compose_tools",
    "dataset_choices",
    "default_datasets_dir",
    "for_provider",
    "head",
    "message_tokens",
    "open_tools",
    "prompt_tokens",
    "result_bound",
    "token_bound",
    "tool",
]
