"""One conformance suite for every executor: the same runs on asyncio and on a local Ray.

Ray starts once for this module (2 CPUs) and its workers import this module, so the model doubles
and tools below are module-level, stateless and picklable. Ray talks TCP on this machine, so
its cases allow sockets (pytest-socket refuses them everywhere else).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import task
from crash_worker import assert_resumed_where_it_stopped
from executor_worker import podium as worker_podium
from pydantic import BaseModel, ConfigDict

from podium.agents import AgentSpec
from podium.runtime import (
    AssistantMessage,
    ConfigError,
    ModelError,
    ModelRequest,
    Podium,
    PodiumConfig,
    RunEvent,
    TaskFailed,
    ToolCall,
)
from podium.runtime._config import RunConfig
from podium.runtime.testing import FunctionModel, Reply, ScriptedModel, plan_reply
from podium.tools import JSONValue, Tool, ToolContext, tool

TESTS = Path(__file__).parent
WORKER = TESTS / "executor_worker.py"
INPUT = re.compile(r"<input from='(\w+)'[^>]*>\n(.*?)\n</input>", re.S)  # fenced or not


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A local Ray, started once and shut down after this module (the rest of the suite runs
    without its processes); returns its address for drivers in other processes."""
    from podium.runtime.executors._ray import connect

    ray = connect(
        RunConfig(
            executor="ray",
            ray_num_cpus=2,
            ray_runtime_env={"env_vars": {"PYTHONPATH": str(TESTS)}},
        )
    )
    yield str(ray.get_runtime_context().gcs_address)
    ray.shutdown()


@pytest.fixture(
    params=["asyncio", pytest.param("ray", marks=pytest.mark.allow_hosts(["127.0.0.1"]))]
)
def executor(request: pytest.FixtureRequest) -> str:
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
    return str(request.param)


@pytest.fixture
def cfg(config: PodiumConfig, executor: str) -> PodiumConfig:
    return with_run(config, executor=executor)


def with_run(config: PodiumConfig, **run: Any) -> PodiumConfig:
    return config.model_copy(update={"run": config.run.model_copy(update=run)})


# -- picklable doubles: workers import them from this module --------------------------------


