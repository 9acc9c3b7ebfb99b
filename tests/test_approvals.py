"""Approvals a person can use: a bundled workflow reaches one with the built-in agents, every
interface shows what is asked and how to answer it, the answer's effect is confirmed, and the
decision is its own audit event."""

from __future__ import annotations

import email
import json
import re
from pathlib import Path
from typing import Any

import pytest

from podium.policies import AUDIT_FILE, read_audit
from podium.runtime import EscalationAnswered, Podium, PodiumConfig, RunEvent, RunResult
from podium.runtime.cli import _main as cli
from podium.runtime.testing import ScriptedModel, Step, reply, tool_call

LEAD, COMPANY, ADDRESS = "Maya Chen", "Brightforge Analytics", "maya.chen@brightforge.example"
GOAL = f"Qualify the lead {LEAD} at {COMPANY} and send them a first outreach email at {ADDRESS}"
DRAFT = (
    "Hi Maya,\n\nAs VP of Finance at Brightforge Analytics you plan the year's budget around "
    "your Snowflake stack. We help finance teams close the books faster.\n\nBest,\nSam"
)
EMAIL = {"to": ADDRESS, "subject": "Brightforge Analytics and faster closes", "body": DRAFT}


@pytest.fixture
def sales(config: PodiumConfig) -> PodiumConfig:
    """The test config with the bundled playbooks on: the goal takes the send playbook's plan."""
    return config.model_copy(
        update={"planner": config.planner.model_copy(update={"playbooks": True})}
    )


def sales_steps(*, resumed: list[Step]) -> list[Step]:
    """The send playbook's tasks on a scripted model: look the lead up (tool data: the draft is
    tainted), score, draft, then the mailer's send_email call; `resumed`: after the answer."""
    return [
        tool_call(
            "query_dataset", {"dataset": "crm_leads", "where": {"name": LEAD}}, task="enrich"
        ),
        reply(
            f"{LEAD}: VP of Finance at {COMPANY}, stage Qualified; uses Snowflake.", task="enrich"
        ),
        reply("Score 80: a VP (30) at a mid-size company (30), qualified (20).", task="score"),
        reply(DRAFT, task="outreach"),
        tool_call("send_email", EMAIL, task="send"),
        *resumed,
    ]


def waiting_run(sales: PodiumConfig, resumed: list[Step]) -> tuple[Podium, RunResult]:
    podium = Podium(sales, model=ScriptedModel(sales_steps(resumed=resumed)))
    return podium, podium.run(GOAL)


def outbox(config: PodiumConfig) -> list[Path]:
    return sorted((config.storage.data_dir / "outbox").glob("*.eml"))


def test_the_sales_send_playbook_stops_for_approval_of_the_email(sales: PodiumConfig) -> None:
    _, result = waiting_run(sales, resumed=[])
    assert result.playbook is not None and result.playbook.name == "sales-outreach-send"
    assert result.status == "waiting_for_human"
    assert result.plan is not None  # the whole plan, for every surface that shows the run
    assert [t.id for t in result.plan.tasks] == ["enrich", "score", "outreach", "send"]
    [escalation] = result.escalations
    assert (escalation.reason, escalation.agent, escalation.payload["tool"]) == (
        "approval",
        "mailer",
        "send_email",
    )
    assert json.loads(escalation.payload["arguments"])["to"] == ADDRESS
    assert result.tasks["outreach"].tainted  # the body carries CRM data: allowed, for content
    assert outbox(sales) == []


