"""The agent registry: built-in cards, YAML cards from the user, and agents defined in Python."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from podium.errors import PodiumSignal

from ._spec import AgentSpec

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it (the PyPI wheels are): 12x faster on
the built-in cards, which every `podium agents` and every run reads."""


class AgentRegistryError(PodiumSignal, ValueError):
    """An agent card is malformed, duplicated or unknown; the message says which and why (a
    signal: the runtime reports it as its `AgentError`)."""

    code = "agent_card_invalid"


class AgentRegistry:
    """Agents by name. Later registrations may replace earlier ones only when asked to."""

    def __init__(self, specs: Iterable[AgentSpec] = ()) -> None:
        self._specs: dict[str, AgentSpec] = {}
        for spec in specs:
            self.register(spec)

    @classmethod
    def builtin(cls) -> AgentRegistry:
        """The specialists that ship with Podium (see agents/cards/)."""
        return cls(_builtin_specs())

    def register(self, spec: AgentSpec, *, replace: bool = False) -> None:
        if spec.name in self._specs and not replace:
            raise AgentRegistryError(
                f"agent {spec.name!r} is already registered: pick another name, "
                "or pass replace=True to override it"
            )
        self._specs[spec.name] = spec

    def load(self, path: Path, *, replace: bool = True) -> list[AgentSpec]:
        """Load YAML cards from a file or a folder of `*.yaml` files; user cards override built-ins."""
        files = (
            sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
        )
        if not path.exists():
            raise AgentRegistryError(
                f"agent cards not found at {path}: check the `agents.paths` setting"
            )
        loaded: list[AgentSpec] = []
        for file in files:
            for spec in _parse_cards(file.read_text(encoding="utf-8"), source=str(file)):
                self.register(spec, replace=replace)
                loaded.append(spec)
        return loaded

    def get(self, name: str) -> AgentSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise AgentRegistryError(
                f"unknown agent {name!r}: registered agents are {self.names()}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def names(self) -> list[str]:
        return sorted(self._specs)

    def specs(self) -> list[AgentSpec]:
        return [self._specs[n] for n in self.names()]


@functools.cache
def _builtin_specs() -> tuple[AgentSpec, ...]:
    # Parsed once per process: YAML parsing would otherwise cost every Podium() ~15 ms.
    cards = resources.files("podium.agents.cards")
    specs: list[AgentSpec] = []
    for entry in sorted(cards.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            specs += _parse_cards(entry.read_text(encoding="utf-8"), source=entry.name)
    return tuple(specs)


def _parse_cards(text: str, *, source: str) -> list[AgentSpec]:
    try:
        document: Any = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise AgentRegistryError(f"{source}: not valid YAML: {exc}") from None
    raw_cards = document.get("agents", [document]) if isinstance(document, dict) else document
    if not isinstance(raw_cards, list):
        raise AgentRegistryError(
            f"{source}: expected one agent card or `agents:` with a list of cards"
        )
    specs = []
    for index, raw in enumerate(raw_cards, start=1):
        try:
            specs.append(AgentSpec.model_validate(raw))
        except ValidationError as exc:
            name = raw.get("name", f"#{index}") if isinstance(raw, dict) else f"#{index}"
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'card'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            raise AgentRegistryError(
                f"{source}: agent card {name!r} is invalid: {problems}"
            ) from None
    return specs
