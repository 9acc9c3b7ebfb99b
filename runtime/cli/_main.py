"""The `podium` command. Imports stay inside the commands so `podium --help` answers at once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from podium.evals._scenario import Workflow

    from .._api import Podium
    from ..engine._plan import Plan


def main(argv: list[str] | None = None) -> int:
    # jsonschema imports rfc3987_syntax when it is installed (a transitive dependency here), which
    # builds a parser at import: 3.2 s of every command, measured. Podium validates schemas
    # without format checks, so the `podium` process (not a library user's) goes without it.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    from .._errors import PodiumError

    try:
        code: int = args.handler(args)
    except PodiumError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        # A full or read-only disk, or an OSError on a file under the data folder, met outside
        # the run store's seams (which raise StorageError, above): one line, like any other
        # error. Anything else is a bug (a tool's, a dataset's) and keeps its traceback.
        from ..storage._store import storage_failure

        failure = storage_failure(exc, _data_dir(args))
        if failure is None:
            raise
        print(f"error: {failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "interrupted: resume with `podium resume RUN_ID` (see `podium runs`)", file=sys.stderr
        )
        return 130
    return code


def _data_dir(args: argparse.Namespace) -> Path | None:
    """The data folder the configuration names, to tell its failures from other errors; None
    when the configuration cannot be read (the error being reported may be why)."""
    from .._config import PodiumConfig

    try:
        return PodiumConfig.load(args.config).storage.data_dir
    except Exception:  # any reason at all: the error already being reported is what matters
        return None


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
    run.add_argument(
        "--record",
        type=Path,
        metavar="SCENARIO.yaml",
        help="also record the run as an eval scenario (with its cassette beside it)",
    )
    run.set_defaults(handler=_cmd_run)

    resume = sub.add_parser("resume", help="continue a crashed or stopped run")
    resume.add_argument("run_id")
    resume.add_argument("--json", action="store_true")
    resume.set_defaults(handler=_cmd_resume)

    runs = sub.add_parser("runs", help="list runs and their status")
    runs.add_argument("--tenant", help="only this tenant's runs")
    runs.add_argument("--limit", type=int, default=50, help="newest N runs (default 50)")
    runs.set_defaults(handler=_cmd_runs)

    approve = sub.add_parser(
        "approve",
        help="answer a run's pending escalation (approve, reject, edit, or answer the planner's "
        "question) and resume it",
    )
    approve.add_argument("run_id")
    approve.add_argument("escalation_id", nargs="?", help="needed when several are pending")
    verdict = approve.add_mutually_exclusive_group()
    verdict.add_argument("--reject", action="store_true", help="refuse the call or the output")
    verdict.add_argument("--edit", metavar="TEXT", help="use TEXT as the output instead")
    verdict.add_argument(
        "--instruct", metavar="TEXT", help="run the task again with TEXT added to its instructions"
    )
    verdict.add_argument(
        "--answer", metavar="TEXT", help="answer the planner's question (a clarify escalation)"
    )
    approve.add_argument("--json", action="store_true")
    approve.set_defaults(handler=_cmd_approve)

    audit = sub.add_parser("audit", help="print a run's audit trail")
    audit.add_argument("run_id")
    audit.add_argument("--json", action="store_true", help="one JSON record per line, as stored")
    audit.set_defaults(handler=_cmd_audit)

    doctor = sub.add_parser(
        "doctor",
        help="check this install: Python, lock, embedded model, embeddings, Chroma, guards, tiers",
    )
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.add_argument(
        "--only",
        type=lambda v: [c.strip() for c in v.split(",") if c.strip()],
        help="comma-separated checks to run (default: all): " + ", ".join(_doctor_checks()),
    )
    doctor.add_argument("--quiet", action="store_true", help="print only warnings and failures")
    doctor.set_defaults(handler=_cmd_doctor)
    agents = sub.add_parser("agents", help="list the registered agents")
    agents.set_defaults(handler=_cmd_agents)
    playbooks = sub.add_parser(
        "playbooks", help="list the playbooks (plan templates) goals are matched to"
    )
    playbooks.add_argument("--json", action="store_true", help="print them as JSON")
    playbooks.set_defaults(handler=_cmd_playbooks)

    _eval_parser(sub)
    _memory_parser(sub)
    _serve_parsers(sub)

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
    return parser


def _eval_parser(sub: Any) -> None:
    ev = sub.add_parser("eval", help="offline evaluation: run, record and compare scenario suites")
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


def _memory_parser(sub: Any) -> None:
    mem = sub.add_parser("memory", help="shared memory: search, forget, stats")
    mem_sub = mem.add_subparsers(metavar="MEMORY")
    search = mem_sub.add_parser("search", help="entries closest to a query, with provenance")
    search.add_argument("query")
    search.add_argument("--tenant", help="default: [memory] tenant")
    search.add_argument(
        "--namespace", help="tenant | run:RUN_ID | agent:NAME (default: every namespace)"
    )
    search.add_argument("-k", type=int, default=None, help="how many (default: [memory] top_k)")
    search.set_defaults(handler=_cmd_memory_search)
    forget = mem_sub.add_parser("forget", help="delete an entry, a run's memory or a tenant's")
    what = forget.add_mutually_exclusive_group(required=True)
    what.add_argument("--id", dest="entry_id", help="one entry")
    what.add_argument("--run", dest="run_id", help="everything a run wrote")
    what.add_argument("--all", action="store_true", help="the whole tenant")
    forget.add_argument("--tenant", help="default: [memory] tenant")
    forget.set_defaults(handler=_cmd_memory_forget)
    stats = mem_sub.add_parser("stats", help="entries and plans per tenant and namespace")
    stats.add_argument("--tenant")
    stats.set_defaults(handler=_cmd_memory_stats)


def _memory_store(args: argparse.Namespace) -> Any:
    from .._config import PodiumConfig
    from .._errors import ConfigError

    config = PodiumConfig.load(args.config)
    if not config.memory.enabled:
        raise ConfigError("shared memory is off in this configuration ([memory] enabled = false)")
    from podium.memory import MemoryStoreError, open_store
    from podium.policies import Redactor

    try:
        redact = Redactor(pii=frozenset(config.memory.redact_pii)).redact
        return open_store(config.memory, config.storage.data_dir, redact=redact)
    except MemoryStoreError as exc:
        raise ConfigError(f"[memory]: {exc}") from None


def _cmd_memory_search(args: argparse.Namespace) -> int:
    from podium.memory import MemoryStoreError, search_memory
    from podium.memory._prompt import provenance

    with _memory_store(args) as store:
        try:
            hits = search_memory(
                store, args.query, tenant=args.tenant, namespace=args.namespace, k=args.k
            )
        except MemoryStoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for number, hit in enumerate(hits, start=1):
            print(f"[{number}] {hit.entry.id} | {provenance(hit.entry, hit.score)}")
            print("    " + hit.entry.text.replace("\n", "\n    "))
        if not hits:
            print("nothing found")
    return 0


def _cmd_memory_forget(args: argparse.Namespace) -> int:
    from podium.memory import MemoryStoreError, forget_memory

    with _memory_store(args) as store:
        tenant = args.tenant or store.config.tenant
        try:
            removed = forget_memory(
                store, tenant=tenant, run_id=args.run_id, entry_id=args.entry_id
            )
        except MemoryStoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(f"forgot {removed} entr{'y' if removed == 1 else 'ies'} of tenant {tenant!r}")
    return 0


def _cmd_memory_stats(args: argparse.Namespace) -> int:
    from podium.memory import memory_stats, render_stats

    with _memory_store(args) as store:
        print(render_stats(memory_stats(store, args.tenant)))
    return 0


def _podium(args: argparse.Namespace) -> Podium:
    from .._api import Podium
    from .._config import PodiumConfig

    return Podium(PodiumConfig.load(args.config))


def _cmd_run(args: argparse.Namespace) -> int:
    if args.record:
        return _record_run(args, args.goal, args.record, workflow="other", show=not args.json)
    podium = _podium(args)
    if args.json:
        result = podium.run(args.goal, run_id=args.run_id)
        print(result.model_dump_json(indent=2))
        return 0 if result.status == "completed" else 1
    import asyncio

    from ._progress import follow

    return asyncio.run(follow(podium.astream(args.goal, run_id=args.run_id)))


def _record_run(
    args: argparse.Namespace, goal: str, out: Path, *, workflow: str, show: bool
) -> int:
    """Run live through a recording cassette, then write the scenario and cassette."""
    import asyncio

    from podium.evals import Cassette, CassetteModel, scenario_from_run
    from podium.evals._record import portable_config

    from .._api import Podium
    from .._config import PodiumConfig
    from ..models._model import LiteLLMBackend
    from ..storage._store import new_run_id
    from ._progress import follow

    config = PodiumConfig.load(args.config)
    model = CassetteModel(Cassette(source="recorded"), "record", LiteLLMBackend(config.models))
    podium = Podium(config, model=model, tool_wrapper=model.wrap_tool)
    run_id = getattr(args, "run_id", None) or new_run_id()
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

    from podium.evals import EvalOptions, run_suite
    from podium.evals._console import print_report

    options = EvalOptions(
        mode=args.mode, speed=args.speed, trials=args.trials, concurrency=max(1, args.concurrency)
    )
    report = asyncio.run(run_suite(args.paths, options))
    print_report(report)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"-> {args.json_out}")
    if args.html_out:
        from podium.evals._html import render_html

        args.html_out.parent.mkdir(parents=True, exist_ok=True)
        args.html_out.write_text(render_html(report), encoding="utf-8")
        print(f"-> {args.html_out}")
    return 0 if report["failed"] == 0 else 1


def _cmd_eval_compare(args: argparse.Namespace) -> int:
    import json

    from podium.evals import compare, load_report
    from podium.evals._console import print_comparison

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
    for record in _podium(args).runs(tenant=args.tenant, limit=args.limit):
        result = record.result
        tasks = str(len(result.tasks)) if result else "-"
        tokens = str(result.usage.total_tokens) if result else "-"
        table.add_row(record.run_id, record.status, record.goal[:60], tasks, tokens)
    Console().print(table)
    return 0


def _cmd_approve(args: argparse.Namespace) -> int:
    import asyncio

    from .._errors import RunStateError

    podium = _podium(args)
    record = podium.store.get(args.run_id)
    pending = record.result.escalations if record.result else []
    if record.status != "waiting_for_human" or not pending:
        raise RunStateError(f"run {args.run_id!r} is {record.status}: nothing waits for an answer")
    chosen = [e for e in pending if e.id == args.escalation_id] if args.escalation_id else pending
    if len(chosen) != 1:
        listing = "; ".join(f"{e.id}: {e.question}" for e in pending)
        raise RunStateError(
            f"name one pending escalation of run {args.run_id!r}: {listing}"
            if not args.escalation_id
            else f"run {args.run_id!r} has no pending escalation {args.escalation_id!r}: {listing}"
        )
    answer: Any = "approve"
    if args.reject:
        answer = "reject"
    elif args.edit is not None:
        answer = {"decision": "edit", "output": args.edit}
    elif args.instruct is not None:
        answer = {"decision": "instruct", "instructions": args.instruct}
    elif args.answer is not None:
        answer = {"decision": "answer", "text": args.answer}
    answers = {chosen[0].id: answer}
    if args.json:
        result = asyncio.run(podium.aresume(args.run_id, answers=answers))
        print(result.model_dump_json(indent=2))
        return 0 if result.status == "completed" else 1
    from ._progress import follow

    return asyncio.run(follow(podium.astream_resume(args.run_id, answers=answers)))


def _cmd_audit(args: argparse.Namespace) -> int:
    import json

    from podium.policies import AUDIT_FILE, read_audit

    from .._config import PodiumConfig
    from .._errors import RunNotFoundError

    config = PodiumConfig.load(args.config)
    path = config.runs_dir / args.run_id / AUDIT_FILE
    if not path.is_file():
        raise RunNotFoundError(
            f"no audit trail for run {args.run_id!r} at {path}: list runs with `podium runs` "
            "(runs made with `[policies] audit = false` have none)"
        )
    for record in read_audit(path):
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(_audit_line(record))
    return 0


def _audit_line(record: dict[str, Any]) -> str:
    """One readable line per audit record: time, kind, then the fields that say what happened."""
    import datetime

    at = datetime.datetime.fromtimestamp(record.get("at", 0), datetime.UTC).strftime("%H:%M:%S.%f")[
        :-3
    ]
    kind = record.get("kind", "?")
    skip = {"at", "kind", "run_id", "usage", "plan"}
    fields = []
    for key, value in record.items():
        if key in skip or value in (None, "", [], {}):
            continue
        text = value if isinstance(value, str) else json_compact(value)
        fields.append(f"{key}={text[:160]}")
    return f"{at} {kind:<14} " + " ".join(fields)


def json_compact(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _doctor_checks() -> tuple[str, ...]:
    # Listed here, not imported: `podium --help` must not pay for the doctor's imports.
    return (
        "python", "lock", "data_dir", "embedded_model", "embeddings",
        "chroma", "guardrails", "tiers", "postgres", "ray",
    )  # fmt: skip


def _cmd_doctor(args: argparse.Namespace) -> int:
    import json

    from .._config import PodiumConfig
    from ._doctor import CHECKS, render, run_checks, to_json

    unknown = sorted(set(args.only or ()) - set(CHECKS))
    if unknown:
        print(f"error: unknown check(s) {unknown}: known are {', '.join(CHECKS)}", file=sys.stderr)
        return 2
    checks = run_checks(PodiumConfig.load(args.config), args.only)
    report = to_json(checks)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        text = render(checks, quiet=args.quiet)
        if text:
            print(text, file=sys.stderr if args.quiet else sys.stdout)
    return 0 if report["ok"] else 1


def _cmd_agents(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table("agent", "tier", "tools", "description")
    for spec in _podium(args).agents.specs():
        table.add_row(spec.name, spec.tier, ", ".join(spec.tools) or "-", spec.description)
    Console().print(table)
    return 0


def _cmd_playbooks(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    podium = _podium(args)
    found = podium.playbooks
    if found is None:
        print("playbooks are off ([planner] playbooks = false)")
        return 0
    if args.json:
        data = {
            "playbooks": [p.model_dump(mode="json") for p in found.playbooks],
            "problems": found.problems,
        }
        print(json.dumps(data, indent=2))
        return 1 if found.problems else 0
    table = Table("playbook", "workflow", "tasks", "goals it matches (and ones like them)", "from")
    for p in found.playbooks:
        table.add_row(p.name, p.workflow, _graph(p.plan(p.slots)), "\n".join(p.goals), p.source)
    Console().print(table)
    for problem in found.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    return 1 if found.problems else 0


def _graph(plan: Plan) -> str:
    """A plan in one line, in waves: "company (researcher) + contacts (enricher) → brief (...)"."""
    depth: dict[str, int] = {}
    for t in plan.topological_order():
        depth[t.id] = 1 + max((depth[i] for i in t.inputs), default=-1)
    waves = [
        " + ".join(f"{t.id} ({t.agent})" for t in plan.tasks if depth[t.id] == level)
        for level in range(max(depth.values()) + 1)
    ]
    return " → ".join(waves)


def _cmd_bench_dag(args: argparse.Namespace) -> int:
    from podium.evals.bench.dag import run_dag_bench

    report: dict[str, Any] = run_dag_bench(
        json_out=args.json_out, latency_s=args.latency_ms / 1000, repeat=args.repeat
    )
    ok = report["makespan_over_critical_path"] <= 1.10 and report["overhead_ms_per_task"] <= 5.0
    return 0 if ok else 1


def _cmd_bench_routing(args: argparse.Namespace) -> int:
    from podium.evals.bench.routing import run_routing_bench
    from podium.evals.bench.routing_workload import WorkloadError

    try:
        report = run_routing_bench(json_out=args.json_out, workload=args.workload)
    except WorkloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if report["targets_met"] else 1


def _cmd_bench_local_model(args: argparse.Namespace) -> int:
    from podium.evals.bench.local_model import GOALS, VALID_PLAN_RATE_TARGET, run_local_model_bench

    if not 1 <= args.goals <= len(GOALS):
        print(f"error: --goals must be between 1 and {len(GOALS)}", file=sys.stderr)
        return 2
    report = run_local_model_bench(json_out=args.json_out, goals=args.goals)
    return 0 if report["valid_plan_rate"] >= VALID_PLAN_RATE_TARGET else 1


def _cmd_bench_embedded(args: argparse.Namespace) -> int:
    from podium.evals.bench.embedded import (
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
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = run_embedded_bench(json_out=args.json_out, goals_file=goals_file, limit=args.limit)
    return 0 if all(report["targets_met"].values()) else 1


def _cmd_bench_memory(args: argparse.Namespace) -> int:
    from podium.evals.bench.memory import run_memory_bench

    report = run_memory_bench(args.json_out)
    print(f"-> {args.json_out}")
    return 0 if report["target_met"] and report["plan_cache_target_met"] else 1


def _cmd_bench_durability(args: argparse.Namespace) -> int:
    from podium.evals.bench.durability import run_durability_bench

    backends = tuple(args.backend or ("sqlite", "postgres"))
    report = run_durability_bench(args.json_out, kills=args.kills, backends=backends)
    print(f"-> {args.json_out}")
    return 0 if report["target_met"] else 1


def _cmd_bench_guards(args: argparse.Namespace) -> int:
    from podium.evals.bench.guards import run_guards_bench

    report = run_guards_bench(args.json_out)
    print(f"-> {args.json_out}")
    return 0 if report["target_met"] else 1


def _cmd_bench_ray(args: argparse.Namespace) -> int:
    from podium.evals.bench.ray_executor import run_ray_bench

    report = run_ray_bench(
        args.json_out, width=args.tasks, task_cpu_s=args.task_cpu_s, workers=args.workers
    )
    return 0 if report["target_met"] else 1


def _cmd_bench_peers(args: argparse.Namespace) -> int:
    from podium.evals.bench.peers import run_peers_bench

    report = run_peers_bench(
        json_out=args.json_out, md_out=args.md_out, latency_s=args.latency_ms / 1000, only=args.only
    )
    return 0 if all(report["targets_met"].values()) else 1


def _serve_parsers(sub: Any) -> None:
    serve = sub.add_parser(
        "serve", help="the HTTP server: runs API with live events, OpenAI endpoint, web chat"
    )
    serve.add_argument("--host", help="address to listen on (default: [server] host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: [server] port, 8321; 0: any free)")
    serve.add_argument(
        "--api-key",
        help="a bearer token for the default tenant (prefer the PODIUM_API_KEY variable: "
        "command lines are visible to other users); [server.keys] adds keys per tenant",
    )
    serve.add_argument("--concurrency", type=int, help="runs executing at once")
    serve.add_argument("--queue-size", type=int, help="runs waiting beyond those")
    serve.add_argument("--no-access-log", action="store_true", help="no line per request")
    serve.set_defaults(handler=_cmd_serve)
    chat = sub.add_parser("chat", help="a terminal chat: each message is a goal, shown live")
    chat.set_defaults(handler=_cmd_chat)


def _cmd_serve(args: argparse.Namespace) -> int:
    from .._config import PodiumConfig
    from ..serve._server import bind, check_binding, create_app, resolve_tokens, serve

    config = PodiumConfig.load(args.config)
    updates = {
        key: value
        for key, value in (
            ("host", args.host),
            ("port", args.port),
            ("concurrency", args.concurrency),
            ("queue_size", args.queue_size),
        )
        if value is not None
    }
    settings = config.server.model_validate({**config.server.model_dump(), **updates})
    tokens = resolve_tokens(settings, api_key=args.api_key, default_tenant=config.memory.tenant)
    check_binding(settings.host, tokens)
    sock = bind(settings.host, settings.port)  # a busy port is one line now, not after loading
    config = config.model_copy(update={"server": settings})
    try:
        app = create_app(config, tokens=tokens)
    except BaseException:
        sock.close()
        raise

    def ready(port: int) -> None:
        auth = f"{len(tokens)} API key(s)" if tokens else "no API key (loopback only)"
        print(f"podium serve: http://{settings.host}:{port}/ ({auth})", flush=True)

    serve(
        app,
        host=settings.host,
        port=settings.port,
        access_log=not args.no_access_log,
        on_ready=ready,
        sock=sock,
    )
    return 0


def _cmd_chat(args: argparse.Namespace) -> int:
    from ._chat import run_chat

    return run_chat(_podium(args))


def _cmd_bench_serve(args: argparse.Namespace) -> int:
    from podium.evals.bench.serve import run_serve_bench

    report = run_serve_bench(
        json_out=args.json_out,
        runs=args.runs,
        latency_ms=args.latency_ms,
        concurrency=args.concurrency,
        workers=args.workers,
    )
    return 0 if report["targets_met"] else 1
