"""Podium's policies: run budgets and redaction now; guardrails-ai guards, permissions and injection defence with the policies issue."""

from ._budget import BudgetExceeded, BudgetTracker, Limit
from ._redact import PII_PATTERNS, SECRET_PATTERNS, Redactor, secret_env_values

__all__ = [
    "PII_PATTERNS",
    "SECRET_PATTERNS",
    "BudgetExceeded",
    "BudgetTracker",
    "Limit",
    "Redactor",
    "secret_env_values",
]