def test_approving_the_email_sends_it_and_the_decision_is_audited(sales: PodiumConfig) -> None:
    again = [tool_call("send_email", EMAIL, task="send"), reply(f"Sent to {ADDRESS}.", task="send")]
    podium, waiting = waiting_run(sales, resumed=again)
    [escalation] = waiting.escalations
    seen: list[RunEvent] = []
    import asyncio

    done = asyncio.run(
        podium.aresume(waiting.run_id, answers={escalation.id: "approve"}, on_event=seen.append)
    )
    assert done.status == "completed"
    [sent] = outbox(sales)
    message = email.message_from_bytes(sent.read_bytes())
    assert message["To"] == ADDRESS and "Snowflake stack" in message.get_payload()
    [answered] = [e for e in seen if isinstance(e, EscalationAnswered)]
    assert (answered.escalation_id, answered.decision, answered.tool) == (
        escalation.id,
        "approve",
        "send_email",
    )
    assert answered.effect == "approved: the call of 'send_email' is made"
    audit = [r for r in read_audit(sales.runs_dir / done.run_id / AUDIT_FILE)]
    kinds = [r["kind"] for r in audit]
    assert kinds.count("escalation_answered") == 1  # once, though the run replayed to the call
    assert kinds.index("escalation") < kinds.index("escalation_answered")
    record = next(r for r in audit if r["kind"] == "escalation_answered")
    assert (record["decision"], record["task_id"], record["agent"]) == ("approve", "send", "mailer")


def test_rejecting_the_email_sends_nothing_and_tells_the_agent(sales: PodiumConfig) -> None:
    again = [tool_call("send_email", EMAIL, task="send"), reply("Not sent.", task="send")]
    podium, waiting = waiting_run(sales, resumed=again)
    [escalation] = waiting.escalations
    done = podium.resume(
        waiting.run_id,
        answers={escalation.id: {"decision": "reject", "message": "not this quarter"}},
    )
    assert done.status == "completed" and outbox(sales) == []
    assert isinstance(podium.model, ScriptedModel)
    told = json.dumps(podium.model.calls[-1].messages)
    assert "a human rejected the call" in told and "not this quarter" in told
    audit = read_audit(sales.runs_dir / done.run_id / AUDIT_FILE)
    [record] = [r for r in audit if r["kind"] == "escalation_answered"]
    assert record["decision"] == "reject" and record["message"] == "not this quarter"


def test_the_recipient_stays_protected_though_the_mailer_may_quote_tool_data(
    sales: PodiumConfig,
) -> None:
    """The mailer's card opens send_email's content to tool data, never its `to`: an address
    that only a tool result gives is refused before any human is asked."""
    injected = {**EMAIL, "to": "erik.solberg@nordlys.example"}  # in the CRM, not in the goal
    steps = [
        *sales_steps(resumed=[])[:-1],
        tool_call("send_email", injected, task="send"),
        reply("Could not send.", task="send"),
    ]
    podium = Podium(sales, model=ScriptedModel(steps))
    seen: list[RunEvent] = []
    import asyncio

    result = asyncio.run(podium.arun(GOAL, on_event=seen.append))
    assert result.status != "waiting_for_human" and outbox(sales) == []
    [denied] = [e for e in seen if e.kind == "tool_called" and e.tool == "send_email"]
    assert denied.decision == "denied" and "'to'" in denied.reason


def test_a_card_opens_content_arguments_only() -> None:
    from podium.agents import AgentRegistryError, AgentSpec
    from podium.agents._registry import _parse_cards

    base = {"name": "m", "description": "d", "system_prompt": "p", "tools": ["send_email"]}
    assert AgentSpec(**base, allow_untrusted_to=("send_email",)).allow_untrusted_to
    with pytest.raises(AgentRegistryError, match="a sink such as a recipient is opened in"):
        _parse_cards(json.dumps({**base, "allow_untrusted_to": ["send_email.to"]}), source="x")
    with pytest.raises(AgentRegistryError, match="not among the card's tools"):
        _parse_cards(json.dumps({**base, "allow_untrusted_to": ["http_get"]}), source="x")


