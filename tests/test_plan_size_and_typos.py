"""Big plans, cycles, blank instructions and typos: each refused with a line that says what to fix.

Every case is generated (sizes, orders, cycle lengths, kinds of whitespace, kinds of typo), so the
rule is tested rather than one example of it.
"""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import make, task
from pydantic import BaseModel

from podium.agents import AgentSpec
from podium.runtime import (
    AgentError,
    ConfigError,
    Plan,
    PlanError,
    PlanRejected,
    PlanValidationError,
    Podium,
    PodiumConfig,
    cli,
    validate_plan,
)
from podium.runtime.testing import ScriptedModel, plan_reply, reply
from podium.tools import ToolContext, builtin_tools, tool

AGENTS = ["researcher", "writer"]
ORDERS = ["first-first", "last-first", "shuffled"]


def chain(n: int, order: str, *, seed: int = 0) -> list[dict[str, Any]]:
    """t1 <- t2 <- ... <- tn (each task takes the previous one's output), listed in `order`."""
    tasks = [
        {"id": f"t{i}", "agent": "writer", "instruction": f"s{i}", "inputs": [f"t{i - 1}"]}
        if i > 1
        else {"id": "t1", "agent": "writer", "instruction": "s1", "inputs": []}
        for i in range(1, n + 1)
    ]
    if order == "last-first":
        tasks.reverse()
    elif order == "shuffled":
        random.Random(seed).shuffle(tasks)
    return tasks


def cycle(length: int, *, rotation: int, extra_chain: int = 0) -> list[dict[str, Any]]:
    """c0 -> c1 -> ... -> c(length-1) -> c0, listed from `rotation`, with a chain hanging off it."""
    ids = [f"c{i}" for i in range(length)]
    tasks = [
        {"id": ids[i], "agent": "writer", "instruction": f"s{i}", "inputs": [ids[i - 1]]}
        for i in range(length)
    ]
    tasks = tasks[rotation:] + tasks[:rotation]
    tail = [
        {"id": f"x{k}", "agent": "writer", "instruction": f"x{k}", "inputs": [f"x{k - 1}"]}
        for k in range(1, extra_chain)
    ]
    if extra_chain:
        tail.insert(0, {"id": "x0", "agent": "writer", "instruction": "x0", "inputs": [ids[0]]})
    return tail[::-1] + tasks


def problems_of(data: object, *, max_tasks: int) -> list[str]:
    with pytest.raises(PlanValidationError) as info:
        validate_plan(data, agents=AGENTS, max_tasks=max_tasks)
    return info.value.problems


# -- size first, then an iterative graph search ----------------------------------------------


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("size", [2, 60, 1_200, 5_000])
def test_a_chain_of_any_size_and_order_validates_in_dependency_order(size: int, order: str) -> None:
    plan = validate_plan({"tasks": chain(size, order)}, agents=AGENTS, max_tasks=size)
    assert [t.id for t in plan.topological_order()] == [f"t{i}" for i in range(1, size + 1)]
    assert plan.dependents("t1") == {f"t{i}" for i in range(2, size + 1)}
    assert [t.id for t in plan.sinks()] == [f"t{size}"]
    # A plan built without context (a checkpoint, the plan cache) takes the same iterative path.
    assert Plan.model_validate({"tasks": chain(size, order)}).ids == plan.ids


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(("size", "limit"), [(13, 12), (101, 100), (1_200, 100), (5_000, 1_000)])
def test_an_oversized_plan_is_refused_by_its_size_alone(size: int, limit: int, order: str) -> None:
    tasks = chain(size, order)
    tasks[0] = {**tasks[0], "agent": "astrologer"}  # other faults are not listed over the size
    assert problems_of({"tasks": tasks}, max_tasks=limit) == [
        f"the plan has {size} tasks, over the limit of {limit}: "
        "merge related tasks or raise `max_tasks` in the config"
    ]


def _named_cycle(problems: list[str]) -> list[str]:
    (line,) = [p for p in problems if "form a cycle" in p]
    match = re.fullmatch(r"tasks (.+) form a cycle: .+", line)
    assert match, line
    return match.group(1).split(" -> ")


