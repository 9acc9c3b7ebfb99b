"""The `podium` command (`_main`), its terminal chat (`_chat`), the live progress view
(`_progress`) and `podium doctor` (`_doctor`).

The outermost interface: it may import everything in `podium.runtime` (`podium serve` starts the
server), and never `podium.evals`: the eval and bench commands plug in through the
`podium.commands` entry-point group (see `_main`).
"""

from ._main import main

__all__ = ["main"]
