"""The workloads every system runs in `podium bench peers`: task graphs with latency units."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PeerTask:
    """One task: who does it, what it needs first, and how many model-latency units its call takes."""

    id: str
    agent: str
    inputs: tuple[str, ...] = ()
    units: float = 1.0


@dataclass(frozen=True)
class PeerWorkload:
    name: str
    description: str
    tasks: tuple[PeerTask, ...]

    def plan_json(self) -> dict[str, Any]:
        """The plan a Podium planner would return for this workload."""
        return {
            "tasks": [
                {
                    "id": t.id,
                    "agent": t.agent,
                    "instruction": f"do {t.id}",
                    "inputs": list(t.inputs),
                }
                for t in self.tasks
            ]
        }

    def critical_units(self) -> float:
        """Longest dependency chain, in latency units (no planner call)."""
        finish: dict[str, float] = {}
        for t in self.tasks:  # tasks are listed inputs-first
            finish[t.id] = max((finish[i] for i in t.inputs), default=0.0) + t.units
        return max(finish.values())

    def total_units(self) -> float:
        return sum(t.units for t in self.tasks)


def _t(id: str, agent: str, *inputs: str, units: float = 1.0) -> PeerTask:
    return PeerTask(id, agent, tuple(inputs), units)


def workflows() -> list[PeerWorkload]:
    """The five workflows Podium is built for, in the shapes the tests pin down."""
    return [
        PeerWorkload(
            "sales",
            "enrich → research → score → personalise → outreach",
            (
                _t("enrich", "enricher"),
                _t("research", "researcher", "enrich"),
                _t("score", "analyst", "enrich", "research"),
                _t("personalise", "writer", "research", "score"),
                _t("outreach", "writer", "personalise"),
            ),
        ),
        PeerWorkload(
            "recruiting",
            "source → screen → outreach → schedule",
            (
                _t("source", "sourcer"),
                _t("screen", "screener", "source"),
                _t("outreach", "writer", "screen"),
                _t("schedule", "scheduler", "screen", "outreach"),
            ),
        ),
        PeerWorkload(
            "research",
            "3 parallel gatherers → synthesis",
            (
                _t("g1", "researcher"),
                _t("g2", "researcher"),
                _t("g3", "researcher"),
                _t("synth", "synthesizer", "g1", "g2", "g3"),
            ),
        ),
        PeerWorkload(
            "support",
            "classify → route → escalation note",
            (
                _t("classify", "classifier"),
                _t("route", "router", "classify"),
                _t("escalate", "writer", "route"),
            ),
        ),
        PeerWorkload(
            "compliance",
            "review → 2 parallel policy checks → risk score",
            (
                _t("review", "reviewer"),
                _t("privacy", "reviewer", "review"),
                _t("security", "reviewer", "review"),
                _t("risk", "analyst", "privacy", "security"),
            ),
        ),
    ]


def wide(width: int = 20) -> PeerWorkload:
    gather = tuple(_t(f"g{i}", "researcher") for i in range(1, width + 1))
    return PeerWorkload(
        "wide",
        f"{width} independent tasks → synthesis",
        (*gather, _t("synth", "synthesizer", *(g.id for g in gather))),
    )


def mixed(chain: int = 5, slow_units: float = 6.0) -> PeerWorkload:
    fast = tuple(
        _t(f"f{i}", "enricher", *([f"f{i - 1}"] if i > 1 else [])) for i in range(1, chain + 1)
    )
    return PeerWorkload(
        "mixed",
        f"one slow task ({slow_units:g} units) beside a chain of {chain} fast ones",
        (
            _t("slow", "researcher", units=slow_units),
            *fast,
            _t("join", "writer", "slow", fast[-1].id),
        ),
    )


def layered(layers: int = 10, width: int = 10) -> PeerWorkload:
    """A 100-task graph: each task takes the outputs of two tasks of the layer before."""
    tasks: list[PeerTask] = []
    for layer in range(layers):
        for i in range(width):
            inputs = () if layer == 0 else (f"l{layer - 1}t{i}", f"l{layer - 1}t{(i + 1) % width}")
            tasks.append(_t(f"l{layer}t{i}", "researcher", *inputs))
    return PeerWorkload(
        "graph100", f"{layers * width} tasks in {layers} layers of {width}", tuple(tasks)
    )


def all_workloads() -> list[PeerWorkload]:
    return [*workflows(), wide(), mixed(), layered()]
