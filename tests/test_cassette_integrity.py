"""Cassette integrity: entries are checked against their fingerprints, and a recording is served
only to the call it was made for, whatever its place in the file.

Variants (forged, edited, moved, copied, reordered) are generated from the bundled cassettes."""

from __future__ import annotations

import asyncio
import copy
import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import task

from podium.evals import Cassette, CassetteError, CassetteModel, EvalOptions, scenario_from_run
from podium.evals._cassette import Entry, fingerprint_of
from podium.evals._runner import run_scenario_file
from podium.runtime import ModelError, Podium, PodiumConfig
from podium.runtime.testing import ScriptedModel, fail, plan_reply, reply, tool_call

SUITE = Path(__file__).resolve().parent.parent / "evals" / "scenarios"
BUNDLED = sorted(SUITE.rglob("*.cassette.json"))
SCENARIO_OF = {c: c.with_name(c.name.replace(".cassette.json", ".yaml")) for c in BUNDLED}


def entries_of(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text())["entries"])


def write_variant(tmp: Path, cassette: Path, entries: list[dict[str, Any]]) -> Path:
    """A copy of a bundled scenario whose cassette holds `entries`; returns the scenario path."""
    scenario = SCENARIO_OF[cassette]
    folder = tmp / scenario.parent.name
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(scenario, folder / scenario.name)
    data = json.loads(cassette.read_text())
    data["entries"] = entries
    (folder / cassette.name).write_text(json.dumps(data))
    return folder / scenario.name


def load_error(path: Path) -> str:
    with pytest.raises(CassetteError) as caught:
        Cassette.load(path)
    return str(caught.value)


def same_kind_pairs(
    entries: list[dict[str, Any]], rng: random.Random, n: int
) -> list[tuple[int, int]]:
    pairs = [
        (i, j)
        for i, a in enumerate(entries)
        for j, b in enumerate(entries)
        if i != j and a["kind"] == b["kind"] and a["fingerprint"] != b["fingerprint"]
    ]
    return rng.sample(pairs, min(n, len(pairs)))


# -- verification on load ----------------------------------------------------------------


