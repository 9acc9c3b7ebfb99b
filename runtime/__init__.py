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
        RoutingConfig,
        RoutingRule,
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
    from .engine._events import (
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
    from .engine._plan import Plan, Task, Tier, validate_plan
    from .engine._result import (
        Escalation,
        FailureKind,
        PlanResult,
        RunErrorKind,
        RunResult,
        RunStatus,
        TaskResult,
        TaskStatus,
    )
    from .engine._routing import RoutingPolicy, Rung
    from .models._model import (
        AssistantMessage,
        LiteLLMBackend,
        ModelBackend,
        ModelRequest,
        ModelResponse,
        ModelSeam,
        ToolCall,
        serving_window,
    )
    from .models._usage import Usage
    from .server._server import create_app, serve
    from .storage._store import RunRecord, RunStore, new_run_id

_EXPORTS: dict[str, str] = {
    "AgentError": "._errors",
    "AgentsConfig": "._config",
    "AssistantMessage": ".models._model",
    "ConfigError": "._errors",
    "ErrorCode": "._errors",
    "Escalation": ".engine._result",
    "EscalationRaised": ".engine._events",
    "FailureKind": ".engine._result",
    "GuardChecked": ".engine._events",
    "ToolCalled": ".engine._events",
    "GoalError": "._errors",
    "LiteLLMBackend": ".models._model",
    "ModelBackend": ".models._model",
    "ModelError": "._errors",
    "ModelRequest": ".models._model",
    "ModelResponse": ".models._model",
    "ModelSeam": ".models._model",
    "ModelsConfig": "._config",
    "BudgetConfig": "._config",
    "Deployment": "._config",
    "Plan": ".engine._plan",
    "PlanAttempt": "._errors",
    "PlanCreated": ".engine._events",
    "PlanError": "._errors",
    "PlanRejected": ".engine._events",
    "PlanValidationError": "._errors",
    "PlannerConfig": "._config",
    "Podium": "._api",
    "PodiumConfig": "._config",
    "PodiumError": "._errors",
    "Replanned": ".engine._events",
    "RunConfig": "._config",
    "RunEvent": ".engine._events",
    "RunFinished": ".engine._events",
    "RunNotFoundError": "._errors",
    "RunRecord": ".storage._store",
    "RunStore": ".storage._store",
    "RunErrorKind": ".engine._result",
    "RunResult": ".engine._result",
    "PlanResult": ".engine._result",
    "RoutingConfig": "._config",
    "RoutingPolicy": ".engine._routing",
    "RoutingRule": "._config",
    "Rung": ".engine._routing",
    "RunQueued": ".engine._events",
    "RunStarted": ".engine._events",
    "RunStateError": "._errors",
    "RunStatus": ".engine._result",
    "StorageConfig": "._config",
    "StorageError": "._errors",
    "Task": ".engine._plan",
    "TaskCompleted": ".engine._events",
    "TaskFailed": ".engine._events",
    "TaskResult": ".engine._result",
    "TaskSkipped": ".engine._events",
    "TaskStarted": ".engine._events",
    "TaskStatus": ".engine._result",
    "Tier": ".engine._plan",
    "ToolCall": ".models._model",
    "ToolsConfig": "._config",
    "UnexpectedModelBehavior": "._errors",
    "Usage": ".models._usage",
    "validate_plan": ".engine._plan",
    "new_run_id": ".storage._store",
    "serving_window": ".models._model",
    "create_app": ".server._server",
    "serve": ".server._server",
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
    "FailureKind",
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
    "RunErrorKind",
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
    "new_run_id",
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
