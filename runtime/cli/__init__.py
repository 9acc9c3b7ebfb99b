"""The `podium` command (`_main`), its terminal chat (`_chat`), the live progress view
(`_progress`) and `podium doctor` (`_doctor`).

The outermost interface: it may import everything in `podium.runtime` (`podium serve` starts the
server), and never `podium.evals`: the eval and bench commands plug in through the
`podium.commands` entry-point group. What such a plugin needs is public here: the group's name,
the plugin's and a handler's types, and `follow` (a run shown live, as `podium run` shows it).
`follow` is imported on first use (PEP 562), so `podium --help` does not load rich.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._main import COMMANDS_GROUP, AddCommands, Handler, main

if TYPE_CHECKING:
    from ._progress import follow

__all__ = ["COMMANDS_GROUP", "AddCommands", "Handler", "follow", "main"]


def __getattr__(name: str) -> Any:
    if name != "follow":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from ._progress import follow

    return follow
