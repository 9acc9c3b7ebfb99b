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

import lazy_loader

# The names listed in __init__.pyi, each imported on first use (PEP 562), so `podium --help` and
# the listing commands do not pay for what they do not touch.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
