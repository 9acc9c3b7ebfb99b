"""Podium's offline evaluation: scenarios, record/replay cassettes, graders, the suite runner,
comparisons and reports (console, JSON, HTML, timelines).

Benchmarks, peer systems, crash torture and attack suites live apart in `podium.evals.bench`;
the script that authors the bundled scenarios is `scripts/author_scenarios.py`, outside the
package. The `podium eval ...` commands plug into the CLI from `podium.evals.cli` (an entry point
in the `podium.commands` group), so the runtime never imports this package.

May import `podium.runtime` (public names and `podium.runtime.cli` for command plugins), and the
leaf packages' public names; never a private module of another package, nor the bench.
Names are imported on first use (PEP 562): `podium --help` loads the command plugin, not this.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._cassette import (
        CASSETTE_MODES,
        Cassette,
        CassetteError,
        CassetteMiss,
        CassetteMode,
        CassetteModel,
        Entry,
        ReplaySpeed,
    )
    from ._compare import Comparison, compare, load_report
    from ._errors import EvalErrorCode
    from ._graders import GUARD_NAMES, Check, grade
    from ._record import scenario_from_run
    from ._runner import EvalOptions, run_scenario_file, run_suite
    from ._scenario import (
        Expectations,
        Scenario,
        ScenarioError,
        ScenarioKind,
        TextCheck,
        Workflow,
        load_scenario,
    )

_EXPORTS: dict[str, str] = {
    "CASSETTE_MODES": "._cassette",
    "Cassette": "._cassette",
    "CassetteError": "._cassette",
    "CassetteMiss": "._cassette",
    "CassetteMode": "._cassette",
    "CassetteModel": "._cassette",
    "Entry": "._cassette",
    "ReplaySpeed": "._cassette",
    "Comparison": "._compare",
    "compare": "._compare",
    "load_report": "._compare",
    "EvalErrorCode": "._errors",
    "GUARD_NAMES": "._graders",
    "Check": "._graders",
    "grade": "._graders",
    "scenario_from_run": "._record",
    "EvalOptions": "._runner",
    "run_scenario_file": "._runner",
    "run_suite": "._runner",
    "Expectations": "._scenario",
    "Scenario": "._scenario",
    "ScenarioError": "._scenario",
    "ScenarioKind": "._scenario",
    "TextCheck": "._scenario",
    "Workflow": "._scenario",
    "load_scenario": "._scenario",
}

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
    "Entry",
    "EvalErrorCode",
    "EvalOptions",
    "Expectations",
    "ReplaySpeed",
    "Scenario",
    "ScenarioError",
    "ScenarioKind",
    "TextCheck",
    "Workflow",
    "compare",
    "grade",
    "load_report",
    "load_scenario",
    "run_scenario_file",
    "run_suite",
    "scenario_from_run",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
