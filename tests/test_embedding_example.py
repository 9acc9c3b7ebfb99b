"""The README's embedding example (examples/embed.py) runs as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[1] / "examples" / "embed.py"


def test_the_embedding_example_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "plan: check [analyst], refund [refunder]"
    assert "run waiting_for_human" in lines and "run completed" in lines
    assert any("wants to call 'issue_refund'" in line for line in lines)
    assert "answer: Refunded 40.00 EUR on order A-1001." in lines
