"""`podium run` on crash_worker's slow scripted Podium, so a test can press Ctrl-C (not a test module).

argv: DATA_DIR MODEL_LOG, then the `podium` command line.
"""

from __future__ import annotations

import sys
from pathlib import Path

from crash_worker import podium

from podium.runtime.cli import _main as cli

if __name__ == "__main__":
    scripted = podium(Path(sys.argv[1]), Path(sys.argv[2]))
    cli._podium = lambda args: scripted  # type: ignore[assignment]
    sys.exit(cli.main(sys.argv[3:]))