@dataclass(frozen=True)
class Model:
    """A deterministic, stateless model: what it says depends only on the request."""

    plan: tuple[dict[str, Any], ...]
    latency: Mapping[str, float] = field(default_factory=dict)
    fail_on: Mapping[str, str] = field(default_factory=dict)
    """Task id -> the tier on which every call for that task errors."""
    tools: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Task id -> (tool, JSON arguments) asked for on every turn until a tool result is in."""
    loop_tool: frozenset[str] = frozenset()
    """Tasks that call the calculator on every turn and never answer (budget eaters)."""
    cite_first: frozenset[str] = frozenset()
    """Tasks whose first answer cites a source nobody gave them (the guard re-asks)."""
    echo: frozenset[str] = frozenset()
    """Tasks whose answer repeats their last tool result."""

    async def __call__(self, request: ModelRequest) -> Reply:
        if request.purpose == "plan":
            return {"tasks": list(self.plan)}
        task_id = request.task_id or ""
        await asyncio.sleep(self.latency.get(task_id, 0.0))
        if self.fail_on.get(task_id) == request.tier:
            raise ModelError(f"the {request.tier} tier is down for {task_id}")
        messages = request.messages
        tool_results = [m for m in messages if m["role"] == "tool"]
        if task_id in self.loop_tool:
            return _call("calculator", f'{{"expression": "{len(tool_results)} + 1"}}')
        if task_id in self.tools and not tool_results:
            return _call(*self.tools[task_id])
        if task_id in self.echo and tool_results:
            return f"{task_id.upper()} saw {tool_results[-1]['content']}"
        reasked = "not accepted" in str(messages[-1].get("content"))
        if task_id in self.cite_first and not reasked:
            return "Northwind is big, see https://made-up.example/x"
        inputs = INPUT.findall(str(messages[1]["content"]))
        seen = ", ".join(f"{i}={text}" for i, text in sorted(inputs))
        return f"{task_id.upper()}" + (f" from {seen}" if seen else "")


def _call(name: str, arguments: str) -> Reply:
    return AssistantMessage(
        tool_calls=(ToolCall(id=f"call-{name}", name=name, arguments=arguments),)
    )


class CrashArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    marker: str


@tool(name="crash_once", description="Kills its own process the first time it is called.")
async def crash_once(args: CrashArgs, ctx: ToolContext) -> JSONValue:
    try:
        os.close(os.open(args.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return "survived"
    os._exit(1)  # a worker dying mid-task, as a segfault or the OOM killer would


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class SessionSource:
    """A tool source as an MCP server's: its tool exists only while it is open, and calls
    through a session that cannot be pickled (a lock, as a session's streams). On Ray, a
    worker can only have the tool by opening the source itself."""

    name: str = "session"

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[Sequence[Tool]]:
        session = threading.Lock()

        @tool(name="where_am_i", description="Says which process runs it.")
        async def where_am_i(args: NoArgs, ctx: ToolContext) -> JSONValue:
            with session:
                return f"pid {os.getpid()}"

        yield (where_am_i,)


CRUNCHER = AgentSpec(
    name="cruncher",
    description="Runs numbers.",
    system_prompt="Use your tools, then answer.",
    tools=("calculator", "crash_once"),
    scopes=("compute",),
)
WANDERER = AgentSpec(
    name="wanderer",
    description="Says where it runs.",
    system_prompt="Use your tool, then answer.",
    tools=("where_am_i",),
)
OUTREACH = AgentSpec(
    name="outreach",
    description="Sends emails.",
    system_prompt="Send the email the task asks for.",
    tools=("send_email",),
    scopes=("write:email",),
)


def run(config: PodiumConfig, model: Model, **kwargs: Any) -> tuple[Podium, Any, list[RunEvent]]:
    podium = Podium(config, model=FunctionModel(model), tools=[crash_once], **kwargs)
    events: list[RunEvent] = []
    result = asyncio.run(podium.arun("conformance", on_event=events.append))
    return podium, result, events


def kinds_by_task(events: list[RunEvent]) -> dict[str, list[str]]:
    by_task: dict[str, list[str]] = {}
    for e in events:
        task_id = getattr(e, "task_id", None)
        if e.kind == "guard_verdict" and e.target == "task":
            task_id = e.subject
        if task_id:
            by_task.setdefault(task_id, []).append(e.kind)
    return by_task


# -- the suite -------------------------------------------------------------------------------


def test_dispatch_follows_dependencies_and_passes_outputs_on(cfg: PodiumConfig) -> None:
    plan = (
        task("slow", "researcher"),
        task("f1", "enricher"),
        task("f2", "enricher", ["f1"]),
        task("f3", "enricher", ["f2"]),
        task("join", "writer", ["slow", "f3"]),
    )
    _, result, events = run(cfg, Model(plan, latency={"slow": 2.5}))
    assert result.status == "completed", result.error
    slow = result.tasks["slow"]
    assert slow.finished_at is not None
    # The chain ran while the slow branch was still working; the join waited for both.
    assert all((result.tasks[f].finished_at or 0) < slow.finished_at for f in ("f1", "f2", "f3"))
    assert (result.tasks["join"].started_at or 0) >= slow.finished_at
    assert result.tasks["f2"].output == "F2 from f1=F1"
    assert result.answer == "JOIN from f3=F3 from f2=F2 from f1=F1, slow=SLOW"
    assert kinds_by_task(events) == {
        t["id"]: ["task_started", "guard_verdict", "task_completed"] for t in plan
    }
    assert events[0].kind == "run_started" and events[-1].kind == "run_finished"


def test_a_failing_task_climbs_the_same_ladder(cfg: PodiumConfig) -> None:
    plan = (task("a", "researcher"), task("b", "researcher"), task("c", "writer", ["a", "b"]))
    _, result, events = run(cfg, Model(plan, fail_on={"b": "cheap"}))
    assert result.status == "completed", result.error
    b = result.tasks["b"]
    assert [(r.tier, r.outcome) for r in b.routes] == [
        ("cheap", "failed"),
        ("cheap", "failed"),
        ("frontier", "completed"),
    ]
    assert b.routes[0].error == "ModelError: [model_error] the cheap tier is down for b"
    failed = [e for e in events if isinstance(e, TaskFailed)]
    assert [(e.task_id, e.attempt, e.will_retry) for e in failed] == [
        ("b", 1, True),
        ("b", 2, True),
    ]
    assert result.tasks["c"].output == "C from a=A, b=B"


def test_guard_verdicts_come_back_with_the_result(cfg: PodiumConfig) -> None:
    reasked = {"name": "cites_given_sources", "on_fail": "reask"}  # its default is fix
    policies = PodiumConfig.from_mapping(
        {"policies": {"agents": {"researcher": {"validators": [reasked]}}}}
    ).policies
    cfg = cfg.model_copy(update={"policies": policies})
    _, result, events = run(cfg, Model((task("r", "researcher"),), cite_first=frozenset({"r"})))
    r = result.tasks["r"]
    assert result.status == "completed" and r.output == "R"
    assert [v.action for v in r.verdicts] == ["reask", "pass"]
    assert [e.action for e in events if e.kind == "guard_verdict" and e.target == "task"] == [
        "reask",
        "pass",
    ]


def test_a_tool_call_runs_and_its_result_taints_the_output(cfg: PodiumConfig) -> None:
    model = Model((task("n", "cruncher"),), tools={"n": ("calculator", '{"expression": "6 * 7"}')})
    _, result, events = run(cfg, model, agents=[CRUNCHER])
    assert result.status == "completed", result.error
    assert result.tasks["n"].tainted  # a tool result went into the answer's context
    [called] = [e for e in events if e.kind == "tool_called"]
    assert (called.tool, called.decision, called.ok) == ("calculator", "allowed", True)


def test_the_budget_stops_the_work_where_it_runs(cfg: PodiumConfig) -> None:
    limited = cfg.model_copy(update={"budget": cfg.budget.model_copy(update={"max_calls": 4})})
    model = Model((task("loop", "cruncher"),), loop_tool=frozenset({"loop"}))
    _, result, _ = run(limited, model, agents=[CRUNCHER])
    assert result.status == "budget_exceeded"
    assert result.tasks["loop"].status == "skipped"
    assert "calls limit of 4" in (result.error or "")
    assert result.usage.calls == 4  # the plan, then three turns: the fourth is refused


def test_a_sources_tools_are_listed_where_the_attempt_runs(
    cfg: PodiumConfig, executor: str
) -> None:
    model = Model((task("w", "wanderer"),), tools={"w": ("where_am_i", "{}")})
    _, result, _ = run(cfg, model, agents=[WANDERER], tool_sources=[SessionSource()])
    assert result.status == "completed", result.error
    [call] = result.tasks["w"].tool_calls
    assert call.ok and re.fullmatch(r"pid \d+", call.result), call.result
    ran_here = call.result == f"pid {os.getpid()}"
    assert ran_here == (executor == "asyncio")  # on Ray: the worker listed the source itself


def test_a_tool_waiting_for_approval_pauses_and_resumes(cfg: PodiumConfig) -> None:
    args = '{"to": "dana@northwind.example", "subject": "Hello", "body": "Hi Dana"}'
    model = Model((task("send", "outreach"),), tools={"send": ("send_email", args)})
    podium, first, events = run(cfg, model, agents=[OUTREACH])
    assert first.status == "waiting_for_human"
    [esc] = first.escalations
    assert esc.reason == "approval" and "send_email" in esc.question
    assert [e.kind for e in events if e.kind == "escalation"] == ["escalation"]
    outbox = cfg.storage.data_dir / "outbox"
    assert not outbox.exists() or not list(outbox.iterdir())
    done = asyncio.run(podium.aresume(first.run_id, answers={esc.id: "approve"}))
    assert done.status == "completed" and done.answer == "SEND"
    assert len(list(outbox.glob("*.eml"))) == 1


def test_a_killed_worker_is_a_failed_try_and_the_ladder_goes_on(
    cfg: PodiumConfig, executor: str, tmp_path: Path
) -> None:
    if executor != "ray":
        pytest.skip("only the Ray executor has a worker process to lose")
    marker = tmp_path / "crashed"
    arguments = f'{{"marker": "{marker}"}}'
    model = Model((task("k", "cruncher"),), tools={"k": ("crash_once", arguments)})
    _, result, events = run(cfg, model, agents=[CRUNCHER])
    assert marker.exists()  # the first try's worker really died
    k = result.tasks["k"]
    assert result.status == "completed", result.error
    assert [(r.tier, r.outcome) for r in k.routes] == [("cheap", "failed"), ("cheap", "completed")]
    error = k.routes[0].error or ""
    assert error.startswith("WorkerCrashedError") and "Ray worker" in error and "died" in error
    [failed] = [e for e in events if isinstance(e, TaskFailed)]
    assert failed.will_retry and failed.error == error


def test_a_killed_run_resumes_without_rerunning_completed_tasks(
    executor: str, tmp_path: Path
) -> None:
    data, log = tmp_path / "data", tmp_path / "calls.log"
    address = ""
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    if executor == "ray":
        # The killed driver joins the session's cluster: its death must not take Ray down.
        address = pytest.importorskip("ray").get_runtime_context().gcs_address
        env["RAY_AUTH_MODE"] = "token"  # the local cluster was started with token auth
    argv = [sys.executable, str(WORKER), str(data), str(log), "r1", executor, address]
    proc = subprocess.Popen([a for a in argv if a], env=env)
    try:
        wait_for(log, "done d")
        time.sleep(0.5)  # let d's result reach the checkpoint; b is still running
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = log.read_text().splitlines()
    assert "done b" not in before and "start e" not in before

    podium = worker_podium(data, log, executor)
    events: list[RunEvent] = []
    result = asyncio.run(podium.aresume("r1", on_event=events.append))

    assert_resumed_where_it_stopped(result, log.read_text().splitlines()[len(before) :], events)


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from test_memory import ChromaServer

    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    yield server
    server.stop()


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_memory_tools_share_a_chroma_server_across_processes(
    cfg: PodiumConfig, chroma_server: Any
) -> None:
    host, port = chroma_server.address()
    memory = {"enabled": True, "host": host, "port": port, "collection_prefix": "conformance"}
    with_memory = cfg.model_copy(update={"memory": cfg.memory.model_validate(memory)})
    note = '{"text": "Northwind Analytics has 40 staff."}'
    model = Model(
        (task("w", "researcher"), task("r", "researcher", ["w"])),
        tools={
            "w": ("memory_write", note),
            "r": ("memory_search", '{"query": "How many staff does Northwind have?"}'),
        },
        echo=frozenset({"r"}),
    )
    podium, result, _ = run(with_memory, model)
    try:
        assert result.status == "completed", result.error
        # w's note was written where w ran; r, maybe in another process, found it.
        assert "Northwind Analytics has 40 staff." in (result.tasks["r"].output or "")
    finally:
        podium.close()


def wait_for(log: Path, line: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and line in log.read_text().splitlines():
            return
        time.sleep(0.02)
    raise AssertionError(f"{line!r} never appeared in {log}")


# -- Ray-only configuration ------------------------------------------------------------------


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_scripted_model_is_refused_with_a_way_out(config: PodiumConfig, ray_cluster: str) -> None:
    podium = Podium(
        with_run(config, executor="ray"), model=ScriptedModel([plan_reply([task("a", "writer")])])
    )
    with pytest.raises(ConfigError, match="FunctionModel"):
        asyncio.run(podium.arun("scripted"))


@dataclass(frozen=True)
class OpenSource:
    """A source that holds its session in itself: nothing a worker could be sent."""

    name: str = "open"
    session: Any = field(default_factory=threading.Lock)

    def open(self) -> contextlib.AbstractAsyncContextManager[Sequence[Tool]]:
        return contextlib.nullcontext(())


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_source_holding_its_session_is_refused_before_a_run(
    config: PodiumConfig, ray_cluster: str
) -> None:
    podium = Podium(
        with_run(config, executor="ray"),
        model=FunctionModel(Model(())),
        tool_sources=[OpenSource()],
    )
    with pytest.raises(ConfigError, match="tool source 'open' cannot be sent to Ray workers"):
        podium.run("anything")
    assert podium.runs() == []  # refused before a run was recorded


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_the_ray_bench_writes_its_ratios(ray_cluster: str, tmp_path: Path) -> None:
    import json

    from podium.evals.bench.ray_executor import run_ray_bench

    report = run_ray_bench(tmp_path / "ray.json", width=4, task_cpu_s=0.01, workers=2)
    assert json.loads((tmp_path / "ray.json").read_text()) == report
    assert report["tasks"] == 4 and report["speedup"] > 0
    assert {"asyncio_s", "ray_s", "ray_cold_s", "machine", "target_met"} <= set(report)


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_an_unreachable_cluster_is_a_clear_config_error() -> None:
    from podium.runtime.executors._ray import _check_reachable

    with pytest.raises(ConfigError, match="cannot be reached"):
        _check_reachable("127.0.0.1:1")


def test_ray_missing_says_how_to_install_it(
    config: PodiumConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=re.escape('pip install "podium[ray]"')):
        Podium(with_run(config, executor="ray"), model=ScriptedModel([]))


def test_the_executor_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_EXECUTOR", "ray")
    monkeypatch.setenv("PODIUM_RAY_ADDRESS", "head:6379")
    run_config = PodiumConfig.from_mapping({}).run
    assert (run_config.executor, run_config.ray_address) == ("ray", "head:6379")
