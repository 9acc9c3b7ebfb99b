"""Where the agents, the tools and the policies configuration meet: every tool a card grants
exists, every scope a card or `[policies.agents.X]` grants or revokes is one some tool needs,
and every `allow_untrusted_to` entry names a real side-effecting tool and argument.

One home for the check, so `Podium(...)`, each run's start (a tool source may list tools no one
knew of before) and the light `podium agents` listing (which loads no model, LangGraph or
Chroma) all refuse the same typo with the same one-line message.
"""

from __future__ import annotations

from collections.abc import Iterable

from podium.agents import AgentRegistry
from podium.tools import ToolRegistry

from ._config import PodiumConfig
from ._errors import AgentError, ConfigError, did_you_mean


def check_grants(agents: AgentRegistry, tools: ToolRegistry, config: PodiumConfig) -> None:
    """Where the agents and the tools meet: grants name real tools, scopes real scopes, and
    `allow_untrusted_to` real side-effecting tools and arguments (AgentError or ConfigError)."""
    _check_agent_tools(agents, tools)
    _check_scopes(agents, tools, config)
    _check_card_allowances(agents, tools)
    _check_untrusted_allowances(tools, config)


def _check_agent_tools(agents: AgentRegistry, tools: ToolRegistry) -> None:
    for spec in agents.specs():
        unknown = [t for t in spec.tools if t not in tools]
        if unknown:
            raise AgentError(
                f"agent {spec.name!r} lists unknown tool(s) {unknown}: known tools are {tools.names()}"
            )


def _check_scopes(agents: AgentRegistry, tools: ToolRegistry, config: PodiumConfig) -> None:
    """Every scope a card or `[policies.agents.X]` grants or revokes is one some tool needs.

    Checked here, where the agents and the tools first meet: a typo such as "write:emial"
    would otherwise pass and only show as a denial when the tool is called (or, in `revoke`,
    silently leave the real scope granted)."""
    offered = sorted({scope for name in tools.names() for scope in tools.get(name).scopes})

    def unknown(scopes: Iterable[str]) -> list[str]:
        return [
            f"{s!r}{did_you_mean(s, offered)}" for s in dict.fromkeys(scopes) if s not in offered
        ]

    known = f"the tools offer {', '.join(offered) or 'no scopes'}"
    cards = [
        f"agent {spec.name!r} grants unknown scope(s) {', '.join(bad)}"
        for spec in agents.specs()
        if (bad := unknown(spec.scopes))
    ]
    if cards:
        raise AgentError(f"{'; '.join(cards)}: {known}")
    policies = [
        f"[policies.agents.{agent}] {field} names unknown scope(s) {', '.join(bad)}"
        for agent, policy in config.policies.agents.items()
        for field, scopes in (("scopes", policy.scopes), ("revoke", policy.revoke))
        if (bad := unknown(scopes))
    ]
    if policies:
        raise ConfigError(f"{'; '.join(policies)}: {known}")


def _check_card_allowances(agents: AgentRegistry, tools: ToolRegistry) -> None:
    """A card's `allow_untrusted_to` names side-effecting tools that have content arguments:
    one without would open nothing (a card never opens a sink), which reads as a grant."""
    problems = [
        f"agent {spec.name!r} lists {name!r} in allow_untrusted_to, which opens nothing: it "
        "is not a side-effecting tool with content arguments"
        for spec in agents.specs()
        for name in spec.allow_untrusted_to
        if name in tools and not (tools.get(name).side_effects and tools.get(name).content_args)
    ]
    if problems:
        raise AgentError("; ".join(problems))


def _check_untrusted_allowances(tools: ToolRegistry, config: PodiumConfig) -> None:
    """Each `allow_untrusted_to` entry names a side-effecting tool ("send_email"), one of its
    arguments ("send_email.body") or all of them ("send_email.*"): a typo would leave the
    legitimate call blocked, or worse, read as if it opened something it does not."""
    effectful = {n: tools.get(n) for n in tools.names() if tools.get(n).side_effects}
    problems = []
    for agent, policy in config.policies.agents.items():
        for entry in policy.allow_untrusted_to:
            name, _, argument = entry.partition(".")
            if name not in effectful:
                problems.append(
                    f"[policies.agents.{agent}] allow_untrusted_to names {entry!r}, not a "
                    f"side-effecting tool{did_you_mean(name, effectful)} (they are "
                    f"{', '.join(sorted(effectful)) or 'none'})"
                )
                continue
            arguments = sorted(effectful[name].args_model.model_fields)
            if not argument and not effectful[name].content_args:
                problems.append(
                    f"[policies.agents.{agent}] allow_untrusted_to names {entry!r}, which opens "
                    f"nothing: {name!r} declares no content arguments (every argument is a sink). "
                    f"Name the argument ('{name}.<argument>', one of {', '.join(arguments)}) or "
                    f"'{name}.*' for all"
                )
                continue
            if argument and argument != "*" and argument not in arguments:
                problems.append(
                    f"[policies.agents.{agent}] allow_untrusted_to names {entry!r}: {name!r} has "
                    f"no argument {argument!r}{did_you_mean(argument, arguments)} (its arguments "
                    f"are {', '.join(arguments)}, or '*' for all)"
                )
    if problems:
        raise ConfigError("; ".join(problems))