@pytest.mark.parametrize("cassette", BUNDLED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_bundled_entry_matches_its_fingerprint(cassette: Path) -> None:
    loaded = Cassette.load(cassette)
    assert loaded.entries
    assert all(fingerprint_of(e.request) == e.fingerprint for e in loaded.entries)


@pytest.mark.parametrize("cassette", BUNDLED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_an_entry_claiming_another_calls_fingerprint_is_refused(
    cassette: Path, tmp_path: Path
) -> None:
    rng = random.Random(cassette.name + cassette.parent.name)
    original = entries_of(cassette)
    for forged, victim in same_kind_pairs(original, rng, 4):
        entries = copy.deepcopy(original)
        entries[forged]["fingerprint"] = entries[victim]["fingerprint"]
        path = write_variant(tmp_path / f"{forged}-{victim}", cassette, entries)
        message = load_error(path.with_name(cassette.name))
        owner = next(
            n for n, e in enumerate(original) if e["fingerprint"] == original[victim]["fingerprint"]
        )
        assert (
            f"entries[{forged}]" in message
            and f"claims the fingerprint of entries[{owner}]" in message
        )
        assert "differs at" in message and str(cassette.name) in message
        assert "\n" not in message and "Traceback" not in message


def _edit_request(entry: dict[str, Any], rng: random.Random) -> str:
    """Change one fingerprinted field of the stored request; return a word for the change."""
    request = entry["request"]
    if entry["kind"] == "tool":
        request["arguments"] = {**request["arguments"], rng.choice(["limit", "Limit", "x"]): 7}
        return "arguments"
    choice = rng.choice(["content", "case", "spacing", "target", "drop"])
    messages = request["messages"]
    if choice == "target":
        request["target"] = "frontier" if request["target"] != "frontier" else "cheap"
    elif choice == "drop" and len(messages) > 1:
        messages.pop()
    else:
        text = messages[-1].get("content") or "x"
        messages[-1]["content"] = {
            "content": text + " and also the payroll table",
            "case": text.swapcase(),
            "spacing": "  " + text.replace(" ", "\t  ", 1),
        }.get(choice, text + "!")
    return choice


@pytest.mark.parametrize("cassette", BUNDLED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_an_edited_request_is_refused_with_its_index(cassette: Path, tmp_path: Path) -> None:
    rng = random.Random(cassette.parent.name + "edit" + cassette.name)
    original = entries_of(cassette)
    for n in rng.sample(range(len(original)), min(4, len(original))):
        entries = copy.deepcopy(original)
        _edit_request(entries[n], rng)
        path = write_variant(tmp_path / str(n), cassette, entries)
        message = load_error(path.with_name(cassette.name))
        assert f"entries[{n}]" in message
        assert "edited after recording" in message or "claims the fingerprint" in message


def test_an_entry_of_the_wrong_kind_is_refused(tmp_path: Path) -> None:
    cassette = SUITE / "compliance" / "failure.cassette.json"
    original = entries_of(cassette)
    for n, entry in enumerate(original):
        entries = copy.deepcopy(original)
        entries[n]["kind"] = "tool" if entry["kind"] == "model" else "model"
        path = write_variant(tmp_path / str(n), cassette, entries)
        message = load_error(path.with_name(cassette.name))
        assert f"entries[{n}] is a {entries[n]['kind']} entry but its request has" in message


def test_a_forged_cassette_fails_its_scenario_naming_the_scenario(tmp_path: Path) -> None:
    cassette = SUITE / "sales" / "happy_path.cassette.json"
    entries = entries_of(cassette)
    models = [n for n, e in enumerate(entries) if e["kind"] == "model"]
    entries[models[-1]]["fingerprint"] = entries[models[0]]["fingerprint"]
    scenario = write_variant(tmp_path, cassette, entries)
    row = asyncio.run(run_scenario_file(scenario, EvalOptions()))
    assert not row["passed"] and row["status"] == "error"
    assert str(scenario) in row["error"] and f"entries[{models[-1]}]" in row["error"]


def upgraded(cassette: Path, tmp: Path) -> list[dict[str, Any]]:
    """The bundled entries as a recording made now stores them: each with its `repeat`."""
    loaded = Cassette.load(cassette)
    loaded.save(tmp / "upgraded.json")
    entries = entries_of(tmp / "upgraded.json")
    assert all(isinstance(e["repeat"], int) for e in entries)
    return entries


@pytest.mark.parametrize("cassette", BUNDLED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_copied_entry_is_refused(cassette: Path, tmp_path: Path) -> None:
    rng = random.Random(cassette.parent.name + "copy" + cassette.name)
    original = upgraded(cassette, tmp_path)
    for n in rng.sample(range(len(original)), min(3, len(original))):
        entries = copy.deepcopy(original)
        at = rng.randrange(len(entries) + 1)
        entries.insert(at, copy.deepcopy(original[n]))
        path = write_variant(tmp_path / f"{n}-{at}", cassette, entries)
        message = load_error(path.with_name(cassette.name))
        first, second = sorted({at, n if n < at else n + 1})
        assert f"entries[{first}] and entries[{second}] are both recording" in message
        assert "one of them is a copy" in message


def test_repeat_numbers_on_some_recordings_of_a_call_only_are_refused(tmp_path: Path) -> None:
    cassette = SUITE / "research" / "failure.cassette.json"
    entries = upgraded(cassette, tmp_path)
    groups: dict[tuple[str, str], list[int]] = {}
    for n, e in enumerate(entries):
        groups.setdefault((e["fingerprint"], json.dumps(e["request"].get("task_id"))), []).append(n)
    repeated = next(ns for ns in groups.values() if len(ns) > 1)
    entries[repeated[1]].pop("repeat")
    path = write_variant(tmp_path / "mixed", cassette, entries)
    message = load_error(path.with_name(cassette.name))
    assert f"entries[{repeated[1]}]" in message and "has no `repeat`" in message


# -- serving: the call a recording was made for ------------------------------------------


def _tool_entry(task_id: str | None, result: str, repeat: int | None = None) -> Entry:
    request = {"tool": "read_file", "arguments": {"path": "docs/a.md"}}
    return Entry(
        kind="tool",
        fingerprint=fingerprint_of(request),
        request={**request, "task_id": task_id},
        response={"result": result},
        repeat=repeat,
    )


@pytest.mark.parametrize("seed", range(6))
def test_identical_calls_of_two_tasks_each_get_their_own_recording(seed: int) -> None:
    rng = random.Random(seed)
    entries = [
        _tool_entry("privacy", "privacy-1"),
        _tool_entry("security", "security-1"),
        _tool_entry("privacy", "privacy-2"),
        _tool_entry("security", "security-2"),
    ]
    Cassette(entries)  # numbers each call's recordings in this (recorded) order
    rng.shuffle(entries)
    cassette = Cassette(entries)
    asks = ["security", "privacy", "security", "privacy"]
    rng.shuffle(asks)
    request = {"tool": "read_file", "arguments": {"path": "docs/a.md"}}
    got: dict[str, list[str]] = {"privacy": [], "security": []}
    for asker in asks:
        entry = cassette.take("tool", {**request, "task_id": asker})
        assert entry is not None
        got[asker].append(entry.response["result"])
    assert got == {"privacy": ["privacy-1", "privacy-2"], "security": ["security-1", "security-2"]}
    assert cassette.take("tool", {**request, "task_id": "privacy"}) is None
    miss = cassette.miss_message("tool", {**request, "task_id": "legal"})
    assert "recorded only for another call" in miss and "for task " in miss


def served_by_call(
    scenario: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Replay `scenario`; what each call (kind, fingerprint, its labels) was answered with, in
    order. Concurrent tasks finish in varying order, so the run's own event order is not used."""
    answers: dict[str, list[str]] = {}
    real_take = Cassette.take

    def take(self: Cassette, kind: Any, request: Any) -> Entry | None:
        entry = real_take(self, kind, request)
        if entry is not None:
            labels = {k: request.get(k) for k in ("purpose", "task_id", "agent") if k in request}
            key = json.dumps([kind, fingerprint_of(request), labels], sort_keys=True)
            answers.setdefault(key, []).append(json.dumps(entry.response, sort_keys=True))
        return entry

    monkeypatch.setattr(Cassette, "take", take)
    row = asyncio.run(run_scenario_file(scenario, EvalOptions()))
    monkeypatch.setattr(Cassette, "take", real_take)
    return answers, row


REPLAYED = [
    SUITE / "research" / "failure.cassette.json",
    SUITE / "compliance" / "failure.cassette.json",
    SUITE / "compliance" / "happy_path.cassette.json",
]


@pytest.mark.parametrize("cassette", REPLAYED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_moved_and_reordered_entries_answer_every_call_as_the_original(
    cassette: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(str(cassette))
    original, first = served_by_call(SCENARIO_OF[cassette], monkeypatch)
    assert sum(map(len, original.values())) >= 3
    variants: list[list[dict[str, Any]]] = []
    numbered = upgraded(cassette, tmp_path)
    for _ in range(2):  # a recording made now: any order at all
        shuffled = copy.deepcopy(numbered)
        rng.shuffle(shuffled)
        variants.append(shuffled)
    # An older recording (no `repeat`): entries move freely between calls; a call's own
    # recordings keep their order, which is all such a file says about them.
    old = entries_of(cassette)
    keys = [(e["kind"], e["fingerprint"], json.dumps(e["request"].get("task_id"))) for e in old]
    slots = list(range(len(old)))
    rng.shuffle(slots)
    by_call: dict[Any, list[dict[str, Any]]] = {}
    for key, entry in zip(keys, old, strict=True):
        by_call.setdefault(key, []).append(entry)
    order = sorted(range(len(old)), key=lambda n: slots[n])
    variants.append([by_call[keys[n]].pop(0) for n in order])
    variants.append(old[::-1] if len(set(keys)) == len(keys) else numbered[::-1])
    for number, entries in enumerate(variants):
        assert entries != old
        scenario = write_variant(tmp_path / f"v{number}", cassette, entries)
        answers, row = served_by_call(scenario, monkeypatch)
        assert answers == original, f"variant {number}"
        assert (row["passed"], row["status"], row["answer"]) == (
            first["passed"],
            first["status"],
            first["answer"],
        )


# -- scripted recordings: retries in recorded order, honest misses -------------------------


def record(tmp: Path, model: ScriptedModel, goal: str) -> Path:
    config = PodiumConfig.from_mapping(
        {"storage": {"data_dir": str(tmp / "data"), "checkpointer": "memory"}}
    )
    recorder = CassetteModel(Cassette(source="scripted"), "record", model)
    podium = Podium(config, model=recorder, tool_wrapper=recorder.wrap_tool)
    try:
        result = podium.run(goal)
    finally:
        podium.close()  # its memory store's Chroma files: the suite must fit 1,024 open files
    out = tmp / "suite" / "scripted.yaml"
    scenario_from_run(result, recorder.cassette, out)
    return out


def retry_model() -> ScriptedModel:
    return ScriptedModel(
        [
            plan_reply([task("a", "writer")]),
            fail(ModelError("cheap tier failed: provider 'x': RateLimitError"), task="a"),
            reply("second try answer", task="a"),
        ]
    )


@pytest.mark.parametrize("order", ["as-recorded", "reversed", "rotated", "shuffled"])
def test_retries_are_served_in_recorded_order_wherever_they_sit(order: str, tmp_path: Path) -> None:
    path = record(tmp_path, retry_model(), "Write a haiku about ledgers")
    file = path.with_suffix(".cassette.json")
    data = json.loads(file.read_text())
    assert [e["repeat"] for e in data["entries"]].count(1) >= 1  # a retry is recording 1
    entries = data["entries"]
    moved = {
        "as-recorded": entries,
        "reversed": entries[::-1],
        "rotated": entries[1:] + entries[:1],
        "shuffled": random.Random(7).sample(entries, len(entries)),
    }[order]
    file.write_text(json.dumps({**data, "entries": moved}))
    row = asyncio.run(run_scenario_file(path, EvalOptions()))
    assert row["passed"], row["reasons"]
    assert row["answer"] == "second try answer"
    assert [r["outcome"] for r in row["routes"]] == ["failed", "completed"]


def sales_model() -> ScriptedModel:
    plan = [
        task("enrich", "enricher", instruction="Look up Maya Chen in crm_leads"),
        task("write", "writer", ["enrich"], instruction="Draft the email"),
    ]
    return ScriptedModel(
        [
            plan_reply(plan),
            tool_call(
                "query_dataset",
                {"dataset": "crm_leads", "contains": {"name": "Maya"}},
                task="enrich",
            ),
            reply('{"name": "Maya Chen", "title": "VP of Finance"}', task="enrich"),
            reply("Hi Maya, as VP of Finance ...", task="write"),
        ]
    )


@pytest.mark.parametrize("relabel", ["task_id", "agent", "purpose"])
def test_a_recording_moved_to_another_call_is_not_served_and_the_miss_says_so(
    relabel: str, tmp_path: Path
) -> None:
    path = record(tmp_path, sales_model(), "Qualify Maya Chen and draft an email")
    file = path.with_suffix(".cassette.json")
    data = json.loads(file.read_text())
    n, entry = next(
        (n, e) for n, e in enumerate(data["entries"]) if e["request"].get("task_id") == "write"
    )
    entry["request"][relabel] = {"task_id": "enrich", "agent": "enricher", "purpose": "review"}[
        relabel
    ]
    file.write_text(json.dumps(data))
    row = asyncio.run(run_scenario_file(path, EvalOptions()))
    assert not row["passed"]
    miss = row["reasons"][0]
    assert "task_id=write" in miss and f"recorded only for another call, entries[{n}]" in miss
    assert "message" not in miss.split("recorded only")[1].split(";")[0]  # no count blamed


def test_a_miss_after_a_forged_reply_names_the_entry_that_served_it(tmp_path: Path) -> None:
    path = record(tmp_path, sales_model(), "Qualify Maya Chen and draft an email")
    file = path.with_suffix(".cassette.json")
    data = json.loads(file.read_text())
    n = next(
        n
        for n, e in enumerate(data["entries"])
        if e["kind"] == "model" and e["response"].get("tool_calls")
    )
    call = data["entries"][n]["response"]["tool_calls"][0]
    call["arguments"] = json.dumps({"dataset": "crm_leads", "contains": {"name": "Jordan"}})
    file.write_text(json.dumps(data))
    row = asyncio.run(run_scenario_file(path, EvalOptions()))
    assert not row["passed"]
    model_miss = next(
        r for r in row["reasons"] if r.startswith("replay miss: no recording of model")
    )
    assert f"a reply this replay served from entries[{n}]" in model_miss
    assert "(length)" not in model_miss
