"""Podium's policies (guardrails-ai guards, permissions, injection defence, budgets): arrive with the policies issue."""
