"""Podium's tool seam (Tool, ToolContext, ToolRegistry) and its offline built-in tools."""

from ._core import JSONValue, Tool, ToolContext, ToolError, default_datasets_dir, tool
from ._memory import MemoryAccess
from ._registry import ToolRegistry, builtin_tools

__all__ = [
    "JSONValue",
    "MemoryAccess",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolRegistry",
    "builtin_tools",
    "default_datasets_dir",
    "tool",
]
