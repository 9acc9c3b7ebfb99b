"""`podium eval ...` and `podium run --record`: the evaluation's commands, plugged into the CLI.

Registered in pyproject.toml as the `eval` entry point of the `podium.commands` group: the CLI
loads this module to build its parser, so it imports nothing at module level beyond argparse
(the commands import what they use), and `podium --help` stays quick.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from podium.runtime.cli import Handler

    from ._scenario import Workflow


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`podium eval run|record|compare`, and `podium run --record` (the `podium.commands` plug-in)."""
    run_command = commands.choices["run"]
    run_command.add_argument(
        "--record",
        type=Path,
        metavar="SCENARIO.yaml",
        help="also record the run as an eval scenario (with its cassette beside it)",
    )
    run_command.set_defaults(handler=_recording(run_command.get_default("handler")))
    ev = commands.add_parser(
        "eval", help="offline evaluation: run, record and compare scenario suites"
    )
    ev_sub = ev.add_subparsers(metavar="EVAL")
    run = ev_sub.add_parser("run", help="run scenario suites (folders or files) and grade them")
    run.add_argument("paths", nargs="+", type=Path)
    run.add_argument("--trials", type=int, default=1, help="trials per scenario, for pass^k")
    run.add_argument("--json-out", type=Path, help="write the report as JSON")
    run.add_argument("--html-out", type=Path, help="write the report as a self-contained HTML page")
    run.add_argument(
        "--mode",
        choices=["replay", "record", "replay-or-record"],
        default="replay",
        help="replay: strict, offline (default); record: live, rewrites cassettes",
    )
    run.add_argument(
        "--speed",
        choices=["full", "recorded"],
        default="full",
        help="replay at full speed, or wait the recorded latencies",
    )
    run.add_argument("--concurrency", type=int, default=4, help="scenarios run at once")
    run.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="keep the trials' runs (records, audit trails) in DIR, to inspect with `podium runs` "
        "and `podium audit` there (default: a temporary folder per trial; an eval never touches "
        "your data folder or memory, and each trial's memory stays its own)",
    )
    run.set_defaults(handler=_cmd_eval_run)
    record = ev_sub.add_parser("record", help="run a goal live and save it as a scenario")
    record.add_argument("goal")
    record.add_argument("--out", type=Path, required=True, metavar="SCENARIO.yaml")
    record.add_argument(
        "--workflow",
        choices=["sales", "recruiting", "research", "support", "compliance", "other"],
        default="other",
    )
    record.set_defaults(handler=_cmd_eval_record)
    cmp = ev_sub.add_parser("compare", help="compare two reports; exit 1 on regressions")
    cmp.add_argument("base", type=Path)
    cmp.add_argument("new", type=Path)
    cmp.add_argument(
        "--cost-tolerance", type=float, default=0.10, help="relative cost rise allowed"
    )
    cmp.add_argument(
        "--latency-tolerance", type=float, default=0.25, help="relative latency rise allowed"
    )
    cmp.add_argument("--json-out", type=Path)
    cmp.set_defaults(handler=_cmd_eval_compare)


def _recording(run: Handler) -> Handler:
    """`podium run`'s handler, which records the run instead when `--record` is given."""

    def handler(args: argparse.Namespace) -> int:
        if args.record:
            return _record_run(args, args.goal, args.record, workflow="other", show=not args.json)
        return run(args)

    return handler


def _record_run(
    args: argparse.Namespace, goal: str, out: Path, *, workflow: str, show: bool
) -> int:
    """Run live through a recording cassette, then write the scenario and cassette."""
    import asyncio

    from podium.runtime import LiteLLMBackend, Podium, PodiumConfig, new_run_id
    from podium.runtime.cli import follow

    from ._cassette import Cassette, CassetteModel
    from ._record import portable_config, scenario_from_run

    config = PodiumConfig.load(args.config)
    model = CassetteModel(Cassette(source="recorded"), "record", LiteLLMBackend(config.models))
    podium = Podium(config, model=model, tool_wrapper=model.wrap_tool)
    run_id = getattr(args, "run_id", None) or new_run_id()
    args.started_run = run_id  # Ctrl-C then prints the command that resumes it
    if show:
        asyncio.run(follow(podium.astream(goal, run_id=run_id)))
        result = podium.store.get(run_id).result
    else:
        result = podium.run(goal, run_id=run_id)
    if result is None:
        print("error: the run ended without a result; nothing recorded", file=sys.stderr)
        return 1
    scenario = scenario_from_run(
        result,
        model.cassette,
        out,
        workflow=cast("Workflow", workflow),
        config=portable_config(config),
        models={"cheap": config.models.cheap, "frontier": config.models.frontier},
    )
    if not show:
        print(result.model_dump_json(indent=2))
    print(
        f"recorded scenario {scenario.name!r} -> {scenario.path} (cassette {scenario.cassette_path})"
    )
    return 0 if result.status == "completed" else 1


def _cmd_eval_record(args: argparse.Namespace) -> int:
    return _record_run(args, args.goal, args.out, workflow=args.workflow, show=True)


def _cmd_eval_run(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from ._console import print_report
    from ._runner import EvalOptions, run_suite

    options = EvalOptions(
        mode=args.mode,
        speed=args.speed,
        trials=args.trials,
        concurrency=max(1, args.concurrency),
        data_dir=args.data_dir,
    )
    report = asyncio.run(run_suite(args.paths, options))
    print_report(report)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"-> {args.json_out}")
    if args.html_out:
        from ._html import render_html

        args.html_out.parent.mkdir(parents=True, exist_ok=True)
        args.html_out.write_text(render_html(report), encoding="utf-8")
        print(f"-> {args.html_out}")
    return 0 if report["failed"] == 0 else 1


def _cmd_eval_compare(args: argparse.Namespace) -> int:
    import json

    from ._compare import compare, load_report
    from ._console import print_comparison

    comparison = compare(
        load_report(args.base),
        load_report(args.new),
        cost_tolerance=args.cost_tolerance,
        latency_tolerance=args.latency_tolerance,
    )
    print_comparison(comparison)
    if args.json_out:
        args.json_out.write_text(json.dumps(comparison.as_dict(), indent=2) + "\n", "utf-8")
    return 1 if comparison.regressions else 0
