"""The evaluation product's error codes; its errors share `podium.runtime.PodiumError` as base.

PodiumError (podium.runtime)
├── ModelError
│   └── CassetteMiss     strict replay has no recording of a call
├── ScenarioError        a scenario or report file is wrong
└── CassetteError        a cassette is missing, corrupt or too old
"""

from __future__ import annotations

from enum import StrEnum


class EvalErrorCode(StrEnum):
    """Stable codes of the evaluation's errors, beside the runtime's `ErrorCode`."""

    SCENARIO = "scenario_invalid"
    CASSETTE = "cassette_invalid"
    REPLAY_MISS = "replay_miss"
    BENCH_INPUT = "bench_input_invalid"
    """A benchmark's input file (goals, workload) is unreadable or malformed."""
