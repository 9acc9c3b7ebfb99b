"""Shared memory inside runs: context between agents and runs, memory tools, the plan cache."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import task

from podium.memory import MemoryConfig, MemoryStore
from podium.memory.testing import HashEmbedder
from podium.runtime import ConfigError, ModelRequest, Podium, PodiumConfig, RunResult
from podium.runtime.testing import ScriptedModel, Step, plan_reply, reply, tool_call

TENANT_A, TENANT_B = "acme", "globex"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MemoryStore]:
    config = MemoryConfig(path=tmp_path / "memory", plan_cache_threshold=0.5)
    with MemoryStore(config, embedder=HashEmbedder(256)) as opened:
        yield opened


def podium(tmp_path: Path, store: MemoryStore, steps: list[Step]) -> tuple[Podium, ScriptedModel]:
    config = PodiumConfig.from_mapping(
        {"storage": {"data_dir": str(tmp_path / "data"), "checkpointer": "memory"}}
    )
    model = ScriptedModel(steps)
    return Podium(config, model=model, memory=store), model


def prompt_of(model: ScriptedModel, task_id: str) -> str:
    request: ModelRequest = next(c for c in model.calls if c.task_id == task_id)
    return str(request.messages[1]["content"])


def test_upstream_outputs_and_tool_results_reach_later_tasks(
    tmp_path: Path, store: MemoryStore
) -> None:
    plan = [
        task("enrich", "enricher", instruction="Look up the lead Maya Chen in crm_leads"),
        task("noise", "writer", instruction="Write a haiku about lead Maya Chen"),
        task("score", "analyst", ["enrich"], instruction="Score the lead Maya Chen"),
        task("email", "writer", ["score"], instruction="Email the lead Maya Chen"),
    ]
    runtime, model = podium(
        tmp_path,
        store,
        [
            plan_reply(plan),
            tool_call(
                "query_dataset",
                {"dataset": "crm_leads", "contains": {"name": "Maya"}},
                task="enrich",
            ),
            reply("Maya Chen is VP of Finance at Brightforge Analytics.", task="enrich"),
            reply("Lead Maya Chen, autumn leaves fall", task="noise"),
            reply("Lead Maya Chen scores 82/100.", task="score"),
            reply("Hi Maya Chen, ...", task="email"),
            reply("Qualified; email drafted.", purpose="synthesis"),
        ],
    )
    result = runtime.run("Qualify the lead Maya Chen")
    assert result.status == "completed"
    score, email = prompt_of(model, "score"), prompt_of(model, "email")
    # A direct input is in the prompt already, not repeated from memory...
    assert score.count("is VP of Finance at Brightforge") == 1 and "Shared memory" in score
    # ...but the tool's rows reach the next task as untrusted data, with provenance.
    assert "<untrusted-data>\nquery_dataset(" in score and "source tool | UNTRUSTED" in score
    # Two steps down, the enricher's output arrives through memory, without a timestamp.
    assert "] this run | task enrich | agent enricher | source model | trusted" in email
    assert "VP of Finance" in email and " UTC" not in email
    # A task that is not upstream is never visible, whatever finished first.
    assert "autumn leaves" not in score and "autumn leaves" not in email


def test_a_run_remembers_for_the_next_run_of_its_tenant_only(
    tmp_path: Path, store: MemoryStore
) -> None:
    def steps(answer: str) -> list[Step]:
        return [
            plan_reply(
                [task("brief", "researcher", instruction="Brief on Nordlys Energy renewal")]
            ),
            reply(answer, task="brief"),
        ]

    first, _ = podium(tmp_path / "1", store, steps("Nordlys Energy renewed for two years in 2025."))
    first_result = asyncio_run(first.arun("Brief me on Nordlys Energy", tenant=TENANT_A))
    assert first_result.status == "completed"
    again, model = podium(tmp_path / "2", store, steps("ok"))
    asyncio_run(again.arun("Brief me on the Nordlys Energy renewal", tenant=TENANT_A))
    assert "renewed for two years" in prompt_of(model, "brief")
    other, other_model = podium(tmp_path / "3", store, steps("ok"))
    asyncio_run(other.arun("Brief me on the Nordlys Energy renewal", tenant=TENANT_B))
    assert "renewed for two years" not in prompt_of(other_model, "brief")


def test_memory_tools_private_notes_stay_with_their_agent(tmp_path: Path) -> None:
    # No plan cache here: the similar goals below would reuse the first run's plan.
    config = MemoryConfig(path=tmp_path / "memory", plan_cache=False)
    store = MemoryStore(config, embedder=HashEmbedder(256))
    note = "Erik Solberg prefers email over calls"
    runtime, _ = podium(
        tmp_path / "1",
        store,
        [
            plan_reply([task("n", "researcher", instruction="Note contact preferences")]),
            tool_call("memory_write", {"text": note, "private": True}, task="n"),
            reply("noted", task="n"),
        ],
    )
    _add_memory_tools(runtime)
    assert runtime.run("Note Erik's preferences").status == "completed"

    def search_run(agent: str) -> list[Any]:
        probe, _ = podium(
            tmp_path / agent,
            store,
            [
                plan_reply([task("q", agent, instruction="How does Erik like to be contacted?")]),
                tool_call("memory_search", {"query": "Erik contact preference"}, task="q"),
                reply("done", task="q"),
            ],
        )
        _add_memory_tools(probe)
        result = probe.run("Recall Erik's preferences")
        return [u for u in _tool_results(probe, result)]

    assert any(note in r for r in search_run("researcher"))
    assert not any(note in r for r in search_run("writer"))
    store.close()


def test_the_plan_cache_reuses_adapts_and_misses(tmp_path: Path, store: MemoryStore) -> None:
    plan = [
        task("enrich", "enricher", instruction="Look up Maya Chen at Brightforge Analytics"),
        task(
            "email", "writer", ["enrich"], instruction="Email Maya Chen about Brightforge Analytics"
        ),
    ]
    answers = [reply("facts", task="enrich"), reply("email", task="email")]
    first, _ = podium(tmp_path / "1", store, [plan_reply(plan), *answers])
    result = first.run("Qualify the lead Maya Chen at Brightforge Analytics")
    assert result.plan_cache is None

    # Another lead, same request: the cached plan with the names swapped, no planner call.
    reused, model = podium(tmp_path / "2", store, list(answers))
    result = reused.run("Qualify the lead Erik Solberg at Nordlys Energy")
    model.assert_complete()
    assert result.plan_cache is not None and result.plan_cache.mode == "reused"
    assert result.plan_cache.cached_goal == "Qualify the lead Maya Chen at Brightforge Analytics"
    assert result.plan is not None
    assert [t.instruction for t in result.plan.tasks] == [
        "Look up Erik Solberg at Nordlys Energy",
        "Email Erik Solberg about Nordlys Energy",
    ]
    assert not any(c.purpose == "plan" for c in model.calls)

    # Words added: the planner plans, with the cached plan as its template.
    adapted, model = podium(tmp_path / "3", store, [plan_reply(plan), *answers])
    result = adapted.run("Qualify the lead Maya Chen at Brightforge Analytics and book a call")
    assert result.plan_cache is not None and result.plan_cache.mode == "adapted"
    planner = next(c for c in model.calls if c.purpose == "plan")
    assert "A similar goal was planned before" in str(planner.messages[2]["content"])

    # Nothing alike: a plain planner call.
    fresh, model = podium(tmp_path / "4", store, [plan_reply(plan), *answers])
    assert fresh.run("Summarise yesterday's support tickets").plan_cache is None


def test_a_failing_store_is_a_warning_not_a_failed_run(tmp_path: Path, store: MemoryStore) -> None:
    runtime, _ = podium(
        tmp_path, store, [plan_reply([task("a", "writer")]), reply("done", task="a")]
    )
    store.close()
    store._client = None  # type: ignore[assignment]  # every Chroma call now fails
    result = runtime.run("Write something")
    assert result.status == "completed" and result.answer == "done"
    assert result.warnings and result.warnings[0].startswith("memory ")


def test_secrets_are_redacted_before_they_are_remembered(tmp_path: Path) -> None:
    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(tmp_path / "data"), "checkpointer": "memory"},
            "memory": {"embedding": "minilm"},
        }
    )
    store = MemoryStore(config.memory, data_dir=tmp_path / "data", embedder=HashEmbedder(64))
    secret = "sk-proj-" + "Z" * 30
    runtime = Podium(
        config,
        model=ScriptedModel([plan_reply([task("a", "writer")]), reply(f"key {secret}", task="a")]),
    )
    runtime._memory = _redacting(store)
    runtime.run("Leak a key")
    texts = [h.entry.text for h in store.scope().search("key", 10, namespaces={"tenant"})]
    assert texts and all(secret not in t and "[REDACTED:openai_key]" in t for t in texts)
    store.close()


def test_an_embedding_mismatch_is_a_config_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    MemoryStore(MemoryConfig(), data_dir=data, embedder=HashEmbedder(64)).close()
    config = PodiumConfig.from_mapping({"storage": {"data_dir": str(data)}})
    runtime = Podium(config, model=ScriptedModel([]))
    with pytest.raises(ConfigError, match=r"\[memory\].*hash-64"):
        runtime.run("anything")


# -- helpers ------------------------------------------------------------------------------


def asyncio_run(coro: Any) -> RunResult:
    import asyncio

    result: RunResult = asyncio.run(coro)
    return result


def _add_memory_tools(runtime: Podium) -> None:
    for name in ("researcher", "writer"):
        spec = runtime.agents.get(name)
        runtime.agents.register(
            spec.model_copy(
                update={
                    "tools": [*spec.tools, "memory_search", "memory_write"],
                    "scopes": [*spec.scopes, "memory:read", "memory:write"],
                }
            ),
            replace=True,
        )


def _tool_results(runtime: Podium, result: RunResult) -> list[str]:
    model = runtime.model
    assert isinstance(model, ScriptedModel)
    return [
        str(m.get("content"))
        for call in model.calls
        for m in call.messages
        if m.get("role") == "tool"
    ]


def _redacting(store: MemoryStore) -> MemoryStore:
    from podium.policies import Redactor

    store.redact = Redactor(include_env=False).redact
    return store


CACHED_GOAL = "Qualify the lead Maya Chen at Brightforge Analytics and draft a first outreach email"
CACHED_PLAN = [
    task("enrich", "enricher", instruction="Look up Maya Chen at Brightforge Analytics in the CRM"),
    task("email", "writer", ["enrich"], instruction="Draft a first outreach email to Maya Chen"),
]


@pytest.mark.parametrize(
    ("goal", "instructions"),
    [
        (  # case, punctuation and politeness change nothing
            "please qualify the lead Maya Chen at Brightforge Analytics, and draft a first outreach email.",
            [CACHED_PLAN[0]["instruction"], CACHED_PLAN[1]["instruction"]],
        ),
        (  # another lead: names swapped wherever the plan mentions them
            "Qualify the lead Erik Solberg at Nordlys Energy and draft a first outreach email",
            [
                "Look up Erik Solberg at Nordlys Energy in the CRM",
                "Draft a first outreach email to Erik Solberg",
            ],
        ),
        (  # a word added between two it can be placed between
            "Qualify the lead Maya Chen at Brightforge Analytics and draft a short first outreach email",
            [CACHED_PLAN[0]["instruction"], "Draft a short first outreach email to Maya Chen"],
        ),
        (  # an addition at the end hangs on the word before it
            "Qualify the lead Maya Chen at Brightforge Analytics and draft a first outreach email in German",
            [CACHED_PLAN[0]["instruction"], "Draft a first outreach email in German to Maya Chen"],
        ),
        ("Qualify the lead Maya Chen at Brightforge Analytics and book a discovery call", None),
        (
            "Qualify the lead Maya Chen and draft a first outreach email",
            None,
        ),  # dropped, unplaceable
        ("Summarise the support tickets of last week and escalate the urgent ones", None),
    ],
)
def test_trivial_plan_adaptation(goal: str, instructions: list[str] | None) -> None:
    from podium.runtime import Plan
    from podium.runtime.engine._plan_cache import substitute_plan

    plan = Plan.model_validate({"tasks": CACHED_PLAN})
    adapted = substitute_plan(CACHED_GOAL, goal, plan, ["enricher", "writer"], 10)
    if instructions is None:
        assert adapted is None
    else:
        assert adapted is not None and [t.instruction for t in adapted.tasks] == instructions
        assert [t.inputs for t in adapted.tasks] == [t.inputs for t in plan.tasks]


def test_memory_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from podium.runtime.cli import main

    toml = tmp_path / "podium.toml"
    toml.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n')
    config = PodiumConfig.from_toml(toml)
    steps = [
        plan_reply([task("brief", "researcher", instruction="Brief on Nordlys Energy")]),
        reply("Nordlys Energy renewed for two years.", task="brief"),
    ]
    runtime = Podium(config, model=ScriptedModel(steps))  # the packaged MiniLM, as the CLI uses
    result = runtime.run("Brief me on Nordlys Energy")
    runtime.close()
    capsys.readouterr()

    assert main(["--config", str(toml), "memory", "stats"]) == 0
    stats = capsys.readouterr().out
    assert "embedding: all-MiniLM-L6-v2" in stats or "minilm" in stats.lower()
    assert f"run:{result.run_id}: 1 entries" in stats and "plans" in stats

    assert main(["--config", str(toml), "memory", "search", "Nordlys renewal"]) == 0
    found = capsys.readouterr().out
    assert "renewed for two years" in found and "source model" in found

    assert main(["--config", str(toml), "memory", "forget", "--run", result.run_id]) == 0
    assert "forgot" in capsys.readouterr().out
    assert main(["--config", str(toml), "memory", "search", "Nordlys renewal"]) == 0
    assert "nothing found" in capsys.readouterr().out

    toml.write_text(toml.read_text() + "[memory]\nenabled = false\n")
    assert main(["--config", str(toml), "memory", "stats"]) == 1
    assert "shared memory is off" in capsys.readouterr().err


def test_configured_pii_is_redacted_before_it_is_remembered(tmp_path: Path) -> None:
    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(tmp_path / "data"), "checkpointer": "memory"},
            "memory": {"redact_pii": ["email"], "plan_cache": False},
        }
    )
    steps = [
        plan_reply([task("a", "writer")]),
        reply("Write to maya@brightforge.example", task="a"),
    ]
    runtime = Podium(config, model=ScriptedModel(steps))  # opens its own store, as users do
    runtime.run("Write to Maya")
    store = runtime.memory()
    assert store is not None
    texts = [h.entry.text for h in store.scope().search("Write Maya", 10, namespaces={"tenant"})]
    assert texts and all("maya@" not in t and "[REDACTED:email]" in t for t in texts)
    runtime.close()
    with pytest.raises(ConfigError, match="redact_pii"):
        PodiumConfig.from_mapping({"memory": {"redact_pii": ["shoe_size"]}})


def test_memory_budget_is_sized_to_the_smallest_context_window() -> None:
    from podium.runtime._config import Deployment, ModelsConfig
    from podium.runtime.models._model import context_window, memory_budget, memory_min_score

    local = "podium-local/smollm2-135m"
    assert context_window(Deployment(tier="cheap", model=local)) == 4096
    assert context_window(Deployment(tier="cheap", model="openai/gpt-4o-mini")) == 128_000
    assert (
        context_window(Deployment(tier="cheap", model="openai/my-own", context_window=8192)) == 8192
    )
    assert context_window(Deployment(tier="cheap", model="openai/unknown-model-x")) is None
    embedded = ModelsConfig(cheap=local, frontier=local)
    assert memory_budget(embedded, 800, 0.1) == 409  # 10% of 4K, not 800
    hosted = ModelsConfig(cheap="openai/gpt-4o-mini", frontier="openai/gpt-4o")
    assert memory_budget(hosted, 800, 0.1) == 800
    mixed = ModelsConfig(cheap=local, frontier="openai/gpt-4o")
    assert memory_budget(mixed, 800, 0.1) == 409  # a task may run on either
    unknown = ModelsConfig(cheap="openai/unknown-model-x", frontier="openai/unknown-model-x")
    assert memory_budget(unknown, 800, 0.1) == 800
    # A small model copies what it is shown: unrelated entries stay out of its prompts.
    assert memory_min_score(embedded, None) == 0.5
    assert memory_min_score(hosted, None) == 0.0 and memory_min_score(unknown, None) == 0.0
    assert memory_min_score(embedded, 0.2) == 0.2


def test_only_runs_accepted_throughout_are_cached_and_remembered(
    tmp_path: Path, store: MemoryStore
) -> None:
    plan = [task("enrich", "enricher", instruction="Look up Maya Chen at Brightforge Analytics")]
    # The first answer is debris: the guard re-asks, the second is accepted. The run completes
    # with every output accepted in the end, but a refusal on the way: its plan is cached only
    # when each task's final output passed, which it did; the answer passed too.
    steps = [
        plan_reply(plan),
        reply("]}", task="enrich"),
        reply("Maya leads finance.", task="enrich"),
    ]
    first, _ = podium(tmp_path / "1", store, steps)
    assert first.run("Qualify the lead Maya Chen at Brightforge Analytics").accepted_throughout
    assert store.plan_cache("default").lookup("Qualify the lead Maya Chen at Brightforge Analytics")

    # An answer that needed a human's approval: neither the plan nor the answer is kept.
    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(tmp_path / "2")},
            "policies": {"validators": ["no_debris"], "max_reasks": 0},
            "planner": {"max_replans": 0},
        }
    )
    plan2 = [task("t", "analyst", instruction="Count the open tickets for Halcyon Retail")]
    model = ScriptedModel([plan_reply(plan2), reply("{oops", task="t"), reply("{oops", task="t")])
    goal = "Count the open tickets for Halcyon Retail Group"
    waiting = Podium(config, model=model, memory=store).run(goal)
    assert waiting.status == "waiting_for_human", (
        waiting.error,
        [(r.status, r.error) for r in waiting.tasks.values()],
    )
    (escalation,) = waiting.escalations
    assert "no_debris: the output is a broken fragment of JSON" in escalation.question
    # Approved, the same text is the answer: its guard refuses it too, and says why.
    again = asyncio.run(
        Podium(config, model=model, memory=store).aresume(
            waiting.run_id, answers={escalation.id: "approve"}
        )
    )
    (question,) = again.escalations
    assert question.id == "guard-answer"
    assert question.question.startswith("The final answer was refused by its guard (no_debris: ")
    done = asyncio.run(
        Podium(config, model=model, memory=store).aresume(
            waiting.run_id, answers={question.id: "approve"}
        )
    )
    assert done.status == "completed" and not done.accepted_throughout
    match = store.plan_cache("default").lookup(goal)
    assert match is None or match.goal != goal
    remembered = store.scope(tenant="default", run_id="probe").search(goal, 5)
    assert not any(h.entry.text.startswith(f"Goal: {goal}") for h in remembered)
