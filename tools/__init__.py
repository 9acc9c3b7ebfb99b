"""Podium's tool seam (Tool, ToolContext, ToolRegistry) and its offline built-in tools."""

from ._choices import GROUNDING_KEY, VARIANTS_KEY, Choices, ChoicesFn, for_provider
from ._core import JSONValue, Tool, ToolContext, ToolError, default_datasets_dir, tool
from ._datasets import dataset_choices
from ._memory import MemoryAccess
from ._registry import ToolRegistry, builtin_tools

__all__ = [
    "GROUNDING_KEY",
    "VARIANTS_KEY",
    "Choices",
    "ChoicesFn",
    "JSONValue",
    "MemoryAccess",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolRegistry",
    "builtin_tools",
    "dataset_choices",
    "default_datasets_dir",
    "for_provider",
    "tool",
]
