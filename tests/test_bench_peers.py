"""`podium bench peers`: every system runs each workload, and the figures are ratios of one run."""

from __future__ import annotations

import json
from pathlib import Path

from podium.evals.bench.peer_raw_langgraph import run_raw_langgraph
from podium.evals.bench.peer_workloads import all_workloads, mixed
from podium.evals.bench.peers import run_peers_bench
from podium.runtime import cli


def test_every_workload_is_a_valid_podium_plan() -> None:
    from podium.agents import AgentRegistry
    from podium.runtime import validate_plan

    agents = AgentRegistry.builtin().names()
    for workload in all_workloads():
        plan = validate_plan(workload.plan_json(), agents=agents, max_tasks=100)
        assert len(plan.tasks) == len(workload.tasks)


async def test_raw_langgraph_waits_at_its_superstep_barrier(tmp_path: Path) -> None:
    # The slow task and the first fast one share a superstep: the chain waits for the slow task.
    workload, latency = mixed(chain=3, slow_units=4.0), 0.02
    run = await run_raw_langgraph(workload, latency, tmp_path / "raw.sqlite")
    assert run.model_calls == len(workload.tasks)
    assert run.makespan_s >= (4.0 + 2 + 1) * latency  # slow, then f2, f3, join one superstep each


def test_the_command_writes_ratios_for_every_peer(tmp_path: Path) -> None:
    out, md = tmp_path / "peers.json", tmp_path / "peers.md"
    code = cli.main(
        [
            "bench",
            "peers",
            "--json-out",
            str(out),
            "--md-out",
            str(md),
            "--latency-ms",
            "10",
            "--only",
            "research",
            "wide",
        ]
    )
    report = json.loads(out.read_text())
    assert code in (0, 1)
    for key in (
        "speedup_vs_sequential_wide",
        "makespan_over_critical_path_max",
        "calls_ratio_vs_langgraph_supervisor",
        "overhead_ratio_vs_raw_langgraph",
    ):
        assert key in report and report[key] > 0
    systems = {r["system"] for r in report["runs"]}
    assert systems == {"podium", "podium-sequential", "raw-langgraph", "langgraph-supervisor"}
    by = {(r["system"], r["workload"]): r for r in report["runs"]}
    # A supervisor call per hand-off: 2n+1 calls; Podium plans once and runs each task once.
    assert by["langgraph-supervisor", "research"]["model_calls"] == 2 * 4 + 1
    assert by["podium", "research"]["model_calls"] == 1 + 4
    assert report["calls_ratio_vs_langgraph_supervisor"] == round(5 / 9, 3)
    assert "| research | 4 |" in md.read_text()


def test_peers_bench_as_a_function_honours_only(tmp_path: Path) -> None:
    report = run_peers_bench(
        json_out=tmp_path / "p.json", md_out=None, latency_s=0.0, only=["support"]
    )
    assert [w["name"] for w in report["workloads"]] == ["support"]
    assert "speedup_vs_sequential_wide" not in report


def test_the_dev_only_peer_is_imported_only_when_it_runs() -> None:
    import subprocess
    import sys

    code = (
        "import sys, podium.evals, podium.evals.bench.peers, podium.evals.bench.cli\n"
        "print('langgraph_supervisor' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
