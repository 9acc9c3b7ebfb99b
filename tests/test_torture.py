"""The crash torture at a reduced count (the benchmark runs it at full count): SIGKILL at random
points, resume, and check that nothing ran twice, nothing was lost and the answers match."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.evals.bench.torture import run_torture

ZERO = ("duplicated_tasks", "duplicated_side_effects", "lost_runs", "wrong_answers")


def check(report: dict[str, object], kills: int) -> None:
    assert report["kills"] >= kills  # type: ignore[operator]
    assert {k: report[k] for k in ZERO} == dict.fromkeys(ZERO, 0), report


def test_crash_torture_on_sqlite(tmp_path: Path) -> None:
    check(run_torture(8, backend="sqlite", seed=1, workdir=tmp_path), 8)


def test_crash_torture_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    check(
        run_torture(5, backend="postgres", postgres_url=postgres_url, seed=2, workdir=tmp_path), 5
    )


def test_the_effect_journal_answers_a_finished_call_without_running_it(tmp_path: Path) -> None:
    import asyncio

    from podium.evals.bench.torture_worker import Log, init_ledger, tools
    from podium.runtime.engine._effects import EffectJournal, journaled
    from podium.tools import ToolContext

    ledger = tmp_path / "ledger.sqlite"
    init_ledger(ledger)
    book = next(t for t in tools(Log(tmp_path / "log"), ledger) if t.name == "ledger_append")
    journal = EffectJournal(tmp_path / "effects.jsonl")
    ctx = ToolContext(workspace=tmp_path, run_id="r", task_id="c", idempotency_key="k1")
    first = asyncio.run(journaled(book, journal).invoke({"entry": "x"}, ctx))
    reopened = EffectJournal(tmp_path / "effects.jsonl")  # as a resumed process would
    again = asyncio.run(journaled(book, reopened).invoke({"entry": "x"}, ctx))
    assert first == again and reopened.replayed == 1
    assert (tmp_path / "log").read_text().count("ledger_append") == 1


@pytest.mark.parametrize("torn", [True, False])
def test_a_torn_journal_line_means_run_again(tmp_path: Path, torn: bool) -> None:
    from podium.runtime.engine._effects import EffectJournal

    path = tmp_path / "effects.jsonl"
    path.write_text(
        '{"key": "k", "state": "intent", "tool": "t"}\n' + ('{"key": "k", "st' if torn else "")
    )
    assert EffectJournal(path).done("k") == (False, None)
