"""podium.evals's public names: imported on first use by `lazy_loader.attach_stub`
in __init__.py, and read by type checkers and editors (one list for both)."""

from ._cassette import (
    CASSETTE_MODES as CASSETTE_MODES,
    Cassette as Cassette,
    CassetteError as CassetteError,
    CassetteMiss as CassetteMiss,
    CassetteMode as CassetteMode,
    CassetteModel as CassetteModel,
    Entry as Entry,
    ReplaySpeed as ReplaySpeed,
)
from ._compare import Comparison as Comparison, compare as compare, load_report as load_report
from ._errors import EvalErrorCode as EvalErrorCode
from ._graders import GUARD_NAMES as GUARD_NAMES, Check as Check, grade as grade
from ._record import scenario_from_run as scenario_from_run
from ._runner import (
    EvalOptions as EvalOptions,
    run_scenario_file as run_scenario_file,
    run_suite as run_suite,
)
from ._scenario import (
    Expectations as Expectations,
    Scenario as Scenario,
    ScenarioError as ScenarioError,
    ScenarioKind as ScenarioKind,
    TextCheck as TextCheck,
    Workflow as Workflow,
    load_scenario as load_scenario,
)
