"""A run's timeline in *recorded* time: when each step would start and end at the recorded latencies.

A full-speed replay takes milliseconds, so wall-clock times say nothing; the timeline is rebuilt
from the cassette instead. Planning comes first; each task starts when its inputs have finished
and lasts as long as its recorded model and tool calls; a re-plan waits for the tasks before it
(as the supervisor does) and the tasks it added follow it; synthesis comes last. The same
cassette always gives the same timeline, so replay reports are deterministic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from podium.runtime import PlanCreated, Replanned, RunEvent, RunResult

from ._cassette import Cassette

_PLANNING = ("plan", "replan", "review")


def recorded_latency(cassette: Cassette) -> dict[str, float]:
    """Recorded seconds by step: 'plan', 'replan', 'review', 'synthesis', 'judge' or a task id."""
    spans: dict[str, list[float]] = defaultdict(list)
    for entry, request in cassette.served:
        if request is not None:
            key = request.task_id if request.purpose == "task" else request.purpose
        else:
            key = entry.request.get("task_id")
        spans[str(key)].append(entry.latency_s)
    return {k: round(sum(sorted(v)), 6) for k, v in spans.items()}


def judge_cost(cassette: Cassette) -> float:
    """What the scenario's LLM-as-judge graders cost (not part of the run's cost)."""
    spent = [e.usage.cost_usd for e, r in cassette.served if r is not None and r.purpose == "judge"]
    return round(sum(sorted(spent)), 8)


def timeline(
    result: RunResult, cassette: Cassette, events: Sequence[RunEvent] = ()
) -> list[dict[str, Any]]:
    latency = recorded_latency(cassette)
    bars: list[dict[str, Any]] = []
    clock = _bar(bars, "plan", "supervisor", 0.0, latency.get("plan", 0.0), "completed")
    first = next((e.plan for e in events if isinstance(e, PlanCreated) and e.revision == 0), None)
    epochs = [[t.id for t in first.tasks]] if first else [sorted(result.tasks)]
    replans = [e for e in events if isinstance(e, Replanned)]
    epochs += [list(e.added) for e in replans]
    ends: dict[str, float] = {}
    replan_each = (latency.get("replan", 0.0) + latency.get("review", 0.0)) / max(len(replans), 1)
    for number, ids in enumerate(epochs):
        if number:
            clock = _bar(bars, f"replan {number}", "supervisor", clock, replan_each, "completed")
        clock = max([clock] + [_schedule(bars, result, ends, i, clock, latency) for i in ids])
    if not replans and latency.get("review"):
        clock = _bar(bars, "review", "supervisor", clock, latency["review"], "completed")
    if latency.get("synthesis"):
        _bar(bars, "synthesis", "supervisor", clock, latency["synthesis"], "completed")
    return bars


def _schedule(
    bars: list[dict[str, Any]],
    result: RunResult,
    ends: dict[str, float],
    task_id: str,
    earliest: float,
    latency: dict[str, float],
) -> float:
    r = result.tasks.get(task_id)
    if r is None or task_id in ends:
        return ends.get(task_id, earliest)
    start = max([earliest] + [ends.get(i, earliest) for i in r.task.inputs])
    ends[task_id] = _bar(bars, task_id, r.task.agent, start, latency.get(task_id, 0.0), r.status)
    return ends[task_id]


def _bar(
    bars: list[dict[str, Any]], task: str, agent: str, start: float, length: float, status: str
) -> float:
    end = round(start + length, 6)
    bars.append(
        {"task": task, "agent": agent, "start_s": round(start, 6), "end_s": end, "status": status}
    )
    return end


def cost_by_agent(result: RunResult, cassette: Cassette) -> dict[str, float]:
    """The run's USD by agent, with the supervisor's planning and synthesis calls as their own
    rows; it sums to the run's cost (a judge's calls are the evaluation's, reported apart)."""
    costs: dict[str, list[float]] = defaultdict(list)
    for entry, request in cassette.served:
        if request is not None and request.purpose not in ("task", "judge"):
            name = "planner" if request.purpose in _PLANNING else request.purpose
            costs[name].append(entry.usage.cost_usd)
    for agent, usage in result.usage_by_agent().items():
        costs[agent].append(usage.cost_usd)
    # Summed in sorted order: concurrent calls are served in varying order, floats are not associative.
    return {k: round(sum(sorted(v)), 8) for k, v in sorted(costs.items())}
