"""podium.policies' public names: imported on first use by `lazy_loader.attach_stub`
in __init__.py, and read by type checkers and editors (one list for both)."""

from ._audit import AUDIT_FILE as AUDIT_FILE, AuditLog as AuditLog, read_audit as read_audit
from ._budget import (
    BudgetExceeded as BudgetExceeded,
    BudgetTracker as BudgetTracker,
    Limit as Limit,
)
from ._config import (
    DEFAULT_ANSWER_VALIDATORS as DEFAULT_ANSWER_VALIDATORS,
    DEFAULT_PLANNER_VALIDATORS as DEFAULT_PLANNER_VALIDATORS,
    DEFAULT_VALIDATORS as DEFAULT_VALIDATORS,
    AgentPolicy as AgentPolicy,
    InputPolicy as InputPolicy,
    PoliciesConfig as PoliciesConfig,
    ToolPolicy as ToolPolicy,
)
from ._debris import find_debris as find_debris
from ._guardrails import quiet_guardrails as quiet_guardrails
from ._guards import (
    PASSING as PASSING,
    VALIDATOR_NAMES as VALIDATOR_NAMES,
    Action as Action,
    GuardConfigError as GuardConfigError,
    GuardFailure as GuardFailure,
    OnFail as OnFail,
    OutputGuard as OutputGuard,
    ValidatorRef as ValidatorRef,
    Verdict as Verdict,
    parse_refs as parse_refs,
)
from ._input import (
    INJECTION_PATTERNS as INJECTION_PATTERNS,
    InputFinding as InputFinding,
    check_goal as check_goal,
)
from ._permissions import (
    MinuteLimiter as MinuteLimiter,
    ToolCheck as ToolCheck,
    ToolGate as ToolGate,
)
from ._redact import (
    PII_PATTERNS as PII_PATTERNS,
    SECRET_PATTERNS as SECRET_PATTERNS,
    RedactingFilter as RedactingFilter,
    Redactor as Redactor,
    redact_logs as redact_logs,
    secret_env_values as secret_env_values,
)
from ._taint import Taint as Taint
