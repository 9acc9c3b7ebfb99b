"""No library phones home: a whole run (guards on, memory on, litellm to the configured endpoint)
opens no socket except to that endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

WORKER = Path(__file__).with_name("telemetry_worker.py")


def test_a_run_opens_no_socket_except_to_its_model_endpoint(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()  # no ~/.guardrailsrc: guardrails-ai's default would be metrics ON
    env = {
        **os.environ,
        "HOME": str(home),
        "FAKE_PROVIDER_KEY": "sk-fake-key-for-the-local-endpoint",
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("LITELLM_LOCAL_MODEL_COST_MAP", None)  # Podium must set it itself
    result_file = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, str(WORKER), str(tmp_path / "data"), str(result_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(result_file.read_text())
    assert result["status"] == "completed", result
    assert result["guards"] >= 3  # goal, plan, task (and answer) were guarded
    assert any(a.startswith("connect 127.0.0.1:") for a in result["attempts"])  # the hook sees
    assert result["outside"] == [], result["outside"]
    assert "telemetry" not in done.stderr.lower() and "opentelemetry" not in done.stderr.lower()
