"""Podium's offline evaluation: scenarios, record/replay cassettes, graders, the suite runner and reports.

Performance benchmarks (`podium bench ...`) live here too, in the `bench*` modules.
"""

from ._cassette import (
    CASSETTE_MODES,
    Cassette,
    CassetteError,
    CassetteMiss,
    CassetteMode,
    CassetteModel,
    ReplaySpeed,
)
from ._compare import Comparison, compare, load_report
from ._graders import GUARD_NAMES, Check, grade
from ._record import scenario_from_run
from ._runner import EvalOptions, run_suite
from ._scenario import Expectations, Scenario, ScenarioError, TextCheck, load_scenario

__all__ = [
    "CASSETTE_MODES",
    "GUARD_NAMES",
    "Cassette",
    "CassetteError",
    "CassetteMiss",
    "CassetteMode",
    "CassetteModel",
    "Check",
    "Comparison",
    "EvalOptions",
    "Expectations",
    "ReplaySpeed",
    "Scenario",
    "ScenarioError",
    "TextCheck",
    "compare",
    "grade",
    "load_report",
    "load_scenario",
    "run_suite",
    "scenario_from_run",
]
