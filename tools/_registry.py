"""The tool registry: name -> Tool, and the set of built-in offline tools."""

from __future__ import annotations

from collections.abc import Iterable

from ._calculator import calculator
from ._core import Tool, ToolError
from ._datasets import list_datasets, query_dataset
from ._email import send_email
from ._files import list_files, read_file
from ._http import http_get
from ._memory import memory_search, memory_write
from ._results import READ_RESULT


def builtin_tools() -> list[Tool]:
    """Podium's built-in tools; http_get stays inert unless the ToolContext enables it."""
    return [
        calculator,
        read_file,
        list_files,
        query_dataset,
        list_datasets,
        http_get,
        memory_search,
        memory_write,
        send_email,
    ]


class ToolRegistry:
    """Holds tools by unique name and hands each agent the subset it is allowed."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.register(item)

    @classmethod
    def with_builtins(cls) -> ToolRegistry:
        """A registry holding every built-in tool."""
        return cls(builtin_tools())

    def register(self, tool: Tool) -> None:
        """Add `tool`; a second tool with the same name is refused, and so is `read_result`'s
        (the agent loop's own reader of offloaded results)."""
        if tool.name == READ_RESULT:
            raise ValueError(
                f"the tool name {READ_RESULT!r} is reserved for reading offloaded tool results; "
                "give the tool another name"
            )
        if tool.name in self._tools:
            raise ValueError(
                f"a tool named {tool.name!r} is already registered; give the new tool another name"
            )
        self._tools[tool.name] = tool

    def get(self, name: str) -> Tool:
        """The tool called `name`; unknown names raise ToolError listing the known ones."""
        try:
            return self._tools[name]
        except KeyError:
            raise ToolError(
                f"unknown tool {name!r}; known tools: {', '.join(self.names()) or '(none)'}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def names(self) -> list[str]:
        """Registered tool names, sorted."""
        return sorted(self._tools)

    def for_agent(self, names: Iterable[str]) -> list[Tool]:
        """The tools named in `names` (an agent card's tool list), in that order, without repeats."""
        return [self.get(name) for name in dict.fromkeys(names)]
