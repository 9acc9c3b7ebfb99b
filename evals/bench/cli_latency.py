"""`podium bench cli`: how fast the commands that only read answer (target: 0.5 s each).

Each command runs as a new `podium` process, as a user types it, `repeat` times, against a
scratch data folder holding a few finished runs (made with a scripted model: no inference, no
network), from an empty working folder (no podium.toml). The figure per command is the median
wall time. The floor, measured in the same run and the same way: the same interpreter starting
and exiting (`python -c pass`), so `ratio_to_floor` tells Podium's cost from the machine's.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from podium.runtime import ModelRequest, Podium, PodiumConfig
from podium.runtime.testing import FunctionModel, Reply

from ._report import machine, write_report

TARGET_S = 0.5
"""Issue #19's bound for `podium agents`, `runs`, `show` and `audit`."""

_PLAN = {
    "tasks": [
        {"id": "enrich", "agent": "researcher", "instruction": "Enrich the lead.", "inputs": []},
        {"id": "score", "agent": "analyst", "instruction": "Score the lead.", "inputs": ["enrich"]},
        {"id": "draft", "agent": "writer", "instruction": "Draft an email.", "inputs": ["score"]},
    ]
}


def _model() -> FunctionModel:
    async def answer(request: ModelRequest) -> Reply:
        if request.purpose in ("plan", "replan"):
            return json.dumps(_PLAN)
        return f"The output of {request.task_id}: " + "a sentence of findings. " * 20

    return FunctionModel(answer)


def _stored_runs(data_dir: Path, runs: int) -> list[str]:
    config = PodiumConfig.from_mapping(
        {"storage": {"data_dir": str(data_dir)}, "memory": {"enabled": False}}, environment=False
    )
    podium = Podium(config, model=_model())
    try:
        return [
            podium.run(f"Qualify lead number {n} and draft an email", run_id=f"bench-{n}").run_id
            for n in range(runs)
        ]
    finally:
        podium.close()


def _wall(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:])} exited {done.returncode}: {done.stderr.strip()}")
    return elapsed


def run_cli_bench(*, json_out: Path, repeat: int = 9, runs: int = 3) -> dict[str, Any]:
    podium_script = Path(sys.executable).with_name("podium")
    if not podium_script.is_file():
        raise RuntimeError(f"no `podium` script beside {sys.executable}: install the package")
    with tempfile.TemporaryDirectory(prefix="podium-bench-cli-") as tmp:
        data_dir, cwd = Path(tmp) / "data", Path(tmp) / "cwd"
        cwd.mkdir()
        run_id = _stored_runs(data_dir, runs)[-1]
        env = {k: v for k, v in os.environ.items() if k != "PODIUM_CONFIG"}
        env["PODIUM_DATA_DIR"] = str(data_dir)
        commands = {
            "--version": ["--version"],
            "runs": ["runs"],
            "agents": ["agents"],
            "audit": ["audit", run_id],
            "show": ["show", run_id],
            "show TASK": ["show", run_id, "score"],
            "show --json": ["show", run_id, "--json"],
        }
        argvs = {"floor": [sys.executable, "-c", "pass"]} | {
            name: [str(podium_script), *args] for name, args in commands.items()
        }
        for argv in argvs.values():  # warm the file cache and the bytecode once
            _wall(argv, env, cwd)
        walls: dict[str, list[float]] = {name: [] for name in argvs}
        for _ in range(repeat):  # interleaved, so a slow moment of the machine hits every one
            for name, argv in argvs.items():
                walls[name].append(_wall(argv, env, cwd))
    floor = statistics.median(walls.pop("floor"))
    figures = {
        name: {
            "median_s": round(statistics.median(times), 3),
            "max_s": round(max(times), 3),
            "ratio_to_floor": round(statistics.median(times) / floor, 1),
        }
        for name, times in walls.items()
    }
    report: dict[str, Any] = {
        "machine": machine(),
        "repeat": repeat,
        "floor_s": round(floor, 3),
        "target_s": TARGET_S,
        "commands": figures,
        "targets_met": all(f["median_s"] <= TARGET_S for f in figures.values()),
    }
    write_report(json_out, report)
    print(f"floor (python -c pass): {floor:.3f} s; median of {repeat} runs each")
    for name, f in figures.items():
        mark = "ok" if f["median_s"] <= TARGET_S else f"over {TARGET_S} s"
        print(
            f"  podium {name:<12} {f['median_s']:.3f} s  (max {f['max_s']:.3f}, "
            f"{f['ratio_to_floor']}x the floor)  {mark}"
        )
    print(f"written to {json_out}")
    return report
