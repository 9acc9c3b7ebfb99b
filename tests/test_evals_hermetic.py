"""Evals are hermetic: a replay never reads or writes the user's data folder, run list or memory,
and two replays of the bundled suite give the same JSON report, byte for byte, but its timing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from podium.runtime import Podium, PodiumConfig
from podium.runtime.cli import main
from podium.runtime.testing import ScriptedModel, plan_reply, reply

REPO = Path(__file__).resolve().parent.parent
SUITE = REPO / "evals" / "scenarios"
TIMING_FIELDS = {"started_at", "finished_at", "wall_s", "scenarios_per_s"}
"""What may differ between two replays: the report's `timing` block, and nothing else."""
EARLIER_GOALS = {
    "earlier-sales": "Qualify the lead Maya Chen at Brightforge Analytics",
    "earlier-support": "Triage today's support tickets and escalate anything urgent",
    "earlier-compliance": "Check the Cirrusly contract against our data retention policy",
}


def replay_suite(out: Path, *extra: str) -> str:
    """`podium eval run` over the bundled suite; the JSON report's text without its timing."""
    assert main(["eval", "run", str(SUITE), "--json-out", str(out), *extra]) == 0
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    timing = report.pop("timing")
    assert set(timing) == TIMING_FIELDS
    return json.dumps(report, indent=2)


def folder_digest(folder: Path) -> dict[str, str]:
    """Every file under `folder` by relative path, with its content's hash."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def first_replay(tmp_path_factory: pytest.TempPathFactory) -> str:
    return replay_suite(tmp_path_factory.mktemp("first") / "report.json")


@pytest.fixture(scope="module")
def earlier_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder as a user's looks after some work: runs, and memory they wrote (the goals
    are the suite's workflows, so the memory would be found by the replays' tasks)."""
    data = tmp_path_factory.mktemp("user") / "data"
    config = PodiumConfig.from_mapping(
        {"storage": {"data_dir": str(data)}, "planner": {"playbooks": False}}
    )
    for run_id, goal in EARLIER_GOALS.items():
        plan = [{"id": "t1", "agent": "researcher", "instruction": goal, "inputs": []}]
        finding = f"Earlier finding for {goal}: Maya Chen prefers calls; Cirrusly renews in May."
        model = ScriptedModel([plan_reply(plan), reply(finding, task="t1")])
        podium = Podium(config, model=model)
        try:
            assert podium.run(goal, run_id=run_id).status == "completed"
            store = podium.memory()
            assert store is not None and store.stats("default").entries > 0
        finally:
            podium.close()
    return data


def test_replay_ignores_the_users_data_folder_memory_and_config(
    earlier_data: Path,
    first_replay: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every way a user points Podium at their data: the variable, a podium.toml in the current
    # folder, and $PODIUM_CONFIG; and a model variable a replay must not pick up either.
    toml = tmp_path / "podium.toml"
    toml.write_text(f'[storage]\ndata_dir = "{earlier_data}"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PODIUM_CONFIG", str(toml))
    monkeypatch.setenv("PODIUM_DATA_DIR", str(earlier_data))
    monkeypatch.setenv("PODIUM_CHECKPOINTER", "sqlite")
    monkeypatch.setenv("PODIUM_MODEL_CHEAP", "openai/gpt-4o-mini")
    before = folder_digest(earlier_data)

    polluted = replay_suite(tmp_path / "out" / "report.json")

    report = json.loads(polluted)
    assert (report["scenarios_total"], report["passed"]) == (15, 15)
    assert polluted == first_replay  # the user's memory reached no prompt, no answer
    assert folder_digest(earlier_data) == before  # not a byte written: no run, no memory entry
    podium = Podium(PodiumConfig.load())
    try:
        assert {r.run_id for r in podium.runs()} == set(EARLIER_GOALS)
    finally:
        podium.close()


def test_two_replays_of_the_bundled_suite_are_byte_identical_but_timing(
    first_replay: str, tmp_path: Path
) -> None:
    assert replay_suite(tmp_path / "report.json") == first_replay


def test_data_dir_keeps_the_trials_runs_when_asked(tmp_path: Path) -> None:
    data = tmp_path / "eval-data"
    scenario = SUITE / "sales" / "happy_path.yaml"
    argv = ["eval", "run", str(scenario), "--data-dir", str(data), "--trials", "2"]
    assert main(argv) == 0
    config = PodiumConfig.from_mapping(
        {"storage": {"data_dir": str(data)}, "memory": {"enabled": False}}
    )
    podium = Podium(config)
    try:
        runs = {r.run_id: r.status for r in podium.runs()}
    finally:
        podium.close()
    assert runs == {"eval-sales-happy-path-1": "completed", "eval-sales-happy-path-2": "completed"}
    assert (data / "runs" / "eval-sales-happy-path-1" / "audit.jsonl").is_file()
    assert not (data / "memory").exists()  # each trial's memory stays its own


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files in /proc")
def test_trials_leave_no_files_open() -> None:
    """Each trial's memory store (Chroma, ~26 files) is closed before its folder goes: a suite
    of many scenarios and trials in one process must not reach the open-files limit."""
    import asyncio

    from podium.evals import EvalOptions, run_scenario_file

    def open_files() -> int:
        return len(list(Path("/proc/self/fd").iterdir()))

    scenario = SUITE / "research" / "happy_path.yaml"
    asyncio.run(run_scenario_file(scenario, EvalOptions()))  # imports and caches warmed
    before = open_files()
    row = asyncio.run(run_scenario_file(scenario, EvalOptions(trials=3)))
    assert row["passed"], row
    assert open_files() - before < 5
