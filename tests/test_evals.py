"""Offline evaluation: cassettes, scenarios, graders, the runner, compare and the bundled suite."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import task

from podium.evals import (
    Cassette,
    CassetteError,
    CassetteModel,
    EvalOptions,
    compare,
    load_scenario,
    run_suite,
    scenario_from_run,
)
from podium.evals._graders import (
    budget_checks,
    graph_checks,
    guard_checks,
    guard_trips,
    judge_check,
    routing_checks,
    text_check,
)
from podium.evals._scenario import (
    BudgetExpect,
    GraphExpect,
    GuardExpect,
    JudgeCheck,
    RoutingExpect,
    ScenarioError,
    TextCheck,
)
from podium.runtime import ModelError, Podium, PodiumConfig, RunResult
from podium.runtime.cli import main
from podium.runtime.testing import ScriptedModel, fail, plan_reply, reply, tool_call

REPO = Path(__file__).resolve().parent.parent
GOAL = "Qualify the lead Maya Chen and draft a first email"
PLAN = [
    task("enrich", "enricher", instruction="Look up Maya Chen in crm_leads"),
    task("research", "researcher", instruction="Research Brightforge Analytics"),
    task("write", "writer", ["enrich", "research"], instruction="Draft the email"),
]


def sales_model() -> ScriptedModel:
    return ScriptedModel(
        [
            plan_reply(PLAN),
            tool_call(
                "query_dataset",
                {"dataset": "crm_leads", "contains": {"name": "Maya"}},
                task="enrich",
            ),
            reply('{"name": "Maya Chen", "title": "VP of Finance", "score": 82}', task="enrich"),
            reply("Brightforge Analytics sells forecasting software.", task="research"),
            reply("Hi Maya, as VP of Finance at Brightforge Analytics ...", task="write"),
        ],
        usd_per_token=1e-6,
    )


def record(tmp: Path, model: ScriptedModel, goal: str = GOAL, name: str = "sales") -> Path:
    """Run `goal` live on `model` through a recording cassette and write it as a scenario."""
    config = PodiumConfig.from_mapping(
        {"storage": {"data_dir": str(tmp / "data"), "checkpointer": "memory"}}
    )
    recorder = CassetteModel(Cassette(source="scripted"), "record", model)
    podium = Podium(config, model=recorder, tool_wrapper=recorder.wrap_tool)
    try:
        result = podium.run(goal)
    finally:
        podium.close()  # its memory store's Chroma files: the suite must fit 1,024 open files
    out = tmp / "suite" / f"{name}.yaml"
    scenario_from_run(result, recorder.cassette, out, workflow="sales")
    return out


def edit_scenario(path: Path, **changes: Any) -> None:
    data = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        data[key] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def run(paths: list[Path], **options: Any) -> dict[str, Any]:
    return asyncio.run(run_suite(paths, EvalOptions(**options)))


def without_timing(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "timing"}


# -- cassettes and replay ---------------------------------------------------------------


def test_recorded_scenario_replays_offline_and_passes(tmp_path: Path) -> None:
    path = record(tmp_path, sales_model())
    report = run([path.parent], trials=3)
    row = report["scenarios"][0]
    assert (report["passed"], report["failed"], report["pass_hat_k"]) == (1, 0, 1.0)
    assert row["trials_passed"] == 3 and row["status"] == "completed"
    assert row["answer"].startswith("Hi Maya")
    assert {t["id"] for t in row["graph"]["tasks"]} == {"enrich", "research", "write"}
    assert row["timeline"][0]["task"] == "plan"
    assert set(row["cost_by_agent"]) >= {"planner", "enricher", "researcher", "writer"}
    entries = json.loads(path.with_suffix(".cassette.json").read_text())["entries"]
    tool_entries = [e for e in entries if e["kind"] == "tool"]
    assert tool_entries and tool_entries[0]["request"]["tool"] == "query_dataset"
    assert "Maya Chen" in json.dumps(tool_entries[0]["response"]["result"])


def test_replay_is_deterministic(tmp_path: Path) -> None:
    path = record(tmp_path, sales_model())
    first, second = run([path.parent], trials=2), run([path.parent], trials=2)
    assert without_timing(first) == without_timing(second)
    assert json.dumps(without_timing(first), sort_keys=True) == json.dumps(
        without_timing(second), sort_keys=True
    )


def test_strict_replay_miss_names_request_and_nearest_neighbour(tmp_path: Path) -> None:
    path = record(tmp_path, sales_model())
    edit_scenario(path, goal=GOAL + " in German")
    row = run([path])["scenarios"][0]
    assert not row["passed"]
    miss = row["reasons"][0]
    assert "replay miss" in miss and "model call to frontier (purpose=plan" in miss
    assert "nearest recorded model call" in miss and "in German" in miss


def test_replay_serves_repeated_requests_in_recorded_order(tmp_path: Path) -> None:
    # The planner's first plan is invalid, so the same request shape differs; a provider error
    # then makes the same task request twice: the second answer must be the second recording.
    model = ScriptedModel(
        [
            plan_reply([task("a", "writer")]),
            fail(ModelError("cheap tier failed: provider 'x': RateLimitError"), task="a"),
            reply("second try answer", task="a"),
        ]
    )
    path = record(tmp_path, model)
    row = run([path])["scenarios"][0]
    assert row["passed"], row["reasons"]
    assert row["answer"] == "second try answer"
    assert [r["outcome"] for r in row["routes"]] == ["failed", "completed"]


def test_replay_or_record_records_only_what_is_missing(tmp_path: Path) -> None:
    path = record(tmp_path, sales_model())
    cassette_file = path.with_suffix(".cassette.json")
    entries = json.loads(cassette_file.read_text())["entries"]
    data = json.loads(cassette_file.read_text())
    data["entries"] = [e for e in entries if e["request"].get("task_id") != "research"]
    cassette_file.write_text(json.dumps(data))
    live = ScriptedModel(
        [reply("Brightforge Analytics sells forecasting software.", task="research")]
    )
    report = run([path], mode="replay-or-record", live=lambda config: live)
    assert report["passed"] == 1
    live.assert_complete()
    assert len(json.loads(cassette_file.read_text())["entries"]) == len(entries)


def test_recorded_speed_waits_the_recorded_latency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = record(tmp_path, sales_model())
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float, *args: Any) -> Any:
        waits.append(seconds)
        return await real_sleep(0, *args)

    monkeypatch.setattr("podium.evals._cassette.asyncio.sleep", sleep)
    cassette = Cassette.load(path.with_suffix(".cassette.json"))
    assert run([path], speed="recorded")["passed"] == 1
    assert sorted(waits) == sorted(e.latency_s for e in cassette.entries)


def test_secrets_never_enter_a_cassette(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
    monkeypatch.setenv("ACME_CRM_TOKEN", "crm-token-value-123456")
    model = ScriptedModel(
        [
            plan_reply([task("a", "writer", instruction=f"Use key {secret} to log in")]),
            reply("done with crm-token-value-123456 and Bearer abcdefghijklmnopqrstuvwx", task="a"),
        ]
    )
    path = record(tmp_path, model, goal=f"Log in with {secret} and report")
    text = path.with_suffix(".cassette.json").read_text()
    assert secret not in text and "crm-token-value-123456" not in text
    assert "abcdefghijklmnopqrstuvwx" not in text
    assert "[REDACTED:openai_key]" in text and "[REDACTED:env_secret]" in text
    assert run([path])["passed"] == 1  # fingerprints are of redacted requests: replay still matches


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is corrupt"),
        ('{"podium_cassette": 99, "entries": []}', "format version 99"),
        ('{"podium_cassette": 1, "entries": [{"kind": "model"}]}', "corrupt at entries.0"),
    ],
)
def test_corrupt_cassette_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = record(tmp_path, sales_model())
    path.with_suffix(".cassette.json").write_text(content)
    with pytest.raises(CassetteError, match=message):
        Cassette.load(path.with_suffix(".cassette.json"))
    row = run([path])["scenarios"][0]
    assert row["status"] == "error" and message in row["reasons"][0]
    assert "re-record" in row["reasons"][0]


def test_broken_scenario_files_are_reported_not_fatal(tmp_path: Path) -> None:
    good = record(tmp_path, sales_model())
    (good.parent / "bad.yaml").write_text("podium_scenario: 1\nname: Bad Name\ngoal: x\n")
    report = run([good.parent])
    bad = next(r for r in report["scenarios"] if r["name"] == "bad")
    assert report["passed"] == 1 and report["failed"] == 1
    assert "cassette: Field required" in bad["reasons"][0] and "name" in bad["reasons"][0]
    with pytest.raises(ScenarioError, match="is not a Podium scenario"):
        (tmp_path / "x.yaml").write_text("goal: x\n")
        load_scenario(tmp_path / "x.yaml")


# -- graders -----------------------------------------------------------------------------

TEXT = '{"lead": {"name": "Maya Chen", "score": 82}, "tags": ["finance", "warm"]}'
TEXT_CASES: list[tuple[dict[str, Any], bool]] = [
    ({"equals": TEXT}, True),
    ({"equals": "other"}, False),
    ({"contains": "Maya"}, True),
    ({"contains": "maya"}, False),
    ({"contains": "maya", "ignore_case": True}, True),
    ({"not_contains": "Bob"}, True),
    ({"not_contains": "Maya"}, False),
    ({"regex": r"score\": \d+"}, True),
    ({"regex": r"^Dear"}, False),
    ({"not_regex": r"evil@"}, True),
    ({"not_regex": r"Chen"}, False),
    ({"min_chars": 10}, True),
    ({"min_chars": 1000}, False),
    ({"max_chars": 1000}, True),
    ({"max_chars": 10}, False),
    ({"json_schema": {"type": "object", "required": ["lead"]}}, True),
    ({"json_schema": {"type": "object", "required": ["score"]}}, False),
    ({"fields": {"lead.name": "Maya Chen", "tags.1": "warm"}}, True),
    ({"fields": {"lead.score": {"gte": 80, "lt": 90}, "tags": {"contains": "finance"}}}, True),
    ({"fields": {"lead.score": {"gte": 90}}}, False),
    ({"fields": {"lead.email": "x"}}, False),
    ({"fields": {"lead.name": {"type": "string"}, "lead.score": {"in": [81, 82]}}}, True),
]


@pytest.mark.parametrize(("check", "passes"), TEXT_CASES)
def test_text_graders(check: dict[str, Any], passes: bool) -> None:
    outcome = text_check("answer", TextCheck.model_validate(check), TEXT)
    assert outcome.passed is passes
    assert bool(outcome.detail) is not passes  # a failure always says why


def test_text_check_needs_exactly_one_kind() -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        TextCheck.model_validate({"contains": "a", "regex": "b"})
    with pytest.raises(ValueError, match="does not compile"):
        TextCheck.model_validate({"regex": "("})


@pytest.fixture(scope="module")
def sales_result(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    config = PodiumConfig.from_mapping(
        {"storage": {"data_dir": str(tmp_path_factory.mktemp("d")), "checkpointer": "memory"}}
    )
    podium = Podium(config, model=sales_model())
    try:
        return podium.run(GOAL)
    finally:
        podium.close()


def test_graph_graders(sales_result: RunResult) -> None:
    passing = GraphExpect(
        agents_used=["enricher", "writer"],
        agents_not_used=["scheduler"],
        max_tasks=3,
        min_tasks=3,
        depends=[("enricher", "write"), ("research", "writer")],
        parallel=[("enrich", "research")],
        max_replans=0,
    )
    assert all(c.passed for c in graph_checks(passing, sales_result))
    failing = GraphExpect(
        agents_used=["scheduler"],
        agents_not_used=["writer"],
        max_tasks=2,
        min_tasks=4,
        depends=[("write", "enrich")],
        parallel=[("enrich", "write")],
        min_replans=1,
    )
    assert not any(c.passed for c in graph_checks(failing, sales_result))


def test_routing_guard_and_budget_graders(sales_result: RunResult) -> None:
    assert all(
        c.passed
        for c in routing_checks(
            RoutingExpect(not_escalated=["enricher"], max_frontier_tries=0), sales_result
        )
    )
    assert not routing_checks(RoutingExpect(escalated=["write"]), sales_result)[0].passed
    trips = guard_trips([])
    assert guard_checks(GuardExpect(not_tripped=["output_schema"]), trips)[0].passed
    assert not guard_checks(GuardExpect(tripped=["plan_schema"]), trips)[0].passed
    cost = sales_result.usage.cost_usd
    assert all(
        c.passed
        for c in budget_checks(
            BudgetExpect(max_cost_usd=cost, max_tokens=10**6, max_calls=10), sales_result
        )
    )
    over = budget_checks(BudgetExpect(max_cost_usd=cost / 2, stopped_by="usd"), sales_result)
    assert [c.passed for c in over] == [False, False]


async def test_judge_grader(sales_result: RunResult) -> None:
    async def strict(item: JudgeCheck, text: str) -> tuple[bool, str]:
        return "Maya" in text, "mentions the lead" if "Maya" in text else "no name"

    ok = await judge_check(JudgeCheck(rubric="Addresses the lead by name"), sales_result, strict)
    assert ok.passed and ok.detail == "mentions the lead"
    on_task = await judge_check(
        JudgeCheck(rubric="names the company", target="research"), sales_result, strict
    )
    assert not on_task.passed and on_task.detail == "no name"
    assert not (await judge_check(JudgeCheck(rubric="x"), sales_result, None)).passed


def test_judge_calls_are_recorded_and_replayed(tmp_path: Path) -> None:
    path = record(tmp_path, sales_model())
    data = yaml.safe_load(path.read_text())
    data["expect"]["judge"] = [{"rubric": "Addresses Maya by name", "tier": "cheap"}]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    verdict = {"pass": True, "reason": "greets Maya"}
    judge = ScriptedModel([reply(verdict, purpose="judge")])
    recorded = run([path], mode="replay-or-record", live=lambda config: judge)
    judge.assert_complete()
    assert recorded["passed"] == 1
    replayed = run([path])  # strict: the judge's verdict now comes from the cassette
    check = next(c for c in replayed["scenarios"][0]["checks"] if c["name"].startswith("judge"))
    assert check == {"name": check["name"], "passed": True, "detail": "greets Maya"}


# -- compare and the command line --------------------------------------------------------


def test_compare_flags_a_planted_regression(tmp_path: Path) -> None:
    path = record(tmp_path, sales_model())
    base = run([path.parent])
    new = copy.deepcopy(base)
    new["scenarios"][0]["passed"] = False
    new["scenarios"][0]["reasons"] = ["answer contains 'Maya': not found"]
    assert [c.verdict for c in compare(base, base).changes] == ["same"]
    flipped = compare(base, new)
    assert [c.verdict for c in flipped.regressions] == ["regressed"]
    dearer = copy.deepcopy(base)
    dearer["scenarios"][0]["cost_usd"] *= 1.5
    assert compare(base, dearer).regressions[0].notes[0].startswith("cost up +50%")
    cheaper = copy.deepcopy(base)
    cheaper["scenarios"][0]["cost_usd"] *= 0.5
    assert compare(base, cheaper).changes[0].verdict == "improved"

    base_file, new_file = tmp_path / "base.json", tmp_path / "new.json"
    base_file.write_text(json.dumps(base))
    new_file.write_text(json.dumps(new))
    assert main(["eval", "compare", str(base_file), str(base_file)]) == 0
    assert main(["eval", "compare", str(base_file), str(new_file)]) == 1


def test_eval_run_command_writes_reports_and_exits_on_failure(tmp_path: Path) -> None:
    path = record(tmp_path, sales_model())
    json_out = tmp_path / "out" / "report.json"
    assert main(["eval", "run", str(path.parent), "--json-out", str(json_out)]) == 0
    assert json.loads(json_out.read_text())["passed"] == 1
    edit_scenario(path, expect={"answer": [{"contains": "Dear Sir"}]})
    assert main(["eval", "run", str(path.parent)]) == 1
    assert main(["eval", "run", str(tmp_path / "nowhere")]) == 1


# -- the bundled suite -------------------------------------------------------------------


def test_bundled_suite_covers_every_workflow_and_passes() -> None:
    suite = REPO / "evals" / "scenarios"
    report = run([suite], concurrency=4)
    kinds = {(r["workflow"], r["kind"]) for r in report["scenarios"]}
    for workflow in ("sales", "recruiting", "research", "support", "compliance"):
        assert {(workflow, k) for k in ("happy_path", "failure", "adversarial")} <= kinds
    failing = {r["name"]: r["reasons"] for r in report["scenarios"] if not r["passed"]}
    assert not failing
    assert all(r["cassette_source"] for r in report["scenarios"])


@pytest.mark.parametrize("command", ["run", "eval record"])
def test_recording_from_the_command_line_then_replaying(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from podium.runtime.testing import FaultyProvider

    plan = {"tasks": [task("draft", "writer", instruction="Draft a two-line welcome note")]}
    FaultyProvider().reply("planner", json.dumps(plan)).reply(
        "worker", "Welcome aboard!"
    ).register()
    toml = tmp_path / "podium.toml"
    toml.write_text(
        '[models]\ncheap = "podium-fault/worker"\nfrontier = "podium-fault/planner"\n'
        f'[storage]\ndata_dir = "{tmp_path / "data"}"\n'
    )
    out = tmp_path / "recorded" / "welcome.yaml"
    goal = "Write a welcome note for a new customer"
    argv = ["--config", str(toml), *command.split(), goal]
    argv += ["--record", str(out)] if command == "run" else ["--out", str(out)]
    assert main([*argv, "--json"] if command == "run" else argv) == 0
    assert f"recorded scenario 'welcome' -> {out}" in capsys.readouterr().out
    scenario = load_scenario(out)
    assert scenario.goal == goal and scenario.expect.graph is not None
    assert scenario.expect.graph.agents_used == ["writer"]
    assert scenario.metadata["models"] == {
        "cheap": "podium-fault/worker",
        "frontier": "podium-fault/planner",
    }
    # Replay needs no provider: the calls come from the cassette.
    report = run([out])
    assert report["passed"] == 1, report["scenarios"][0]["reasons"][0][-400:]
    assert report["scenarios"][0]["answer"] == "Welcome aboard!"