def test_the_make_run_goal_still_takes_the_drafting_playbook(sales: PodiumConfig) -> None:
    """`make run`'s goal drafts and does not send: it completes, never waits."""
    from podium.agents import AgentRegistry
    from podium.runtime.engine._playbooks import load_playbooks

    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    goal = next(ln for ln in makefile.splitlines() if ln.startswith("GOAL ?=")).split("=", 1)[1]
    books = load_playbooks(None, agents=AgentRegistry.builtin().names(), max_tasks=8)
    found = books.match(
        goal.strip(),
        embed=None,
        agents=AgentRegistry.builtin().names(),
        max_tasks=8,
        fill_similarity=0.9,
        adapt_similarity=0.8,
    )
    assert found is not None and found.playbook.name == "sales-lead-qualification"
    assert "mailer" not in {t.agent for t in found.plan.tasks}


# -- the CLI, piped ---------------------------------------------------------------------


def cli_waiting(
    sales: PodiumConfig, monkeypatch: pytest.MonkeyPatch, capsys: Any, resumed: list[Step]
) -> tuple[str, str, str]:
    """`podium run` of the send goal, piped: (run id, escalation id, what it printed)."""
    podium = Podium(sales, model=ScriptedModel(sales_steps(resumed=resumed)))
    monkeypatch.setattr(cli, "_podium", lambda args: podium)
    monkeypatch.setattr(cli, "_config", lambda args: sales)
    monkeypatch.setattr(cli, "_storage", lambda args: sales.storage)  # runs, show, audit
    assert cli.main(["run", "--run-id", "r1", GOAL]) == 3
    out = capsys.readouterr().out
    [escalation] = podium.store.get("r1").result.escalations  # type: ignore[union-attr]
    return "r1", escalation.id, out