@pytest.mark.parametrize("extra_chain", [0, 3, 400])
@pytest.mark.parametrize("length", [2, 3, 7, 50, 1_500])
def test_a_cycle_of_any_length_is_named_in_data_flow_order(length: int, extra_chain: int) -> None:
    tasks = cycle(length, rotation=length // 3, extra_chain=extra_chain)
    named = _named_cycle(problems_of({"tasks": tasks}, max_tasks=len(tasks)))
    inputs = {t["id"]: set(t["inputs"]) for t in tasks}
    assert named[0] == named[-1]
    assert sorted(named[:-1]) == sorted(f"c{i}" for i in range(length))  # the whole loop, once
    for upstream, downstream in itertools.pairwise(named):
        assert upstream in inputs[downstream]  # each id feeds the next
    with pytest.raises(ValueError, match="form a cycle"):
        Plan.model_validate({"tasks": tasks})  # no context: still a plain validation error


# -- blank instructions ------------------------------------------------------------------------

INVISIBLE = {
    "space": " ",
    "tab": "\t",
    "newline": "\n",
    "crlf": "\r\n",
    "vertical-tab": "\v",
    "no-break": "\u00a0",
    "em-space": "\u2003",
    "ideographic": "\u3000",
    "line-separator": "\u2028",
    "zero-width": "\u200b",
    "bom": "\ufeff",
}


def _blanks() -> list[Any]:
    rng = random.Random(17)
    cases = [
        pytest.param(ch * n, id=f"{name}x{n}") for name, ch in INVISIBLE.items() for n in (1, 3)
    ]
    for k in range(8):
        mixed = "".join(rng.choice(list(INVISIBLE.values())) for _ in range(rng.randint(2, 9)))
        cases.append(pytest.param(mixed, id=f"mixed-{k}"))
    return cases


@pytest.mark.parametrize("blank", _blanks())
def test_a_blank_instruction_is_refused_naming_the_task(blank: str) -> None:
    tasks = [task("a", "researcher"), task("b", "writer", ["a"], instruction=blank)]
    problems = problems_of({"tasks": tasks}, max_tasks=5)
    assert len(problems) == 1
    assert problems[0].startswith("task 'b' has a blank instruction ")
    assert problems[0].endswith(": say what the agent must do")
    assert repr(blank)[:30] in problems[0]  # the invisible characters, spelled out


@pytest.mark.parametrize("pad", [*INVISIBLE.values(), " \t\u00a0\n"])
def test_an_instruction_with_words_inside_any_padding_is_kept(pad: str) -> None:
    instruction = f"{pad}Summarise the findings{pad}"
    plan = validate_plan(
        {"tasks": [task("a", "writer", instruction=instruction)]}, agents=AGENTS, max_tasks=5
    )
    assert plan.task("a").instruction == instruction


# -- through a run: the planner hears every problem and tries again ----------------------------


def _reject_then_run(config: PodiumConfig, bad: list[dict[str, Any]]) -> tuple[Any, ScriptedModel]:
    model = ScriptedModel(
        [plan_reply(bad), plan_reply([task("a", "writer")]), reply("done", task="a")]
    )
    return make(config, model), model


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        pytest.param(
            chain(1_200, "last-first"),
            "the plan has 1200 tasks, over the limit of 100",
            id="1200-chain",
        ),
        pytest.param(
            chain(150, "shuffled"),
            "the plan has 150 tasks, over the limit of 100",
            id="150-shuffled",
        ),
        pytest.param(cycle(2, rotation=1), "form a cycle", id="cycle-2"),
        pytest.param(cycle(9, rotation=4, extra_chain=5), "form a cycle", id="cycle-9"),
        pytest.param(
            [task("a", "writer", instruction=" \t\n")],
            "task 'a' has a blank instruction",
            id="blank-ws",
        ),
        pytest.param(
            [task("a", "writer", instruction="\u3000\u200b")],
            "task 'a' has a blank instruction",
            id="blank-unicode",
        ),
    ],
)
async def test_the_planner_hears_the_problem_and_the_run_goes_on(
    config: PodiumConfig, bad: list[dict[str, Any]], expected: str
) -> None:
    podium, model = _reject_then_run(config, bad)
    events: list[Any] = []
    result = await podium.arun("write something", on_event=events.append)
    assert result.status == "completed"
    assert expected in model.calls[1].messages[-1]["content"]
    (rejected,) = [e for e in events if isinstance(e, PlanRejected)]
    assert any(expected in p for p in rejected.problems)
    model.assert_complete()


