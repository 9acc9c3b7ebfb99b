"""Podium's policies: guardrails-ai output guards, tool permissions, injection defence, redaction,
budgets and the audit trail. The runtime applies them; models never see or bypass them."""

from ._audit import AUDIT_FILE, AuditLog, read_audit
from ._budget import BudgetExceeded, BudgetTracker, Limit
from ._config import (
    DEFAULT_ANSWER_VALIDATORS,
    DEFAULT_PLANNER_VALIDATORS,
    DEFAULT_VALIDATORS,
    AgentPolicy,
    InputPolicy,
    PoliciesConfig,
    ToolPolicy,
)
from ._debris import find_debris
from ._guardrails import quiet_guardrails
from ._guards import (
    PASSING,
    VALIDATOR_NAMES,
    Action,
    GuardConfigError,
    GuardFailure,
    OnFail,
    OutputGuard,
    ValidatorRef,
    Verdict,
    parse_refs,
)
from ._input import INJECTION_PATTERNS, InputFinding, check_goal
from ._permissions import MinuteLimiter, ToolCheck, ToolGate
from ._redact import (
    PII_PATTERNS,
    SECRET_PATTERNS,
    RedactingFilter,
    Redactor,
    redact_logs,
    secret_env_values,
)
from ._taint import Taint

__all__ = [
    "AUDIT_FILE",
    "DEFAULT_ANSWER_VALIDATORS",
    "DEFAULT_PLANNER_VALIDATORS",
    "DEFAULT_VALIDATORS",
    "INJECTION_PATTERNS",
    "PASSING",
    "PII_PATTERNS",
    "SECRET_PATTERNS",
    "VALIDATOR_NAMES",
    "Action",
    "AgentPolicy",
    "AuditLog",
    "BudgetExceeded",
    "BudgetTracker",
    "GuardConfigError",
    "GuardFailure",
    "InputFinding",
    "InputPolicy",
    "Limit",
    "MinuteLimiter",
    "OnFail",
    "OutputGuard",
    "PoliciesConfig",
    "RedactingFilter",
    "Redactor",
    "Taint",
    "ToolCheck",
    "ToolGate",
    "ToolPolicy",
    "ValidatorRef",
    "Verdict",
    "check_goal",
    "find_debris",
    "parse_refs",
    "quiet_guardrails",
    "read_audit",
    "redact_logs",
    "secret_env_values",
]
