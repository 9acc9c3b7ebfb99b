"""Tool sources: a run lists them when it starts and closes them when it ends; agents get only
the tools their cards name; a clash between sources, or a source that cannot list, is a clear
error. (The Ray executor's side: test_executor_conformance.py, where a worker opens a source.)"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pickle
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import pytest
from conftest import scripted, task
from pydantic import BaseModel

from podium.agents import AgentSpec
from podium.runtime import (
    AgentError,
    ConfigError,
    Podium,
    PodiumConfig,
    RunEvent,
    RunFinished,
)
from podium.runtime.testing import ScriptedModel, reply, tool_call
from podium.tools import (
    READ_RESULT,
    BuiltinTools,
    JSONValue,
    Tool,
    ToolContext,
    ToolList,
    ToolSourceError,
    builtin_tools,
    open_tools,
    tool,
)


class Account(BaseModel):
    account: str


@tool(name="ledger_balance", scopes=("read:ledger",))
async def ledger_balance(args: Account, ctx: ToolContext) -> JSONValue:
    """The balance of an account in the ledger."""
    return {"account": args.account, "balance": 42}


@dataclass
class LedgerSource:
    """A source as an MCP server's will be: its tools are listed only once it is opened (after
    an await), and it stays open, as a session would, until the run closes it."""

    name: str = "ledger"
    tools: tuple[Tool, ...] = (ledger_balance,)
    fail: Exception | None = None
    log: list[str] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[Sequence[Tool]]:
        await asyncio.sleep(0)  # the listing round trip
        if self.fail is not None:
            raise self.fail
        self.log.append("opened")
        try:
            yield self.tools
        finally:
            self.log.append("closed")


CLERK = AgentSpec(
    name="clerk",
    description="Reads the ledger.",
    system_prompt="Use your tools, then answer.",
    tools=("ledger_balance",),
    scopes=("read:ledger",),
)
GOAL = "What does the Acme account hold?"


def offered(model: ScriptedModel, task_id: str) -> list[str]:
    request = next(c for c in model.calls if c.task_id == task_id)
    return [t["function"]["name"] for t in request.tools]


def test_a_sources_tool_is_listed_at_run_start_granted_and_called(config: PodiumConfig) -> None:
    source = LedgerSource()
    model = scripted(
        [task("look", "clerk"), task("say", "analyst", ["look"])],
        {},
        extra=[
            tool_call("ledger_balance", {"account": "acme"}, task="look"),
            reply("Acme holds 42.", task="look"),
            # The analyst's card does not name the tool: asked for anyway, it is refused.
            tool_call("ledger_balance", {"account": "acme"}, task="say"),
            reply("Acme's account holds 42.", task="say"),
        ],
    )
    podium = Podium(config, model=model, agents=[CLERK], tool_sources=[source])
    assert source.log == []  # nothing is opened before a run starts
    result = podium.run(GOAL)
    assert result.status == "completed", result.error
    assert source.log == ["opened", "closed"]  # open for the run, closed when it ended
    (looked,) = result.tasks["look"].tool_calls
    assert (looked.name, looked.ok) == ("ledger_balance", True)
    assert '"balance": 42' in looked.result
    assert offered(model, "look") == ["ledger_balance"]
    assert "ledger_balance" not in offered(model, "say")  # deny by default
    (refused,) = result.tasks["say"].tool_calls
    assert not refused.ok and "ledger_balance" in refused.result
    podium.close()


def test_the_tool_wrapper_wraps_a_sources_tools(config: PodiumConfig) -> None:
    wrapped: list[str] = []

    def wrapper(t: Tool) -> Tool:
        wrapped.append(t.name)
        return t

    model = scripted(
        [task("look", "clerk")],
        {},
        extra=[
            tool_call("ledger_balance", {"account": "acme"}, task="look"),
            reply("Acme holds 42.", task="look"),
        ],
    )
    podium = Podium(
        config, model=model, agents=[CLERK], tool_sources=[LedgerSource()], tool_wrapper=wrapper
    )
    assert podium.run(GOAL).status == "completed"
    # Every tool of the run, the source's as the built-ins (cassettes record them all).
    assert sorted(wrapped) == sorted([*(t.name for t in builtin_tools()), "ledger_balance"])


def test_a_tool_two_sources_offer_is_refused_naming_both(config: PodiumConfig) -> None:
    echo = ToolList("mine", (next(t for t in builtin_tools() if t.name == "calculator"),))
    # Known without opening anything: refused at construction, as a wrong grant is.
    with pytest.raises(ConfigError) as info:
        Podium(config, model=ScriptedModel([]), tool_sources=[echo])
    assert str(info.value) == (
        "[config_invalid] tool sources 'builtin' and 'mine' both offer a tool named "
        "'calculator': rename one of the tools, or leave one source out"
    )
    with pytest.raises(
        ConfigError, match=re.escape("tool sources 'builtin' and 'Podium(tools=...)'")
    ):
        Podium(config, model=ScriptedModel([]), tools=echo.tools)


def test_a_clash_found_at_run_start_fails_the_run(config: PodiumConfig) -> None:
    late = LedgerSource(name="late", tools=(ledger_balance,))
    podium = Podium(config, model=ScriptedModel([]), tool_sources=[LedgerSource(), late])
    events: list[RunEvent] = []
    with pytest.raises(ConfigError, match="tool sources 'ledger' and 'late' both offer"):
        asyncio.run(podium.arun(GOAL, on_event=events.append))
    assert_failed(podium, events, "tool sources 'ledger' and 'late' both offer")


def test_a_source_that_cannot_list_fails_the_run_cleanly(config: PodiumConfig) -> None:
    source = LedgerSource(fail=ConnectionRefusedError("nothing listens on 127.0.0.1:9"))
    model = ScriptedModel([])
    podium = Podium(config, model=model, agents=[CLERK], tool_sources=[source])
    events: list[RunEvent] = []
    with pytest.raises(ConfigError) as info:
        asyncio.run(podium.arun(GOAL, on_event=events.append))
    message = (
        "tool source 'ledger' could not list its tools (ConnectionRefusedError: nothing listens "
        "on 127.0.0.1:9): check that what it connects to is up and configured, or leave it out"
    )
    assert info.value.message == message
    assert_failed(podium, events, message)
    assert model.calls == []  # nothing was planned without the run's tools


def test_grants_are_checked_when_a_source_has_listed(config: PodiumConfig) -> None:
    # A source lists at run start, so an unknown grant can only be found then.
    confused = CLERK.model_copy(update={"name": "confused", "tools": ("ledger_balanse",)})
    podium = Podium(
        config, model=ScriptedModel([]), agents=[confused], tool_sources=[LedgerSource()]
    )
    with pytest.raises(AgentError, match=r"agent 'confused' lists unknown tool\(s\) \['ledger_b"):
        podium.run(GOAL)
    # Without the source, the same card is refused at once.
    with pytest.raises(AgentError, match="unknown tool"):
        Podium(config, model=ScriptedModel([]), agents=[confused])


def assert_failed(podium: Podium, events: list[RunEvent], error: str) -> None:
    (record,) = podium.runs()
    assert record.status == "failed" and error in (record.error or "")
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    assert finished.status == "failed" and error in (finished.error or "")
    podium.close()


# -- the seam itself -------------------------------------------------------------------------


async def test_sources_close_last_opened_first_even_when_a_later_one_fails() -> None:
    first, second = LedgerSource(name="first"), LedgerSource(name="second", tools=())
    broken = LedgerSource(name="broken", fail=TimeoutError("no answer in 5 s"))
    async with open_tools([first, second]) as tools:
        assert tools.names() == ["ledger_balance"]
        assert tools.get("ledger_balance").source == "first"
        assert first.log == second.log == ["opened"]
    assert first.log == second.log == ["opened", "closed"]
    with pytest.raises(ToolSourceError, match=r"'broken' could not list its tools \(Timeout"):
        async with open_tools([LedgerSource(name="early"), broken]):
            pytest.fail("the block must not run without every source's tools")


def test_sources_need_names_of_their_own_and_tools_their_own_names() -> None:
    with pytest.raises(ToolSourceError, match="two tool sources are named 'ledger'"):
        asyncio.run(_open([LedgerSource(tools=()), LedgerSource(tools=())]))
    reader = dataclasses.replace(ledger_balance, name=READ_RESULT)
    with pytest.raises(ToolSourceError, match=f"tool source 'sly': the tool name '{READ_RESULT}'"):
        asyncio.run(_open([ToolList("sly", (reader,))]))


async def _open(sources: Sequence[LedgerSource | ToolList]) -> None:
    async with open_tools(sources):
        pass


def test_the_builtins_travel_as_their_name() -> None:
    # What a Ray worker receives: a description, rebuilt there from Podium's own modules.
    sent = pickle.dumps(BuiltinTools())
    assert len(sent) < 100
    assert pickle.loads(sent) == BuiltinTools()
    assert [t.name for t in pickle.loads(sent).tools] == [t.name for t in builtin_tools()]