async def test_a_planner_that_keeps_sending_a_huge_chain_fails_the_run_with_plan_error(
    config: PodiumConfig,
) -> None:
    bad = chain(1_200, "last-first")
    model = ScriptedModel([plan_reply(bad) for _ in range(config.planner.attempts)])
    podium = make(config, model)
    with pytest.raises(PlanError, match="no valid plan after 3 attempt") as raised:
        await podium.arun("a very long chain", run_id="huge")
    assert "over the limit of 100" in " ".join(raised.value.attempts[-1].problems)
    assert podium.store.get("huge").status == "failed"


# -- scopes: every one granted or revoked must be one a tool needs -----------------------------

OFFERED = sorted({s for t in builtin_tools() for s in t.scopes})


def _typos(scope: str) -> list[str]:
    """Deletion, transposition, substitution, insertion and case: the usual slips of a hand."""
    mid = len(scope) // 2
    variants = {
        "delete": scope[:mid] + scope[mid + 1 :],
        "swap": scope[: mid - 1] + scope[mid] + scope[mid - 1] + scope[mid + 1 :],
        "substitute": scope[:-1] + ("x" if scope[-1] != "x" else "y"),
        "insert": scope[:mid] + scope[mid] + scope[mid:],
        "case": scope.upper(),
        "spaced": scope.replace(":", ": "),
    }
    return [v for v in variants.values() if v not in OFFERED]


SCOPE_TYPOS = [
    pytest.param(scope, typo, id=f"{scope}->{typo}") for scope in OFFERED for typo in _typos(scope)
]


def _expect_scope_error(exc: Exception, typo: str, scope: str) -> None:
    message = str(exc)
    assert "\n" not in message
    assert f"unknown scope(s) {typo!r} (did you mean {scope!r}" in message
    assert message.endswith(f"the tools offer {', '.join(OFFERED)}")


@pytest.mark.parametrize(("scope", "typo"), SCOPE_TYPOS)
def test_a_misspelled_scope_on_a_card_stops_podium_being_built(
    config: PodiumConfig, scope: str, typo: str
) -> None:
    spec = AgentSpec(name="mailer", description="d", system_prompt="p", scopes=(typo,))
    with pytest.raises(AgentError) as info:
        Podium(config, model=ScriptedModel([]), agents=[spec])
    _expect_scope_error(info.value, typo, scope)
    assert "agent 'mailer'" in str(info.value)


@pytest.mark.parametrize(("scope", "typo"), SCOPE_TYPOS[::3])
def test_a_misspelled_scope_in_a_yaml_card_stops_podium_being_built(
    tmp_path: Path, scope: str, typo: str
) -> None:
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "mailer.yaml").write_text(
        f"name: mailer\ndescription: d\nsystem_prompt: p\nscopes: [{typo!r}]\n", encoding="utf-8"
    )
    config = PodiumConfig.from_mapping(
        {"agents": {"paths": ["cards"]}, "memory": {"enabled": False}}, base_dir=tmp_path
    )
    with pytest.raises(AgentError) as info:
        Podium(config, model=ScriptedModel([]))
    _expect_scope_error(info.value, typo, scope)


@pytest.mark.parametrize("field", ["scopes", "revoke"])
@pytest.mark.parametrize(("scope", "typo"), SCOPE_TYPOS[1::2])
def test_a_misspelled_scope_in_policies_stops_podium_being_built(
    tmp_path: Path, field: str, scope: str, typo: str
) -> None:
    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(tmp_path / "data")},
            "memory": {"enabled": False},
            "policies": {"agents": {"writer": {field: [OFFERED[0], typo]}}},
        }
    )
    with pytest.raises(ConfigError) as info:
        Podium(config, model=ScriptedModel([]))
    _expect_scope_error(info.value, typo, scope)
    assert f"[policies.agents.writer] {field} names" in str(info.value)


class NoArgs(BaseModel):
    pass


@tool(name="ledger_append", scopes=("write:ledger",), side_effects=True)
async def ledger(args: NoArgs, ctx: ToolContext) -> str:
    """Append to the ledger."""
    return "ok"


