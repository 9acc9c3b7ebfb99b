"""Podium's runtime: the supervisor, plans, the model seam, events, checkpoints and the Python API."""

from ._api import Podium
from ._config import (
    AgentsConfig,
    ModelsConfig,
    PlannerConfig,
    PodiumConfig,
    RunConfig,
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
    TaskFailedError,
    UnexpectedModelBehavior,
)
from ._events import (
    PlanCreated,
    PlanRejected,
    Replanned,
    RunEvent,
    RunFinished,
    RunStarted,
    TaskCompleted,
    TaskFailed,
    TaskSkipped,
    TaskStarted,
)
from ._model import AssistantMessage, ModelBackend, ModelRequest, ModelResponse, ModelSeam, ToolCall
from ._plan import Plan, Task, Tier, validate_plan
from ._result import RunResult, RunStatus, TaskResult, TaskStatus
from ._store import RunRecord
from ._usage import Usage

__all__ = [
    "AgentError", "AgentsConfig", "AssistantMessage", "ConfigError", "ErrorCode", "GoalError",
    "ModelBackend", "ModelError", "ModelRequest", "ModelResponse", "ModelSeam", "ModelsConfig",
    "Plan", "PlanAttempt", "PlanCreated", "PlanError", "PlanRejected", "PlanValidationError",
    "PlannerConfig", "Podium", "PodiumConfig", "PodiumError", "Replanned", "RunConfig",
    "RunEvent", "RunFinished", "RunNotFoundError", "RunRecord", "RunResult", "RunStarted",
    "RunStateError", "RunStatus", "StorageConfig", "Task", "TaskCompleted", "TaskFailed",
    "TaskFailedError", "TaskResult", "TaskSkipped", "TaskStarted", "TaskStatus", "Tier",
    "ToolCall", "ToolsConfig", "Usage", "UnexpectedModelBehavior", "validate_plan",
]
