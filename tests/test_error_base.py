"""One base for every exception Podium raises on purpose (`podium.errors.PodiumError`), each
with a stable code; signals keep their text as models, runs and cassettes have always seen it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import podium.runtime
from podium.errors import PodiumError, PodiumSignal

PACKAGES = ("errors", "runtime", "agents", "tools", "memory", "policies", "evals")
CONTROL_FLOW = {"podium.runtime.executors._ray._ApprovalNeeded"}
"""Private exceptions that carry control inside one function and never leave it."""


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        module = importlib.import_module(f"podium.{package}")
        names.append(module.__name__)
        for info in pkgutil.walk_packages(getattr(module, "__path__", []), f"{module.__name__}."):
            if not info.name.endswith("__main__"):
                names.append(info.name)
    return names


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in _modules():
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == name:
                found[f"{name}.{value.__qualname__}"] = value
    return found


def test_every_podium_exception_shares_one_base_and_has_a_code() -> None:
    classes = _exception_classes()
    assert len(classes) > 20  # the walk found the packages' exceptions, not nothing
    strays = [n for n, c in classes.items() if not issubclass(c, PodiumError)]
    assert sorted(set(strays) - CONTROL_FLOW) == []
    for name, cls in classes.items():
        if name not in CONTROL_FLOW and cls is not PodiumError and cls is not PodiumSignal:
            assert cls.code != PodiumError.code, f"{name} has no code of its own"


def test_the_runtime_exports_the_same_base() -> None:
    assert podium.runtime.PodiumError is PodiumError
    assert podium.runtime.PodiumSignal is PodiumSignal


@pytest.mark.parametrize(
    ("error", "text", "code"),
    [
        (
            podium.runtime.GoalError("the goal is empty"),
            "[goal_invalid] the goal is empty",
            "goal_invalid",
        ),
        (
            importlib.import_module("podium.memory").MemoryLimitError("too big"),
            "[memory_limit] too big",
            "memory_limit",
        ),
        (
            importlib.import_module("podium.tools").ToolError("no such lead"),
            "no such lead",
            "tool_failed",
        ),
        (
            importlib.import_module("podium.policies").BudgetExceeded("tokens", 120, 100),
            "budget exceeded: tokens limit of 100 tokens reached (120 spent); raise "
            "`budget.max_tokens` to allow more",
            "budget_exceeded",
        ),
        (
            podium.runtime.PlanValidationError(["t1: unknown agent"]),
            "t1: unknown agent",
            "plan_rule_broken",
        ),
    ],
)
def test_errors_read_coded_and_signals_read_as_recorded(
    error: PodiumError, text: str, code: str
) -> None:
    assert str(error) == text
    assert error.code == code
    with pytest.raises(PodiumError):
        raise error


def test_value_errors_stay_value_errors() -> None:
    # Callers (pydantic validators among them) catch these as ValueError.
    from podium.agents import AgentRegistryError
    from podium.policies import GuardConfigError

    for cls in (AgentRegistryError, GuardConfigError, podium.runtime.PlanValidationError):
        assert issubclass(cls, ValueError)