def test_a_scope_is_known_when_a_tool_offers_it(config: PodiumConfig) -> None:
    spec = AgentSpec(
        name="clerk",
        description="d",
        system_prompt="p",
        tools=("ledger_append",),
        scopes=("write:ledger", *OFFERED),
    )
    podium = Podium(config, model=ScriptedModel([]), agents=[spec], tools=[ledger])
    assert "clerk" in podium.agents
    podium.close()
    with pytest.raises(AgentError, match=r"'write:ledger'.*the tools offer compute"):
        Podium(config, model=ScriptedModel([]), agents=[spec.model_copy(update={"tools": ()})])


# -- config keys: the error names the likeliest key and every key the table takes -------------

KEY_TYPOS = [
    (("planner",), "max_tasks", "max_task"),
    (("planner",), "attempts", "atempts"),
    (("run",), "concurrency", "concurency"),
    (("storage",), "data_dir", "datadir"),
    (("memory",), "enabled", "enabeld"),
    (("policies",), "escalation", "escalaton"),
    (("policies", "input"), "injection", "Injection"),
    (("policies", "agents", "writer"), "scopes", "scops"),
    (("policies", "tools", "send_email"), "approval", "aproval"),
    ((), "planner", "plannr"),
    ((), "policies", "polices"),
]


def _nest(path: tuple[str, ...], leaf: dict[str, Any]) -> dict[str, Any]:
    for part in reversed(path):
        leaf = {part: leaf}
    return leaf


@pytest.mark.parametrize(("path", "key", "typo"), KEY_TYPOS, ids=[t[2] for t in KEY_TYPOS])
def test_an_unknown_config_key_gets_a_did_you_mean(
    path: tuple[str, ...], key: str, typo: str
) -> None:
    value: Any = {} if not path else 1
    with pytest.raises(ConfigError) as info:
        PodiumConfig.from_mapping(_nest(path, {typo: value}), source="podium.toml")
    message = info.value.message
    assert "\n" not in message
    where = ".".join((*path, typo))
    assert message.startswith(f"podium.toml: {where}: unknown key (did you mean {key!r}")
    assert f"{'.'.join(path) or 'the top level'} takes " in message
    assert key in message.split(" takes ", 1)[1].split(", ")


def test_a_deployment_key_typo_is_found_inside_the_list() -> None:
    raw = {"models": {"deployments": [{"tier": "cheap", "model": "m", "api_bse": "http://x"}]}}
    with pytest.raises(
        ConfigError,
        match=r"models\.deployments\.0\.api_bse: unknown key \(did you mean 'api_base'\?\)",
    ):
        PodiumConfig.from_mapping(raw)


def test_a_profile_key_typo_is_one_line_with_a_did_you_mean() -> None:
    config = PodiumConfig.from_mapping(
        {"server": {"profiles": {"fast": {"run": {"concurency": 2}}}}}
    )
    with pytest.raises(ConfigError) as info:
        config.with_profile("fast")
    assert info.value.message == (
        "server.profiles.fast.run: concurency: unknown key (did you mean 'concurrency'?); run takes "
        + ", ".join(sorted(type(config.run).model_fields))
    )


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            "[plannr]\nmax_tasks = 3\n",
            "error: [config_invalid] {path}: plannr: unknown key (did you mean 'planner'?)",
        ),
        (
            '[memory]\nenabled = false\n[policies.agents.writer]\nscopes = ["write:emial"]\n',
            "error: [config_invalid] [policies.agents.writer] scopes names unknown scope(s) 'write:emial' (did you mean 'write:email'?)",
        ),
        (
            '[memory]\nenabled = false\n[policies.agents.analyst]\nrevoke = ["COMPUTE"]\n',
            "error: [config_invalid] [policies.agents.analyst] revoke names unknown scope(s) 'COMPUTE' (did you mean 'compute'?)",
        ),
    ],
    ids=["key", "scope", "revoke-case"],
)
def test_the_cli_shows_a_typo_as_one_line_and_exit_code_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, expected: str
) -> None:
    path = tmp_path / "podium.toml"
    path.write_text(toml + f'[storage]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    assert cli.main(["--config", str(path), "agents"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(expected.format(path=path))
