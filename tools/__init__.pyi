"""podium.tools' public names: imported on first use by `lazy_loader.attach_stub`
in __init__.py, and read by type checkers and editors (one list for both)."""

from ._choices import (
    GROUNDING_KEY as GROUNDING_KEY,
    MAX_LOOKUPS as MAX_LOOKUPS,
    VARIANTS_KEY as VARIANTS_KEY,
    Choices as Choices,
    ChoicesFn as ChoicesFn,
    for_provider as for_provider,
)
from ._core import (
    JSONValue as JSONValue,
    Tool as Tool,
    ToolContext as ToolContext,
    ToolError as ToolError,
    default_datasets_dir as default_datasets_dir,
    tool as tool,
)
from ._datasets import dataset_choices as dataset_choices
from ._memory import MemoryAccess as MemoryAccess
from ._registry import ToolRegistry as ToolRegistry, builtin_tools as builtin_tools
from ._results import (
    DEFAULT_MAX_RESULT_TOKENS as DEFAULT_MAX_RESULT_TOKENS,
    MIN_RESULT_TOKENS as MIN_RESULT_TOKENS,
    OFFLOAD_LABEL as OFFLOAD_LABEL,
    READ_RESULT as READ_RESULT,
    KeptResult as KeptResult,
    ReadResultArgs as ReadResultArgs,
    ResultStore as ResultStore,
    View as View,
    head as head,
    message_tokens as message_tokens,
    prompt_tokens as prompt_tokens,
    result_bound as result_bound,
    token_bound as token_bound,
)
from ._sources import (
    BuiltinTools as BuiltinTools,
    ToolList as ToolList,
    ToolSource as ToolSource,
    ToolSourceError as ToolSourceError,
    ToolWrapper as ToolWrapper,
    compose_tools as compose_tools,
    open_tools as open_tools,
)
