"""The `podium` command. Imports stay inside the commands so `podium --help` answers at once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._api import Podium


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    from ._errors import PodiumError

    try:
        code: int = args.handler(args)
    except PodiumError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "interrupted: resume with `podium resume RUN_ID` (see `podium runs`)", file=sys.stderr
        )
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="podium",
        description="Podium: plan a goal into a task graph and run it with specialist agents.",
    )
    parser.add_argument(
        "--config", type=Path, help="path to podium.toml (default: ./podium.toml if present)"
    )
    sub = parser.add_subparsers(metavar="COMMAND")

    run = sub.add_parser("run", help="run a goal and print the answer")
    run.add_argument("goal")
    run.add_argument(
        "--json", action="store_true", help="print the RunResult as JSON instead of live progress"
    )
    run.add_argument("--run-id", help="choose the run id (default: generated)")
    run.set_defaults(handler=_cmd_run)

    resume = sub.add_parser("resume", help="continue a crashed or stopped run")
    resume.add_argument("run_id")
    resume.add_argument("--json", action="store_true")
    resume.set_defaults(handler=_cmd_resume)

    runs = sub.add_parser("runs", help="list runs and their status")
    runs.set_defaults(handler=_cmd_runs)

    agents = sub.add_parser("agents", help="list the registered agents")
    agents.set_defaults(handler=_cmd_agents)

    bench = sub.add_parser("bench", help="performance benchmarks")
    bench_sub = bench.add_subparsers(metavar="BENCH")
    dag = bench_sub.add_parser(
        "dag", help="dependency-driven dispatch: makespan vs critical path, overhead per task"
    )
    dag.add_argument("--json-out", type=Path, default=Path("bench-results/dag.json"))
    dag.add_argument(
        "--latency-ms", type=float, default=200.0, help="scripted model latency per call"
    )
    dag.add_argument(
        "--repeat", type=int, default=3, help="zero-latency repetitions for the overhead figure"
    )
    dag.set_defaults(handler=_cmd_bench_dag)
    routing = bench_sub.add_parser(
        "routing",
        help="per-task model routing vs frontier-only and cheap-only: cost and pass rate on a graded workload",
    )
    routing.add_argument("--json-out", type=Path, default=Path("bench-results/routing.json"))
    routing.add_argument(
        "--workload", type=Path, help="workload YAML (default: the bundled routing.yaml)"
    )
    routing.set_defaults(handler=_cmd_bench_routing)
    local = bench_sub.add_parser(
        "local-model",
        help="the embedded model on this CPU: tokens/s, seconds to a valid plan, valid plan rate",
    )
    local.add_argument("--json-out", type=Path, default=Path("bench-results/local-model.json"))
    local.add_argument("--goals", type=int, default=8, help="how many bundled goals to plan (1-8)")
    local.set_defaults(handler=_cmd_bench_local_model)
    peers = bench_sub.add_parser(
        "peers",
        help="Podium beside langgraph-supervisor, a raw LangGraph graph and a sequential supervisor",
    )
    peers.add_argument("--json-out", type=Path, default=Path("bench-results/peers.json"))
    peers.add_argument("--md-out", type=Path, default=Path("bench-results/peers.md"))
    peers.add_argument(
        "--latency-ms", type=float, default=100.0, help="fake model latency per call"
    )
    peers.add_argument("--only", nargs="*", help="workload names (default: all)")
    peers.set_defaults(handler=_cmd_bench_peers)
    return parser


def _podium(args: argparse.Namespace) -> Podium:
    from ._api import Podium
    from ._config import PodiumConfig

    return Podium(PodiumConfig.load(args.config))


def _cmd_run(args: argparse.Namespace) -> int:
    podium = _podium(args)
    if args.json:
        result = podium.run(args.goal, run_id=args.run_id)
        print(result.model_dump_json(indent=2))
        return 0 if result.status == "completed" else 1
    import asyncio

    from ._progress import follow

    return asyncio.run(follow(podium.astream(args.goal, run_id=args.run_id)))


def _cmd_resume(args: argparse.Namespace) -> int:
    podium = _podium(args)
    if args.json:
        result = podium.resume(args.run_id)
        print(result.model_dump_json(indent=2))
        return 0 if result.status == "completed" else 1
    import asyncio

    from ._progress import follow

    return asyncio.run(follow(podium.astream_resume(args.run_id)))


def _cmd_runs(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table("run id", "status", "goal", "tasks", "tokens")
    for record in _podium(args).runs():
        result = record.result
        tasks = str(len(result.tasks)) if result else "-"
        tokens = str(result.usage.total_tokens) if result else "-"
        table.add_row(record.run_id, record.status, record.goal[:60], tasks, tokens)
    Console().print(table)
    return 0


def _cmd_agents(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table("agent", "tier", "tools", "description")
    for spec in _podium(args).agents.specs():
        table.add_row(spec.name, spec.tier, ", ".join(spec.tools) or "-", spec.description)
    Console().print(table)
    return 0


def _cmd_bench_dag(args: argparse.Namespace) -> int:
    from podium.evals.bench import run_dag_bench

    report: dict[str, Any] = run_dag_bench(
        json_out=args.json_out, latency_s=args.latency_ms / 1000, repeat=args.repeat
    )
    ok = report["makespan_over_critical_path"] <= 1.10 and report["overhead_ms_per_task"] <= 5.0
    return 0 if ok else 1


def _cmd_bench_routing(args: argparse.Namespace) -> int:
    from podium.evals.bench_routing import run_routing_bench
    from podium.evals.routing_workload import WorkloadError

    try:
        report = run_routing_bench(json_out=args.json_out, workload=args.workload)
    except WorkloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if report["targets_met"] else 1


def _cmd_bench_local_model(args: argparse.Namespace) -> int:
    from podium.evals.bench_local import GOALS, VALID_PLAN_RATE_TARGET, run_local_model_bench

    if not 1 <= args.goals <= len(GOALS):
        print(f"error: --goals must be between 1 and {len(GOALS)}", file=sys.stderr)
        return 2
    report = run_local_model_bench(json_out=args.json_out, goals=args.goals)
    return 0 if report["valid_plan_rate"] >= VALID_PLAN_RATE_TARGET else 1


def _cmd_bench_peers(args: argparse.Namespace) -> int:
    from podium.evals.bench_peers import run_peers_bench

    report = run_peers_bench(
        json_out=args.json_out, md_out=args.md_out, latency_s=args.latency_ms / 1000, only=args.only
    )
    return 0 if all(report["targets_met"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
