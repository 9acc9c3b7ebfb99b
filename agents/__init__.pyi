"""podium.agents's public names: imported on first use by `lazy_loader.attach_stub`
in __init__.py, and read by type checkers and editors (one list for both)."""

from ._json import LenientJSON as LenientJSON, loads_lenient as loads_lenient
from ._loop import (
    CUT_MARK as CUT_MARK,
    PROMPT_LABELS as PROMPT_LABELS,
    UPSTREAM_NOTE as UPSTREAM_NOTE,
    AgentLoopError as AgentLoopError,
    AgentOutput as AgentOutput,
    ChatFn as ChatFn,
    GuardRejected as GuardRejected,
    LoopPolicy as LoopPolicy,
    Message as Message,
    Review as Review,
    ToolChoice as ToolChoice,
    ToolUse as ToolUse,
    mark_cut as mark_cut,
    run_agent as run_agent,
    upstream_block as upstream_block,
)
from ._registry import AgentRegistry as AgentRegistry, AgentRegistryError as AgentRegistryError
from ._spec import AgentSpec as AgentSpec, Tier as Tier
