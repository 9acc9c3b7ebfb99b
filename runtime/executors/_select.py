"""The executor `[run] executor` names, built by the façade for each Podium instance."""

from __future__ import annotations

import importlib.util

from podium.tools import ToolSource, ToolWrapper

from .._config import PodiumConfig
from .._errors import ConfigError
from ..engine._executor import InProcessExecutor, TaskExecutor
from ..models._model import ModelBackend


def make_executor(
    config: PodiumConfig,
    backend: ModelBackend,
    agent_names: tuple[str, ...],
    tool_sources: tuple[ToolSource, ...],
    tool_wrapper: ToolWrapper | None = None,
) -> TaskExecutor:
    """The executor `[run] executor` names; Ray is only imported (and started) for "ray".
    The tool sources and wrapper are for executors in other processes, which list the tools
    again there (in this process, the run hands each attempt its tools)."""
    if config.run.executor == "asyncio":
        return InProcessExecutor()
    if importlib.util.find_spec("ray") is None:
        from ._ray import INSTALL_HINT

        raise ConfigError(
            f'[run] executor = "ray" needs Ray, which is not installed: {INSTALL_HINT}'
        )
    from ._ray import RayExecutor

    return RayExecutor(config, backend, agent_names, tool_sources, tool_wrapper)
