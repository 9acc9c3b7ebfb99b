"""Every task inspectable, and a live view that is true: `podium show`, instructions in the plan
tree and the audit, cuts always marked, clocks that tick, queued vs running, clean piped output."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest
from conftest import task
from rich.console import Console

from podium.runtime import ModelTurn, Podium, PodiumConfig, RunEvent, RunRecord, TaskResult
from podium.runtime.cli import _main as cli
from podium.runtime.cli._clip import clip
from podium.runtime.cli._progress import ProgressView
from podium.runtime.engine._events import EscalationRaised, PlanCreated, RunFinished, TaskStarted
from podium.runtime.engine._plan import Plan
from podium.runtime.models._slot import ModelSlot, watching
from podium.runtime.models._usage import Usage
from podium.runtime.testing import ScriptedModel, plan_reply, reply, tool_call

SUPPORT = Path(__file__).parent / "serve_support.py"
LONG_ANSWER = " ".join(f"word{n}" for n in range(600))
PLAN = [
    task("a", "researcher", instruction="Read notes.txt and list the facts about Acme."),
    task("b", "writer", ["a"], instruction="Write a summary of the facts for the board."),
]


def _run(config: PodiumConfig, *, one_at_a_time: bool = False) -> ScriptedModel:
    (config.tools.workspace / "notes.txt").write_text("Acme was founded in 1999.")
    model = ScriptedModel(
        [
            plan_reply(PLAN),
            tool_call("read_file", {"path": "notes.txt"}, task="a"),
            reply("Acme: founded 1999.", task="a"),
            reply(LONG_ANSWER, task="b"),
        ],
        one_at_a_time=one_at_a_time,
    )
    Podium(config, model=model).run("facts about Acme for the board", run_id="shown")
    return model


@pytest.fixture
def stored(config: PodiumConfig, monkeypatch: pytest.MonkeyPatch) -> PodiumConfig:
    """A completed run "shown" in the config's data folder, which the CLI reads."""
    _run(config)
    monkeypatch.setenv("PODIUM_DATA_DIR", str(config.storage.data_dir))
    monkeypatch.chdir(config.tools.workspace)  # no podium.toml here
    monkeypatch.setenv("COLUMNS", "200")  # table cells on one line, to match text across them
    return config


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_show_prints_the_run_in_brief_with_its_cuts_marked(
    stored: PodiumConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _cli(["show", "shown"], capsys)
    assert code == 0
    flat = " ".join(out.split())
    for fragment in ("run shown · completed", "goal: facts about Acme", "researcher", "writer"):
        assert fragment in flat
    assert "Read notes.txt and list" in flat  # each task's instruction
    assert re.search(r"word\d+ … \(\+\d+ chars\)", flat)  # the answer is cut at a word, marked
    assert "word599" not in out
    assert len(out.splitlines()) < 60

    code, whole, _ = _cli(["show", "shown", "--full"], capsys)
    assert code == 0 and "word599" in whole and "… (+" not in whole

    code, machine, _ = _cli(["show", "shown", "--json"], capsys)
    record = RunRecord.model_validate_json(machine)
    assert record.result is not None and record.result.answer == LONG_ANSWER


def test_show_at_80_columns_puts_models_and_instructions_below_the_table(
    stored: PodiumConfig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Piped output is 80 columns wide: no column squeezed to a few letters a line."""
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = _cli(["show", "shown"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if "task" in line and "agent" in line)
    assert "instruction" not in header and "model" not in header
    row = next(line for line in lines if line.startswith("│ a "))
    assert "researcher" in row and "completed" in row  # one line per task
    at = lines.index(next(line for line in lines if line.startswith("a · ")))
    assert lines[at + 1] == "  Read notes.txt and list the facts about Acme."


def test_show_task_prints_everything_about_it(
    stored: PodiumConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _cli(["show", "shown", "a"], capsys)
    assert code == 0
    flat = " ".join(out.split())
    for fragment in (
        "task a [researcher] · completed",
        "Read notes.txt and list the facts about Acme.",  # instruction
        "tiers tried",
        "cheap",
        "model scripted",
        "guard verdicts",
        "pass",
        "tool calls",
        "read_file",
        '{"path": "notes.txt"}',
        "Acme was founded in 1999.",  # what the tool call returned
        "Acme: founded 1999.",  # the output
        "tokens",
    ):
        assert fragment in flat, fragment
    code, out, _ = _cli(["show", "shown", "b"], capsys)
    flat = " ".join(out.split())
    assert "inputs a: Acme: founded 1999." in flat
    assert re.search(r"… \(\+\d+ chars\)", flat)

    code, machine, _ = _cli(["show", "shown", "b", "--json"], capsys)
    assert TaskResult.model_validate_json(machine).output == LONG_ANSWER


def test_show_task_names_every_tier_tried_and_why_a_try_failed(
    config: PodiumConfig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from podium.runtime import ModelError, ModelRequest
    from podium.runtime.testing import FunctionModel

    def answer(request: ModelRequest) -> dict[str, object] | str:
        if request.purpose == "plan":
            return {"tasks": [task("a", "researcher", instruction="Find the facts.")]}
        if request.task_id == "a" and request.tier == "cheap":
            raise ModelError("the cheap model is down")
        return "facts"

    Podium(config, model=FunctionModel(answer)).run("facts", run_id="climb")
    monkeypatch.setenv("PODIUM_DATA_DIR", str(config.storage.data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(config.tools.workspace)
    _, out, _ = _cli(["show", "climb"], capsys)
    assert re.search(r"cheap( → cheap)* → frontier: function", out)
    _, out, _ = _cli(["show", "climb", "a"], capsys)
    assert re.search(r"│ 1\s+│ cheap\s+│ .*│ failed: .*the cheap model is down", out)
    assert re.search(r"│ \d\s+│ frontier .*│ completed", out)


def test_show_names_what_to_fix(stored: PodiumConfig, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["show", "shown", "zz"], capsys)
    assert code == 1
    assert err.strip() == "error: [run_not_found] run 'shown' has no task 'zz': its tasks are a, b"
    code, _, err = _cli(["show", "nope"], capsys)
    assert code == 1 and err.startswith("error: [run_not_found] no run 'nope'")


def test_show_a_run_waiting_for_a_human_shows_its_whole_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from serve_support import podium_for

    data = tmp_path / "data"
    waiting = podium_for(data).run("email Dana", run_id="mail")
    assert waiting.status == "waiting_for_human" and waiting.plan is not None
    monkeypatch.setenv("PODIUM_DATA_DIR", str(data))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    code, out, _ = _cli(["show", "mail"], capsys)
    assert code == 0
    assert re.search(r"send\s+│\s+outreach\s+│\s+waiting\s+│", out)
    assert "Send the drafted email to dana@northwind.example." in out
    # The question as `podium run` showed it (an email as an email) and the commands.
    [escalation] = waiting.escalations
    assert "wants to send this email" in out and "\\n" not in out and '{"to"' not in out
    assert f"podium approve mail {escalation.id} --reject" in out
    code, out, _ = _cli(["show", "mail", "send"], capsys)
    assert "wants to send this email" in out and f"podium approve mail {escalation.id}" in out
    code, out, _ = _cli(["show", "mail", "send", "--json"], capsys)
    assert json.loads(out)["status"] == "waiting_for_human"


def test_runs_at_80_columns_keeps_ids_whole_and_shows_what_was_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from serve_support import podium_for

    from podium.runtime.server._conversation import Turn, goal_with_context

    data = tmp_path / "data"
    podium = podium_for(data)
    podium.run("email Dana", run_id="20261203-000000-aaaaaa")  # waits for a human
    earlier = [Turn(role="user", content="Research A"), Turn(role="assistant", content="A is.")]
    podium.run(goal_with_context("Research A and B", earlier, max_chars=4000), run_id="followup")
    monkeypatch.setenv("PODIUM_DATA_DIR", str(data))
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)
    code, out, _ = _cli(["runs"], capsys)
    assert code == 0
    assert "20261203-000000-aaaaaa" in out and "waiting_for_human" in out  # on one line each
    assert "Earlier turns" not in out  # the folded-in context is the model's, not a title
    assert re.search(r"followup\s+│ completed\s+│ Research A and\s+│ 3/3", out)
    assert re.search(r"aaaaaa │ waiting_for_human │ email Dana\s+│ 1/2 ", out)
    code, out, _ = _cli(["show", "followup"], capsys)
    assert "goal: Research A and B\n" in out and "Earlier turns" not in out


def test_show_a_run_that_failed_in_planning_lists_each_refused_reply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The failure's message counts the problems (their words are the planner's feedback) and
    sends the reader to `podium show`, which lists each refused reply and why."""
    from serve_support import podium_for

    from podium.runtime import PlanError

    data = tmp_path / "data"
    with pytest.raises(PlanError) as failed:
        podium_for(data).run("Something unplannable", run_id="noplan")
    assert "`podium show noplan`" in failed.value.message
    monkeypatch.setenv("PODIUM_DATA_DIR", str(data))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    code, out, _ = _cli(["show", "noplan"], capsys)
    assert code == 0
    assert [line for line in out.splitlines() if line.endswith("refused")] == [
        f"plan reply {n} refused" for n in (1, 2, 3)
    ]
    assert 'reply: {"tasks": []}' in out and "TASK" not in out  # no task to show


def test_show_loads_no_model_graph_or_memory_library(stored: PodiumConfig) -> None:
    code = (
        "import sys; from podium.runtime.cli import main\n"
        "main(['show', 'shown', 'a']); main(['show', 'shown', '--json'])\n"
        "heavy = ('litellm', 'langgraph', 'chromadb', 'llama_cpp', 'guardrails')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_audit_shows_each_task_instruction_and_marks_cuts(
    stored: PodiumConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _cli(["audit", "shown"], capsys)
    assert code == 0
    assert "    a [researcher]: Read notes.txt and list the facts about Acme." in out
    assert "    b [writer] ← a: Write a summary of the facts for the board." in out
    finished = next(line for line in out.splitlines() if "run_finished" in line)
    assert re.search(r"word\d+ … \(\+\d+ chars\)", finished)
    code, out, _ = _cli(["audit", "shown", "--full"], capsys)
    assert "… (+" not in next(line for line in out.splitlines() if "task_completed" in line)


def test_an_audit_trail_written_before_instructions_were_kept_still_reads() -> None:
    old = {
        "at": 0,
        "kind": "plan_created",
        "revision": 0,
        "tasks": [{"id": "a", "agent": "researcher", "inputs": [], "tier": None}],
    }
    assert cli._audit_line(old).splitlines()[1] == "    a [researcher]"


@pytest.mark.parametrize(
    ("text", "limit", "lines", "shown"),
    [
        ("short", 10, None, "short"),
        ("alpha beta gamma delta", 13, None, "alpha beta … (+12 chars)"),
        ("x" * 30, 10, None, "xxxxxxxxxx … (+20 chars)"),  # one long word: cut inside it
        ("one\ntwo\nthree", 100, 2, "one\ntwo … (+6 chars)"),
    ],
)
def test_clip_cuts_at_a_word_and_says_how_much_it_left_out(
    text: str, limit: int, lines: int | None, shown: str
) -> None:
    assert clip(text, limit, lines=lines) == shown


def _drawn(view: ProgressView, panel: object) -> str:
    out = io.StringIO()
    Console(file=out, width=120).print(panel)
    return out.getvalue()


def test_the_panel_clocks_tick_between_events_and_the_tree_shows_instructions() -> None:
    view = ProgressView(started=time.monotonic() - 5)
    panel = view.render()  # built once, as after the last event: planning sends none for seconds
    assert "planning…" in _drawn(view, panel) and "5." in _drawn(view, panel)
    view.started -= 20
    assert "25." in _drawn(view, panel)  # the same panel, drawn later, reads the clock again

    plan = Plan.model_validate({"tasks": PLAN})
    view.emit(PlanCreated(run_id="r", plan=plan, revision=0))
    drawn = _drawn(view, view.render())
    assert "Read notes.txt and list the facts about Acme." in drawn
    assert "Write a summary of the facts for the board." in drawn


def test_a_task_waiting_for_the_model_shows_queued_then_running() -> None:
    view = ProgressView()
    plan = Plan.model_validate({"tasks": PLAN})
    view.emit(PlanCreated(run_id="r", plan=plan, revision=0))
    view.emit(TaskStarted(run_id="r", task_id="a", agent="researcher", tier="cheap", attempt=1))
    assert view.tasks["a"].state == "running"
    view.emit(ModelTurn(run_id="r", task_id="a", agent="researcher", state="waiting"))
    assert view.tasks["a"].state == "queued"
    assert "a [researcher] queued" in _drawn(view, view.render())
    view.emit(ModelTurn(run_id="r", task_id="a", agent="researcher", state="serving"))
    assert view.tasks["a"].state == "running"


def test_the_last_frame_tells_how_each_task_ended() -> None:
    """A task that asks a person reads "waiting" (as `podium show` says), one the run's end
    caught under way "stopped"; never "running" after the run is over."""
    view = ProgressView()
    plan = Plan.model_validate({"tasks": [*PLAN, task("c", "researcher")]})
    view.emit(PlanCreated(run_id="r", plan=plan, revision=0))
    for t in ("a", "c"):
        view.emit(TaskStarted(run_id="r", task_id=t, agent="researcher", tier="cheap", attempt=1))
    view.emit(
        EscalationRaised(
            run_id="r",
            escalation_id="approval-a-1",
            reason="approval",
            task_id="a",
            agent="researcher",
            question="Agent 'researcher' wants to call 'http_post': url: x",
        )
    )
    view.emit(RunFinished(run_id="r", status="waiting_for_human", answer=None, usage=Usage()))
    drawn = _drawn(view, view.render())
    assert "a [researcher] waiting" in drawn and "asks a person (approval-a-1)" in drawn
    assert "c [researcher] stopped" in drawn and "b [writer] pending" in drawn
    assert " running " not in drawn

    unplanned = ProgressView()
    unplanned.emit(
        RunFinished(run_id="r", status="failed", answer=None, usage=Usage(), error="no plan")
    )
    drawn = _drawn(unplanned, unplanned.render())
    assert "no plan" in drawn and "planning…" not in drawn


def test_the_model_slot_tells_only_the_call_that_waits() -> None:
    slot, told = ModelSlot(), []

    async def call(name: str) -> None:
        with watching(lambda held: told.append((name, held))):
            async with slot.ahold():
                await asyncio.sleep(0.05)

    async def both() -> None:
        await asyncio.gather(call("first"), call("second"))

    asyncio.run(both())
    assert told == [("second", False), ("second", True)]


def test_the_embedded_model_reports_a_wait_through_litellm_and_its_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The embedded model's own path (litellm's custom provider, a worker thread, the engine's
    # slot), with llama.cpp replaced by a stand-in that takes a while to answer.
    import litellm

    from podium.runtime.models import _local_model

    class SlowLlama:
        def create_chat_completion(self, **_: object) -> dict[str, object]:
            time.sleep(0.2)
            return {"choices": [{"message": {"content": "ok"}}], "usage": {}}

    engine = object.__new__(_local_model._Engine)
    engine.llama, engine.slot = SlowLlama(), ModelSlot()
    monkeypatch.setattr(_local_model._Engine, "_instance", engine)
    _local_model.ensure_registered()
    told: list[tuple[str, bool]] = []

    async def call(name: str) -> None:
        with watching(lambda held: told.append((name, held))):
            await litellm.acompletion(
                model=f"{_local_model.PROVIDER}/smollm2-135m",
                messages=[{"role": "user", "content": "hi"}],
            )

    async def both() -> None:
        await asyncio.gather(call("first"), call("second"))

    asyncio.run(both())
    assert len(told) == 2 and told[0][0] == told[1][0]  # one call waited: told twice
    assert [held for _, held in told] == [False, True]


def test_a_run_on_a_one_call_at_a_time_model_reports_the_waits(config: PodiumConfig) -> None:
    plan = [task("a", "researcher"), task("b", "researcher"), task("c", "writer", ["a", "b"])]
    model = ScriptedModel(
        [plan_reply(plan), *(reply(f"out {i}", task=i) for i in "abc")],
        latency_s=0.1,
        one_at_a_time=True,
    )
    podium = Podium(config, model=model)
    events: list[RunEvent] = []

    async def follow() -> None:
        async for event in podium.astream("two facts and a summary", run_id="turns"):
            events.append(event)

    asyncio.run(follow())
    turns = [(e.task_id, e.state) for e in events if isinstance(e, ModelTurn)]
    assert len(turns) == 2 and turns[0][1] == "waiting" and turns[1][1] == "serving"
    waited = turns[0][0]
    kinds = [e.kind for e in events if getattr(e, "task_id", None) == waited]
    assert kinds == ["task_started", "model_turn", "model_turn", "task_completed"]
    audit = (config.storage.data_dir / "runs" / "turns" / "audit.jsonl").read_text()
    assert '"model_turn"' not in audit  # the live view's business, not the audit's


def _spawn_cli(data: Path, latency: str, plan_latency: str, *args: str) -> pexpect.spawn:
    env = {**os.environ, "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}
    env["PODIUM_DATA_DIR"] = str(data)
    child = pexpect.spawn(
        sys.executable,
        [str(SUPPORT), "cli", str(data), latency, plan_latency, *args],
        cwd=str(data.parent),
        env=env,
        encoding="utf-8",
        timeout=90,
        dimensions=(40, 120),
        use_poll=True,  # late in a whole suite run the pty's descriptor is past select()'s 1024
    )
    child.logfile_read = open(data.parent / "cli.log", "a", encoding="utf-8")  # noqa: SIM115
    return child


def test_the_live_view_in_a_terminal(tmp_path: Path) -> None:
    # A slow planner, then two researchers served one call at a time, as by the embedded model.
    cli_run = _spawn_cli(tmp_path / "data", "1.0", "3.0", "run", "--run-id", "live", "A and B")
    cli_run.expect(pexpect.EOF)
    cli_run.close()
    assert cli_run.exitstatus == 0
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", (tmp_path / "cli.log").read_text())
    planning = re.findall(r"planning….*?(\d+\.\d)s elapsed", drawn, re.DOTALL)
    assert max(map(float, planning)) >= 1.0  # the clock ticks while the planner thinks
    assert "Find the facts about A." in drawn  # instructions in the tree
    queued = drawn.index("[researcher] queued")  # the researcher whose call waits for the model
    assert "[researcher] running" in drawn[queued:]
    assert "answer" in drawn[queued:]


def test_piped_output_keeps_the_panel_apart_from_the_next_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "PODIUM_DATA_DIR": str(data)}
    command = [sys.executable, str(SUPPORT), "cli", str(data), "0", "0", "run", "unplannable"]
    done = subprocess.run(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert done.returncode == 1
    assert "\x1b[" not in done.stdout  # no cursor movement or colour when not a terminal
    lines = done.stdout.splitlines()
    bottom = next(i for i, line in enumerate(lines) if line.startswith("╰"))
    assert lines[bottom].endswith("╯")
    assert lines[bottom + 1].startswith("error: ")
