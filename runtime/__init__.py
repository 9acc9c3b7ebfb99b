"""Podium's runtime: the supervisor, plans, the model seam, events, checkpoints and the Python API.

Names are imported on first use (PEP 562), so `podium --help` does not pay for LangGraph.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# Nothing phones home: litellm fetches its price map from the network at import unless told
# otherwise, and any import of litellm (ours or a user's after importing podium) reads this.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

if TYPE_CHECKING:
    from ._api import Podium
    from ._config import (
        AgentsConfig,
        BudgetConfig,
        Deployment,
        ModelsConfig,
        PlannerConfig,
        PodiumConfig,
        RunConfig,
        ServerConfig,
        StorageConfig,
        ToolsConfig,
    )
    from ._errors import (
        AgentError,
        ConfigError,
        ErrorCode,
        GoalError,
        ModelError,
        PlanAttempt,
        PlanError,
        PlanValidationError,
        PodiumError,
        RunNotFoundError,
        RunStateError,
        StorageError,
        UnexpectedModelBehavior,
    )
    from ._events import (
        EscalationRaised,
        GuardChecked,
        PlanCreated,
        PlanRejected,
        Replanned,
        RunEvent,
        RunFinished,
        RunQueued,
        RunStarted,
        TaskCompleted,
        TaskFailed,
        TaskSkipped,
        TaskStarted,
        ToolCalled,
    )
    from ._model import (
        AssistantMessage,
        LiteLLMBackend,
        ModelBackend,
        ModelRequest,
        ModelResponse,
        ModelSeam,
        ToolCall,
        serving_window,
    )
    from ._plan import Plan, Task, Tier, validate_plan
    from ._result import Escalation, PlanResult, RunResult, RunStatus, TaskResult, TaskStatus
    from ._routing import RoutingConfig, RoutingPolicy, RoutingRule, Rung
    from ._server import create_app, serve
    from ._store import RunRecord, RunStore
    from ._usage import Usage

_EXPORTS: dict[str, str] = {
    "AgentError": "._errors",
    "AgentsConfig": "._config",
    "AssistantMessage": "._model",
    "ConfigError": "._errors",
    "ErrorCode": "._errors",
    "Escalation": "._result",
    "EscalationRaised": "._events",
    "GuardChecked": "._events",
    "ToolCalled": "._events",
    "GoalError": "._errors",
    "LiteLLMBackend": "._model",
    "ModelBackend": "._model",
    "ModelError": "._errors",
    "ModelRequest": "._model",
    "ModelResponse": "._model",
    "ModelSeam": "._model",
    "ModelsConfig": "._config",
    "BudgetConfig": "._config",
    "Deployment": "._config",
    "Plan": "._plan",
    "PlanAttempt": "._errors",
    "PlanCreated": "._events",
    "PlanError": "._errors",
    "PlanRejected": "._events",
    "PlanValidationError": "._errors",
    "PlannerConfig": "._config",
    "Podium": "._api",
    "PodiumConfig": "._config",
    "PodiumError": "._errors",
    "Replanned": "._events",
    "RunConfig": "._config",
    "RunEvent": "._events",
    "RunFinished": "._events",
    "RunNotFoundError": "._errors",
    "RunRecord": "._store",
    "RunStore": "._store",
    "RunResult": "._result",
    "PlanResult": "._result",
    "RoutingConfig": "._routing",
    "RoutingPolicy": "._routing",
    "RoutingRule": "._routing",
    "Rung": "._routing",
    "RunQueued": "._events",
    "RunStarted": "._events",
    "RunStateError": "._errors",
    "RunStatus": "._result",
    "StorageConfig": "._config",
    "StorageError": "._errors",
    "Task": "._plan",
    "TaskCompleted": "._events",
    "TaskFailed": "._events",
    "TaskResult": "._result",
    "TaskSkipped": "._events",
    "TaskStarted": "._events",
    "TaskStatus": "._result",
    "Tier": "._plan",
    "ToolCall": "._model",
    "ToolsConfig": "._config",
    "UnexpectedModelBehavior": "._errors",
    "Usage": "._usage",
    "validate_plan": "._plan",
    "serving_window": "._model",
    "create_app": "._server",
    "serve": "._server",
    "ServerConfig": "._config",
}

__all__ = [
    "AgentError",
    "AgentsConfig",
    "AssistantMessage",
    "BudgetConfig",
    "ConfigError",
    "Deployment",
    "ErrorCode",
    "Escalation",
    "EscalationRaised",
    "GoalError",
    "GuardChecked",
    "LiteLLMBackend",
    "ModelBackend",
    "ModelError",
    "ModelRequest",
    "ModelResponse",
    "ModelSeam",
    "ModelsConfig",
    "Plan",
    "PlanAttempt",
    "PlanCreated",
    "PlanError",
    "PlanRejected",
    "PlanResult",
    "PlanValidationError",
    "PlannerConfig",
    "Podium",
    "PodiumConfig",
    "PodiumError",
    "Replanned",
    "RoutingConfig",
    "RoutingPolicy",
    "RoutingRule",
    "RunConfig",
    "RunEvent",
    "RunFinished",
    "RunNotFoundError",
    "RunQueued",
    "RunRecord",
    "RunResult",
    "RunStarted",
    "RunStateError",
    "RunStatus",
    "RunStore",
    "Rung",
    "ServerConfig",
    "StorageConfig",
    "StorageError",
    "Task",
    "TaskCompleted",
    "TaskFailed",
    "TaskResult",
    "TaskSkipped",
    "TaskStarted",
    "TaskStatus",
    "Tier",
    "ToolCall",
    "ToolCalled",
    "ToolsConfig",
    "UnexpectedModelBehavior",
    "Usage",
    "create_app",
    "serve",
    "serving_window",
    "validate_plan",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
