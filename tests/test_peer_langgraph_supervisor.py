"""The langgraph-supervisor peer: real create_supervisor graphs driven by fake, latency-timed models."""

from __future__ import annotations

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from podium.evals.bench import peer_workloads as pw
from podium.evals.bench.peer_langgraph_supervisor import CallLog, run_langgraph_supervisor
from podium.evals.bench.peer_workloads import PeerTask, PeerWorkload

CHAIN = PeerWorkload(
    "chain3",
    "a → b → c",
    (
        PeerTask("a", "alpha"),
        PeerTask("b", "beta", ("a",), units=2.0),
        PeerTask("c", "alpha", ("b",)),
    ),
)


def agent_calls(log: CallLog) -> list[tuple[str, str | None]]:
    return [call for call in log.calls if call[0] != "supervisor"]


async def test_chain_calls_supervisor_per_hand_off_agent_per_task_and_supervisor_last() -> None:
    log = CallLog()
    run = await run_langgraph_supervisor(CHAIN, 0.0, log=log)

    # 2n+1: the supervisor's turn that hands a task off, the agent's one call answering it (an
    # agent with no tools stops after one reply), and one last supervisor turn with the answer.
    # The hand-off and hand-back messages themselves are made by the package, not by a model.
    assert run.model_calls == 2 * 3 + 1
    assert log.calls == [
        ("supervisor", "a"),
        ("alpha", "a"),
        ("supervisor", "b"),
        ("beta", "b"),
        ("supervisor", "c"),
        ("alpha", "c"),
        ("supervisor", None),
    ]
    assert run.system == "langgraph-supervisor"
    assert run.workload == "chain3"
    assert run.tasks_run == 3
    assert run.expressible
    assert "sequential" in run.note
    assert run.total_tokens > run.model_calls


async def test_supervisor_is_bound_for_sequential_hand_offs() -> None:
    log = CallLog()
    await run_langgraph_supervisor(CHAIN, 0.0, log=log)

    # create_supervisor's default, passed through bind_tools to every supervisor call.
    assert log.parallel_tool_calls is False


async def test_independent_tasks_still_run_one_after_another() -> None:
    workload = next(w for w in pw.workflows() if w.name == "research")  # 3 parallel gatherers
    latency = 0.05

    run = await run_langgraph_supervisor(workload, latency)

    supervisor_turns = len(workload.tasks) + 1
    assert run.makespan_s >= (workload.total_units() + supervisor_turns) * latency
    assert run.makespan_s > workload.critical_units() * latency * 2


async def test_chain_makespan_is_at_least_the_sum_of_its_task_latencies() -> None:
    run = await run_langgraph_supervisor(CHAIN, 0.05)

    assert run.makespan_s >= CHAIN.total_units() * 0.05


@pytest.mark.parametrize("workload", [pw.wide(), pw.mixed(), pw.layered()], ids=lambda w: w.name)
async def test_large_workloads_run_every_task_once_in_workload_order(
    workload: PeerWorkload,
) -> None:
    log = CallLog()
    run = await run_langgraph_supervisor(workload, 0.0, log=log)

    n = len(workload.tasks)
    assert run.model_calls == 2 * n + 1
    assert run.tasks_run == n
    assert agent_calls(log) == [(t.agent, t.id) for t in workload.tasks]


async def test_runs_with_a_checkpointer() -> None:
    run = await run_langgraph_supervisor(CHAIN, 0.0, checkpointer=InMemorySaver())

    assert run.tasks_run == 3
    assert run.model_calls == 7
