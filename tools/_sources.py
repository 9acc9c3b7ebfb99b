"""Tool sources: where a run's tools come from (the built-ins, tools handed over in Python, and,
later, MCP servers), and how a run puts them together.

A source is a description (a name; for a server, its command or URL) that opens, at run start,
into the tools it offers. They stay callable until the run ends and the source closes: an MCP
session lives exactly that long, entered and left by the run's own task, as the MCP SDK's
`stdio_client(...)` and `ClientSession(...)` contexts require. The description is what a Ray
worker receives (pickled), never an open session: the worker opens the sources its attempt's
tools come from itself, and gets the same tools again.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from podium.errors import PodiumError

from ._core import Tool
from ._registry import ToolRegistry, builtin_tools

ToolWrapper = Callable[[Tool], Tool]
"""Wraps every tool of a run at the seam (the eval cassettes record and replay calls so)."""


class ToolSource(Protocol):
    """Offers tools, listed when a run starts. Deny by default: a listed tool reaches only the
    agents whose cards name it.

    `open()` returns an async context: entering it connects (if the source has anything to
    connect to) and lists the tools, which stay callable until it exits. The source object
    itself holds no open connection, so it pickles: that is what a Ray worker gets."""

    @property
    def name(self) -> str:
        """Names the source in errors (two sources offering one tool, a listing that failed)
        and for Ray workers, which open a source only when an attempt's tools come from it."""
        ...

    def open(self) -> contextlib.AbstractAsyncContextManager[Sequence[Tool]]: ...


@dataclass(frozen=True)
class ToolList:
    """Tools handed over as Python objects (`Podium(tools=[...])`): listed as they are, and
    sent to Ray workers pickled (so their functions must be importable there)."""

    name: str
    tools: tuple[Tool, ...] = field(repr=False)

    def open(self) -> contextlib.AbstractAsyncContextManager[Sequence[Tool]]:
        return contextlib.nullcontext(self.tools)


class BuiltinTools(ToolList):
    """Podium's built-in tools. Pickled as its name only: a worker rebuilds them on import."""

    def __init__(self) -> None:
        super().__init__("builtin", tuple(builtin_tools()))

    def __reduce__(self) -> tuple[Any, ...]:
        return (BuiltinTools, ())


class ToolSourceError(PodiumError):
    """A source could not list its tools, two sources offer a tool of the same name, or two
    sources share a name; the message names the sources and says what to change."""

    code = "tool_source_invalid"


@contextlib.asynccontextmanager
async def open_tools(
    sources: Sequence[ToolSource], *, wrap: ToolWrapper | None = None
) -> AsyncIterator[ToolRegistry]:
    """The tools of every source in `sources`, open together until the block ends (then each
    source closes, the last opened first, whatever happened). Raises ToolSourceError."""
    async with contextlib.AsyncExitStack() as stack:
        listed = [(source.name, await _listed(stack, source)) for source in sources]
        yield compose_tools(listed, wrap=wrap)


async def _listed(stack: contextlib.AsyncExitStack, source: ToolSource) -> Sequence[Tool]:
    try:
        return tuple(await stack.enter_async_context(source.open()))
    except Exception as exc:
        raise ToolSourceError(
            f"tool source {source.name!r} could not list its tools ({type(exc).__name__}: "
            f"{exc}): check that what it connects to is up and configured, or leave it out"
        ) from exc


def compose_tools(
    listed: Iterable[tuple[str, Iterable[Tool]]], *, wrap: ToolWrapper | None = None
) -> ToolRegistry:
    """One registry of the tools each named source listed, each tool marked with its source
    (`Tool.source`) and wrapped by `wrap`. Raises ToolSourceError on a clash of names."""
    registry = ToolRegistry()
    origin: dict[str, str] = {}
    seen: set[str] = set()
    for source, tools in listed:
        if source in seen:
            raise ToolSourceError(
                f"two tool sources are named {source!r}: give each source its own name"
            )
        seen.add(source)
        for item in tools:
            if item.name in origin:
                raise ToolSourceError(
                    f"tool sources {origin[item.name]!r} and {source!r} both offer a tool named "
                    f"{item.name!r}: rename one of the tools, or leave one source out"
                )
            marked = dataclasses.replace(item, source=source)
            try:
                registry.register(wrap(marked) if wrap else marked)
            except ValueError as exc:
                raise ToolSourceError(f"tool source {source!r}: {exc}") from None
            origin[item.name] = source
    return registry
