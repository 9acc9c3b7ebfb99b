"""The suite runner: scenarios run concurrently, K trials each, graded, into one JSON report."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podium.runtime import (
    LiteLLMBackend,
    ModelBackend,
    ModelRequest,
    Podium,
    PodiumConfig,
    PodiumError,
    RunEvent,
    RunResult,
)

from ._cassette import (
    Cassette,
    CassetteError,
    CassetteMode,
    CassetteModel,
    CassetteSource,
    ReplaySpeed,
)
from ._graders import Check, grade, sorted_tasks
from ._scenario import JudgeCheck, Scenario, ScenarioError, discover, load_scenario
from ._timeline import cost_by_agent, judge_cost, timeline

REPORT_VERSION = 1
LiveFactory = Callable[[PodiumConfig], ModelBackend]
"""Builds the live backend a recording talks to (default: litellm's Router from the config)."""


@dataclass(frozen=True)
class EvalOptions:
    mode: CassetteMode = "replay"
    speed: ReplaySpeed = "full"
    trials: int = 1
    concurrency: int = 4
    live: LiveFactory | None = None
    source: CassetteSource = "recorded"
    """What a recording says it came from: live models, or Podium's scripted doubles."""
    data_dir: Path | None = None
    """Where the trials' run records and audit trails go (`--data-dir`); None: a temporary
    folder per trial, so an eval never reads or writes the user's runs or memory."""


@dataclass
class Trial:
    result: RunResult | None
    checks: list[Check]
    error: str | None
    cassette: Cassette
    events: list[RunEvent] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.result is not None and all(c.passed for c in self.checks)

    @property
    def reasons(self) -> list[str]:
        failed = [
            f"{c.name}: {c.detail}" if c.detail else c.name for c in self.checks if not c.passed
        ]
        return self.cassette.misses[:3] + failed


async def run_suite(paths: Sequence[Path], options: EvalOptions) -> dict[str, Any]:
    """Run every scenario under `paths`; the report is deterministic in replay (but `timing`)."""
    if options.trials < 1:
        raise ScenarioError("--trials must be at least 1")
    started = time.time()
    files = discover(list(paths))
    if not files:
        raise ScenarioError(f"no scenarios found under {', '.join(map(str, paths))}")
    gate = asyncio.Semaphore(options.concurrency)

    async def one(path: Path) -> dict[str, Any]:
        async with gate:
            return await run_scenario_file(path, options)

    rows = await asyncio.gather(*(one(p) for p in files))
    finished = time.time()
    return suite_report(list(paths), options, list(rows), started, finished)


async def run_scenario_file(path: Path, options: EvalOptions) -> dict[str, Any]:
    try:
        scenario = load_scenario(path)
        master = _cassette_for(scenario, options.mode, options.source)
    except PodiumError as exc:
        return _broken_row(path, str(exc), options.trials)
    trials = [await run_trial(scenario, master, options, n) for n in range(1, options.trials + 1)]
    if options.mode == "record":
        trials[0].cassette.save(scenario.cassette_path)
    elif options.mode == "replay-or-record" and any(
        len(t.cassette.entries) > len(master.entries) for t in trials
    ):
        longest = max(trials, key=lambda t: len(t.cassette.entries))
        longest.cassette.save(scenario.cassette_path)
    return scenario_row(scenario, trials)


def _cassette_for(scenario: Scenario, mode: CassetteMode, source: CassetteSource) -> Cassette:
    if mode == "record":
        return Cassette(source=source)
    if mode == "replay-or-record" and not scenario.cassette_path.exists():
        return Cassette(source=source)
    try:
        return Cassette.load(scenario.cassette_path)
    except CassetteError as exc:
        raise CassetteError(f"scenario {scenario.path}: {exc}") from None


async def run_trial(scenario: Scenario, master: Cassette, options: EvalOptions, n: int) -> Trial:
    cassette = master.fresh()
    with tempfile.TemporaryDirectory(prefix="podium-eval-") as workdir:
        try:
            config = scenario.podium_config(Path(workdir), data_dir=options.data_dir)
            live = None
            if options.mode != "replay":
                live = (options.live or _router)(config)
            model = CassetteModel(cassette, options.mode, live, speed=options.speed)
            podium = Podium(
                config, model=model, agents=scenario.agent_specs(), tool_wrapper=model.wrap_tool
            )
        except PodiumError as exc:
            return Trial(None, [], str(exc), cassette)
        try:
            return await _trial(scenario, podium, model, cassette, f"eval-{scenario.name}-{n}")
        finally:
            # Before the folder goes: a trial's memory store (Chroma) holds ~26 files open, and
            # a suite of 15 scenarios x 3 trials in one process would reach the usual limit of
            # 1024 open files.
            podium.close()


async def _trial(
    scenario: Scenario, podium: Podium, model: CassetteModel, cassette: Cassette, run_id: str
) -> Trial:
    events: list[RunEvent] = []
    try:
        result = await podium.arun(scenario.goal, run_id=run_id, on_event=events.append)
    except PodiumError as exc:
        error = cassette.misses[0] if cassette.misses else f"{type(exc).__name__}: {exc}"
        return Trial(None, [], error, cassette, events)
    checks = await grade(scenario.expect, result, events, judge=_judge(model, run_id), error=None)
    return Trial(result, checks, None, cassette, events)


def _router(config: PodiumConfig) -> ModelBackend:
    return LiteLLMBackend(config.models)


_JUDGE_SCHEMA = {
    "type": "object",
    "properties": {"pass": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 300}},
    "required": ["pass", "reason"],
}


