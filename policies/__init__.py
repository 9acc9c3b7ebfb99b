"""Podium's policies: run budgets now; guardrails-ai guards, permissions and injection defence with the policies issue."""

from ._budget import BudgetExceeded, BudgetTracker, Limit

__all__ = ["BudgetExceeded", "BudgetTracker", "Limit"]
