"""podium.runtime's public names: imported on first use by `lazy_loader.attach_stub`
in __init__.py, and read by type checkers and editors (one list for both)."""

from ._api import Podium as Podium
from ._config import (
    AgentsConfig as AgentsConfig,
    BudgetConfig as BudgetConfig,
    Deployment as Deployment,
    ModelsConfig as ModelsConfig,
    PlannerConfig as PlannerConfig,
    PodiumConfig as PodiumConfig,
    RoutingConfig as RoutingConfig,
    RoutingRule as RoutingRule,
    RunConfig as RunConfig,
    ServerConfig as ServerConfig,
    StorageConfig as StorageConfig,
    ToolsConfig as ToolsConfig,
)
from ._errors import (
    AgentError as AgentError,
    AnswerError as AnswerError,
    ConfigError as ConfigError,
    ErrorCode as ErrorCode,
    GoalError as GoalError,
    ModelError as ModelError,
    PlanAttempt as PlanAttempt,
    PlanError as PlanError,
    PlanValidationError as PlanValidationError,
    PodiumError as PodiumError,
    PodiumSignal as PodiumSignal,
    RunNotFoundError as RunNotFoundError,
    RunStateError as RunStateError,
    StorageError as StorageError,
    UnexpectedModelBehavior as UnexpectedModelBehavior,
)
from .engine._escalation import Decision as Decision, HumanAnswer as HumanAnswer
from .engine._events import (
    EscalationAnswered as EscalationAnswered,
    EscalationRaised as EscalationRaised,
    GuardChecked as GuardChecked,
    ModelTurn as ModelTurn,
    PlanCreated as PlanCreated,
    PlanRejected as PlanRejected,
    Replanned as Replanned,
    RunEvent as RunEvent,
    RunFinished as RunFinished,
    RunQueued as RunQueued,
    RunStarted as RunStarted,
    TaskCompleted as TaskCompleted,
    TaskFailed as TaskFailed,
    TaskSkipped as TaskSkipped,
    TaskStarted as TaskStarted,
    ToolCalled as ToolCalled,
)
from .engine._plan import Plan as Plan, Task as Task, Tier as Tier, validate_plan as validate_plan
from .engine._result import (
    Escalation as Escalation,
    FailureKind as FailureKind,
    PlanResult as PlanResult,
    RunErrorKind as RunErrorKind,
    RunResult as RunResult,
    TaskResult as TaskResult,
    TaskStatus as TaskStatus,
)
from .engine._routing import RoutingPolicy as RoutingPolicy, Rung as Rung
from .engine._sinks import EventSink as EventSink
from .engine._status import RunStatus as RunStatus
from .models._model import (
    AssistantMessage as AssistantMessage,
    LiteLLMBackend as LiteLLMBackend,
    ModelBackend as ModelBackend,
    ModelRequest as ModelRequest,
    ModelResponse as ModelResponse,
    ModelSeam as ModelSeam,
    ToolCall as ToolCall,
    serving_window as serving_window,
)
from .models._usage import Usage as Usage
from .server._server import create_app as create_app, serve as serve
from .storage._store import RunRecord as RunRecord, RunStore as RunStore, new_run_id as new_run_id