def _judge(model: CassetteModel, run_id: str) -> Callable[[JudgeCheck, str], Any]:
    async def judge(item: JudgeCheck, text: str) -> tuple[bool, str]:
        request = ModelRequest(
            tier=item.tier,
            purpose="judge",
            run_id=run_id,
            response_schema=_JUDGE_SCHEMA,
            messages=(
                {
                    "role": "system",
                    "content": "You grade an AI system's output against a rubric. Be strict: "
                    'pass only if the rubric is fully met. Reply as JSON {"pass": bool, "reason": str}.',
                },
                {"role": "user", "content": f"Rubric: {item.rubric}\n\nOutput to grade:\n{text}"},
            ),
        )
        try:
            response = await model.complete(request)
            verdict = json.loads(response.message.content or "")
            return bool(verdict["pass"]), str(verdict.get("reason", ""))[:300]
        except PodiumError as exc:
            return False, f"judge call failed: {exc}"
        except (json.JSONDecodeError, KeyError, TypeError):
            return False, "the judge's reply was not the JSON verdict asked for"

    return judge


# -- report ------------------------------------------------------------------------------


def scenario_row(scenario: Scenario, trials: list[Trial]) -> dict[str, Any]:
    passes = sum(t.passed for t in trials)
    shown = next((t for t in trials if not t.passed), trials[-1])
    result = shown.result
    row: dict[str, Any] = {
        "name": scenario.name,
        "path": str(scenario.path),
        "workflow": scenario.workflow,
        "kind": scenario.kind,
        "description": scenario.description,
        "cassette_source": shown.cassette.source,
        "passed": passes == len(trials),
        "trials": len(trials),
        "trials_passed": passes,
        "pass_hat_k": passes == len(trials),
        "reasons": shown.reasons if not shown.passed else [],
        "checks": [c.as_dict() for c in shown.checks],
        "status": result.status if result else "error",
        "answer": result.answer if result else None,
        "error": shown.error or (result.error if result else None),
    }
    return row | _run_figures(result, shown.cassette, shown.events)


def _run_figures(
    result: RunResult | None, cassette: Cassette, events: Sequence[RunEvent] = ()
) -> dict[str, Any]:
    if result is None:
        return {
            "cost_usd": 0.0,
            "tokens": 0,
            "calls": 0,
            "latency_s": 0.0,
            "graph": {"tasks": []},
            "timeline": [],
            "cost_by_agent": {},
            "judge_cost_usd": 0.0,
            "routes": [],
            "replans": 0,
        }
    bars = timeline(result, cassette, events)
    tasks = list(result.plan.tasks) if result.plan else [r.task for _, r in sorted_tasks(result)]
    return {
        "cost_usd": round(result.usage.cost_usd, 8),
        "tokens": result.usage.total_tokens,
        "calls": result.usage.calls,
        "latency_s": round(max((b["end_s"] for b in bars), default=0.0), 4),
        "graph": {"tasks": [_node(result, t.id, t.agent, list(t.inputs)) for t in tasks]},
        "timeline": bars,
        "cost_by_agent": cost_by_agent(result, cassette),
        "judge_cost_usd": judge_cost(cassette),
        "routes": [
            {
                "task": task_id,
                "attempt": r.attempt,
                "tier": r.tier,
                "model": r.model,
                "outcome": r.outcome,
                "reason": r.reason,
            }
            # By task id (each task's tries stay in order): `routing` lists tasks as they
            # finished, and concurrent tasks finish in varying order.
            for task_id, r in sorted(result.routing, key=lambda route: route[0])
        ],
        "replans": result.plan_revisions,
    }


def _node(result: RunResult, task_id: str, agent: str, inputs: list[str]) -> dict[str, Any]:
    r = result.tasks.get(task_id)
    return {
        "id": task_id,
        "agent": agent,
        "inputs": inputs,
        "status": r.status if r else "not_run",
        "tier": r.routes[-1].tier if r and r.routes else None,
        "model": r.model if r else None,
        "attempts": r.attempts if r else 0,
    }


def _broken_row(path: Path, error: str, trials: int) -> dict[str, Any]:
    return {
        "name": path.stem,
        "path": str(path),
        "workflow": "other",
        "kind": "other",
        "description": "",
        "cassette_source": None,
        "passed": False,
        "trials": trials,
        "trials_passed": 0,
        "pass_hat_k": False,
        "reasons": [error],
        "checks": [],
        "status": "error",
        "answer": None,
        "error": error,
    } | _run_figures(None, Cassette())


def suite_report(
    paths: list[Path],
    options: EvalOptions,
    rows: list[dict[str, Any]],
    started: float,
    finished: float,
) -> dict[str, Any]:
    rows = sorted(rows, key=lambda r: (r["path"], r["name"]))
    total = len(rows)
    passed = sum(r["passed"] for r in rows)
    trials = sum(r["trials"] for r in rows)
    wall = finished - started
    return {
        "podium_eval_report": REPORT_VERSION,
        "paths": [str(p) for p in paths],
        "mode": options.mode,
        "speed": options.speed,
        "trials": options.trials,
        "scenarios_total": total,
        "passed": passed,
        "failed": total - passed,
        "pass_hat_k": round(passed / total, 6) if total else 0.0,
        "pass_at_1": round(sum(r["trials_passed"] for r in rows) / trials, 6) if trials else 0.0,
        "totals": {
            "cost_usd": round(sum(r["cost_usd"] for r in rows), 8),
            "tokens": sum(r["tokens"] for r in rows),
            "calls": sum(r["calls"] for r in rows),
        },
        "scenarios": rows,
        "timing": {
            "started_at": started,
            "finished_at": finished,
            "wall_s": round(wall, 3),
            "scenarios_per_s": round(total * options.trials / wall, 3) if wall > 0 else None,
        },
    }
