"""`podium bench ...`: the benchmarks' commands, plugged into the CLI.

Registered in pyproject.toml as the `bench` entry point of the `podium.commands` group: the CLI
loads this module to build its parser, so it imports nothing at module level beyond argparse;
each command imports its benchmark when it runs (the peers' dev-only packages among them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`podium bench dag|routing|local-model|...` (the `podium.commands` plug-in)."""
    bench = commands.add_parser("bench", help="performance benchmarks")
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
    embedded = bench_sub.add_parser(
        "embedded",
        help="the embedded default end to end: valid plans, no duplicates, no debris, answers "
        "holding the bundled data's facts, playbook hits, seconds per run",
        description="Run each goal of the goals file on the embedded model and read the answers. "
        "Goals file (YAML): `goals:` a list of {id, workflow (sales | recruiting | research | "
        "support | compliance | other), goal, facts: [strings a correct answer contains]}.",
    )
    embedded.add_argument("--json-out", type=Path, default=Path("bench-results/embedded.json"))
    embedded.add_argument(
        "--goals", type=Path, default=None, help="goals file (default: the bundled 20 goals)"
    )
    embedded.add_argument("--limit", type=int, default=None, help="run only the first N goals")
    embedded.set_defaults(handler=_cmd_bench_embedded)
    memory = bench_sub.add_parser(
        "memory",
        help="shared memory: write throughput, query latency at 10k/100k, plan cache savings",
    )
    memory.add_argument("--json-out", type=Path, default=Path("bench-results/memory.json"))
    memory.set_defaults(handler=_cmd_bench_memory)
    durability = bench_sub.add_parser(
        "durability",
        help="crash torture (SIGKILL at random points, resume, check) and checkpoint overhead",
    )
    durability.add_argument("--json-out", type=Path, default=Path("bench-results/durability.json"))
    durability.add_argument("--kills", type=int, default=200, help="kills per backend")
    durability.add_argument(
        "--backend", action="append", choices=["sqlite", "postgres"], help="default: both"
    )
    durability.set_defaults(handler=_cmd_bench_durability)
    guards = bench_sub.add_parser(
        "guards",
        help="guard overhead per output, and the compromised-model suite (attack success, utility)",
    )
    guards.add_argument("--json-out", type=Path, default=Path("bench-results/guards.json"))
    guards.set_defaults(handler=_cmd_bench_guards)
    ray_bench = bench_sub.add_parser(
        "ray",
        help="a wide CPU-bound task graph: the Ray executor (local, N workers) vs asyncio",
    )
    ray_bench.add_argument("--json-out", type=Path, default=Path("bench-results/ray.json"))
    ray_bench.add_argument("--tasks", type=int, default=24, help="independent tasks in the graph")
    ray_bench.add_argument("--task-cpu-s", type=float, default=0.5, help="CPU seconds per task")
    ray_bench.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray")
    ray_bench.set_defaults(handler=_cmd_bench_ray)
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
    serve_bench = bench_sub.add_parser(
        "serve",
        help="N concurrent runs over HTTP to a real podium serve: runs/s, time to first event, lost runs",
    )
    serve_bench.add_argument("--json-out", type=Path, default=Path("bench-results/serve.json"))
    serve_bench.add_argument("--runs", type=int, default=500, help="runs submitted at once")
    serve_bench.add_argument(
        "--latency-ms", type=float, default=100.0, help="scripted model latency per call"
    )
    serve_bench.add_argument(
        "--concurrency", type=int, help="the server's [server] concurrency (default: --runs)"
    )
    serve_bench.add_argument(
        "--workers", type=int, default=2, help="the server's [server] workers (0: a thread)"
    )
    serve_bench.set_defaults(handler=_cmd_bench_serve)
    cli_bench = bench_sub.add_parser(
        "cli",
        help="the commands that only read (runs, agents, show, audit, --version): median wall "
        "time of a new process each, against the interpreter's own start",
    )
    cli_bench.add_argument("--json-out", type=Path, default=Path("bench-results/cli.json"))
    cli_bench.add_argument("--repeat", type=int, default=9, help="runs of each command")
    cli_bench.set_defaults(handler=_cmd_bench_cli)