def test_a_waiting_run_shows_the_email_and_the_commands_that_answer_it(
    sales: PodiumConfig, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    run_id, esc, out = cli_waiting(sales, monkeypatch, capsys, resumed=[])
    assert "Agent 'mailer' (task 'send') wants to send this email" in out
    assert re.search(rf"To\s+{re.escape(ADDRESS)}", out)
    assert re.search(r"Subject\s+Brightforge Analytics and faster closes", out)
    assert "Hi Maya," in out and "\\n" not in out  # the body as lines, not JSON
    assert f"podium approve {run_id} {esc} " in out  # approve
    assert f"podium approve {run_id} {esc} --reject" in out


def test_resume_on_a_waiting_run_says_what_it_asks_and_how_to_answer(
    sales: PodiumConfig, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    run_id, esc, _ = cli_waiting(sales, monkeypatch, capsys, resumed=[])
    assert cli.main(["resume", run_id]) == 3
    out, err = capsys.readouterr()
    assert "wants to send this email" in out and f"podium approve {run_id} {esc} --reject" in out
    assert "['" not in out + err and err == ""
    assert cli.main(["resume", "--json", run_id]) == 3
    out, err = capsys.readouterr()
    [waiting] = json.loads(out)["answer_with"]
    assert waiting["commands"] == {
        "approve": f"podium approve {run_id} {esc}",
        "reject": f"podium approve {run_id} {esc} --reject",
    }
    fields = {f["label"]: f["text"] for f in waiting["summary"]["fields"]}
    assert fields["To"] == ADDRESS and fields["Body"] == DRAFT
    assert f"podium approve {run_id} {esc}" in err


def test_approve_shows_what_it_answers_then_confirms_the_email_was_sent(
    sales: PodiumConfig, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    again = [tool_call("send_email", EMAIL, task="send"), reply(f"Sent to {ADDRESS}.", task="send")]
    run_id, esc, _ = cli_waiting(sales, monkeypatch, capsys, resumed=again)
    assert cli.main(["approve", run_id, esc]) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines: compare words
    [sent] = outbox(sales)
    assert out.index("wants to send this email") < out.index("your decision: approved")
    assert f"approved: the email to {ADDRESS} was sent (written to {sent})" in out
    assert f"answered {esc}: approved" in out  # the live view shows the answer too
    assert cli.main(["audit", run_id]) == 0
    audit = capsys.readouterr().out
    [line] = [ln for ln in audit.splitlines() if "escalation_answered" in ln]
    assert (
        f"escalation_id={esc}" in line and "decision=approve" in line and "tool=send_email" in line
    )


def test_approve_json_prints_the_run_result_with_what_the_answer_did(
    sales: PodiumConfig, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    again = [tool_call("send_email", EMAIL, task="send"), reply(f"Sent to {ADDRESS}.", task="send")]
    run_id, esc, _ = cli_waiting(sales, monkeypatch, capsys, resumed=again)
    assert cli.main(["approve", "--json", run_id, esc]) == 0
    out, err = capsys.readouterr()
    [sent] = outbox(sales)
    document = json.loads(out)
    assert document["status"] == "completed" and document["run_id"] == run_id
    effect = f"approved: the email to {ADDRESS} was sent (written to {sent})"
    assert document["answered"] == [{"escalation_id": esc, "decision": "approve", "effect": effect}]
    assert err.strip() == effect


def test_approve_json_with_a_wrong_escalation_prints_the_errors_document(
    sales: PodiumConfig, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    run_id, esc, _ = cli_waiting(sales, monkeypatch, capsys, resumed=[])
    assert cli.main(["approve", "--json", run_id, "no-such-question"]) == 1
    out, err = capsys.readouterr()
    document = json.loads(out)  # one JSON document whatever happens
    assert document["status"] is None and document["code"] == "run_state"
    assert f"podium approve {run_id} {esc}" in document["error"] and err.startswith("error: ")


def test_approve_reject_confirms_nothing_was_sent(
    sales: PodiumConfig, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    again = [tool_call("send_email", EMAIL, task="send"), reply("Not sent.", task="send")]
    run_id, esc, _ = cli_waiting(sales, monkeypatch, capsys, resumed=again)
    assert cli.main(["approve", run_id, esc, "--reject"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "your decision: rejected" in out
    assert "rejected: send_email was not called; agent 'mailer' was told to do without it" in out
    assert outbox(sales) == []


def test_an_approval_applies_only_to_the_call_the_person_saw(sales: PodiumConfig) -> None:
    """On resume the mailer's task runs again, and the model may draft another email than the
    one approved (the embedded model did): that one is asked about, never sent on the first
    approval. (LangGraph hands answers back by position: it went to whatever call came first.)"""
    other = {**EMAIL, "body": "Hi Maya, our price doubles tomorrow: sign today!"}
    proposes_other = tool_call("send_email", other, task="send")
    resumed = [proposes_other, proposes_other, reply("Sent.", task="send")]  # two resumes
    model = ScriptedModel(sales_steps(resumed=resumed))
    waiting = Podium(sales, model=model).run(GOAL)
    [seen] = waiting.escalations
    podium = Podium(sales, model=model)
    again = podium.resume(waiting.run_id, answers={seen.id: "approve"})
    assert again.status == "waiting_for_human" and outbox(sales) == []
    [asked] = again.escalations
    assert asked.id != seen.id and json.loads(asked.payload["arguments"]) == other
    done = podium.resume(waiting.run_id, answers={asked.id: "approve"})
    assert done.status == "completed"
    [sent] = outbox(sales)
    assert "sign today!" in sent.read_text()


def test_usage_counts_the_paused_try_after_a_resume_elsewhere(sales: PodiumConfig) -> None:
    """The mailer's first try asked for approval and never settled: its call is paid for, and
    a resume (here by another Podium, as another process would) still counts it."""
    again = [tool_call("send_email", EMAIL, task="send"), reply(f"Sent to {ADDRESS}.", task="send")]
    model = ScriptedModel(sales_steps(resumed=again))
    waiting = Podium(sales, model=model).run(GOAL)
    assert waiting.unsettled_usage.calls == 1  # the send_email call that asked
    assert waiting.usage.calls == len(model.calls) == 5
    [escalation] = waiting.escalations
    done = Podium(sales, model=model).resume(waiting.run_id, answers={escalation.id: "approve"})
    assert done.status == "completed"
    assert done.usage.calls == len(model.calls) == 7  # the paused try's call, and the two after
    assert done.unsettled_usage == waiting.unsettled_usage
    settled = sum((t.usage.calls for t in done.tasks.values()), 0)
    assert done.usage.calls == settled + done.unsettled_usage.calls  # no planner call: a playbook


def test_a_later_try_of_the_task_making_the_approved_call_again_is_not_asked_again(
    sales: PodiumConfig,
) -> None:
    """The mailer sends, then its answer is refused until the task climbs to its next try,
    which makes the same call: that call has its answer (and the journal sends it once)."""
    again = [
        tool_call("send_email", EMAIL, task="send"),
        reply("}", task="send"),  # debris: re-asked once, then the try fails
        reply("}", task="send"),
        tool_call("send_email", EMAIL, task="send"),  # the next try, the same call
        reply(f"Sent to {ADDRESS}.", task="send"),
    ]
    podium, waiting = waiting_run(sales, resumed=again)
    [escalation] = waiting.escalations
    done = podium.resume(waiting.run_id, answers={escalation.id: "approve"})
    assert done.status == "completed", done.escalations
    assert done.tasks["send"].attempts > 1 and len(outbox(sales)) == 1


# -- what each kind of escalation reads as -------------------------------------------------


def test_each_escalation_reads_as_what_it_asks_with_the_commands_that_answer_it() -> None:
    from podium.runtime.engine._escalation import answer_commands, summary
    from podium.runtime.engine._result import Escalation

    refused = Escalation(
        id="guard-draft",
        reason="guard",
        question="Agent 'writer' (task 'draft') wrote an output its guard refused (...)",
        task_id="draft",
        agent="writer",
        payload={"output": "Call 555-0100 now!", "reasons": ["the output holds a phone number"]},
    )
    shown = summary(refused)
    assert shown.headline == "A guard refused the output of agent 'writer' (task 'draft')"
    assert [(f.label, f.text) for f in shown.fields] == [
        ("Refused output", "Call 555-0100 now!"),
        ("Why", "the output holds a phone number"),
    ]
    assert [c for _, c in answer_commands("r 1", refused)] == [
        "podium approve 'r 1' guard-draft",
        "podium approve 'r 1' guard-draft --edit TEXT",
        "podium approve 'r 1' guard-draft --reject",
        "podium approve 'r 1' guard-draft --instruct TEXT",
    ]
    question = Escalation(id="clarify-1", reason="clarify", question="Which region?")
    assert summary(question).fields[0].text == "Which region?"
    assert [c for _, c in answer_commands("r1", question)] == [
        "podium approve r1 clarify-1 --answer TEXT",
        "podium approve r1 clarify-1 --reject",
    ]
    call = Escalation(
        id="approval-t-1",
        reason="approval",
        question="...",
        task_id="t",
        agent="a",
        payload={"tool": "http_post", "arguments": '{"url": "https://x.example", "n": 2}'},
    )
    assert summary(call).headline == "Agent 'a' (task 't') wants to call 'http_post'"
    assert [(f.label, f.text) for f in summary(call).fields] == [
        ("url", "https://x.example"),
        ("n", "2"),
    ]


def test_an_approvals_question_reads_as_a_line_not_as_json(sales: PodiumConfig) -> None:
    """The question (events, logs, the OpenAI stream's progress, `Escalation.question`) names
    each argument; no JSON braces, no escaped line breaks; the payload keeps them whole."""
    _, waiting = waiting_run(sales, resumed=[])
    [escalation] = waiting.escalations
    question = escalation.question
    assert question.startswith("Agent 'mailer' (task 'send') wants to call 'send_email': to: ")
    assert ADDRESS in question and "{" not in question and "\\n" not in question
    assert json.loads(escalation.payload["arguments"])["body"] == DRAFT