def _cmd_bench_dag(args: argparse.Namespace) -> int:
    from .dag import run_dag_bench

    report: dict[str, Any] = run_dag_bench(
        json_out=args.json_out, latency_s=args.latency_ms / 1000, repeat=args.repeat
    )
    ok = report["makespan_over_critical_path"] <= 1.10 and report["overhead_ms_per_task"] <= 5.0
    return 0 if ok else 1


def _cmd_bench_routing(args: argparse.Namespace) -> int:
    from .routing import run_routing_bench
    from .routing_workload import WorkloadError

    try:
        report = run_routing_bench(json_out=args.json_out, workload=args.workload)
    except WorkloadError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0 if report["targets_met"] else 1


def _cmd_bench_local_model(args: argparse.Namespace) -> int:
    from .local_model import GOALS, VALID_PLAN_RATE_TARGET, run_local_model_bench

    if not 1 <= args.goals <= len(GOALS):
        print(f"error: --goals must be between 1 and {len(GOALS)}", file=sys.stderr)
        return 2
    report = run_local_model_bench(json_out=args.json_out, goals=args.goals)
    return 0 if report["valid_plan_rate"] >= VALID_PLAN_RATE_TARGET else 1


def _cmd_bench_embedded(args: argparse.Namespace) -> int:
    from .embedded import (
        DEFAULT_GOALS,
        GoalsFileError,
        load_goals,
        run_embedded_bench,
    )

    goals_file = args.goals or DEFAULT_GOALS
    if args.limit is not None and args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return 2
    try:
        load_goals(goals_file)  # a bad file is reported before the model loads
    except GoalsFileError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    report = run_embedded_bench(json_out=args.json_out, goals_file=goals_file, limit=args.limit)
    return 0 if all(report["targets_met"].values()) else 1


def _cmd_bench_memory(args: argparse.Namespace) -> int:
    from .memory import run_memory_bench

    report = run_memory_bench(args.json_out)
    print(f"-> {args.json_out}")
    return 0 if report["target_met"] and report["plan_cache_target_met"] else 1


def _cmd_bench_durability(args: argparse.Namespace) -> int:
    from .durability import run_durability_bench

    backends = tuple(args.backend or ("sqlite", "postgres"))
    report = run_durability_bench(args.json_out, kills=args.kills, backends=backends)
    print(f"-> {args.json_out}")
    return 0 if report["target_met"] else 1


def _cmd_bench_cli(args: argparse.Namespace) -> int:
    from .cli_latency import run_cli_bench

    report = run_cli_bench(json_out=args.json_out, repeat=args.repeat)
    return 0 if report["targets_met"] else 1


def _cmd_bench_guards(args: argparse.Namespace) -> int:
    from .guards import run_guards_bench

    report = run_guards_bench(args.json_out)
    print(f"-> {args.json_out}")
    return 0 if report["target_met"] else 1


def _cmd_bench_ray(args: argparse.Namespace) -> int:
    from .ray_executor import run_ray_bench

    report = run_ray_bench(
        args.json_out, width=args.tasks, task_cpu_s=args.task_cpu_s, workers=args.workers
    )
    return 0 if report["target_met"] else 1


def _cmd_bench_peers(args: argparse.Namespace) -> int:
    from .peers import run_peers_bench

    report = run_peers_bench(
        json_out=args.json_out, md_out=args.md_out, latency_s=args.latency_ms / 1000, only=args.only
    )
    return 0 if all(report["targets_met"].values()) else 1


def _cmd_bench_serve(args: argparse.Namespace) -> int:
    from .serve import run_serve_bench

    report = run_serve_bench(
        json_out=args.json_out,
        runs=args.runs,
        latency_ms=args.latency_ms,
        concurrency=args.concurrency,
        workers=args.workers,
    )
    return 0 if report["targets_met"] else 1
