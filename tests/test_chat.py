"""`podium chat` in a pseudo-terminal (pexpect): goals and follow-ups shown live, a question
answered in place, the slash commands, history kept between sessions."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect

SUPPORT = Path(__file__).parent / "serve_support.py"
PROMPT = "you> "


def spawn(args: list[str], cwd: Path) -> pexpect.spawn:
    env = {**os.environ, "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}
    child = pexpect.spawn(
        args[0],
        args[1:],
        cwd=str(cwd),
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 120),
        use_poll=True,  # late in a whole suite run the pty's descriptor can be past select()'s 1024
    )
    child.logfile_read = open(cwd / "chat.log", "a", encoding="utf-8")  # noqa: SIM115
    return child


def test_chat_runs_goals_answers_questions_and_keeps_history(tmp_path: Path) -> None:
    data = tmp_path / "data"
    command = [sys.executable, str(SUPPORT), "chat", str(data), "0.05"]
    chat = spawn(command, tmp_path)
    chat.expect("0 earlier turn")
    chat.expect(PROMPT)

    chat.sendline("Research A and B")
    chat.expect("plan \\(revision 0\\)")  # the live tree
    chat.expect("Summary of A and B for: Research A and B")
    chat.expect(PROMPT)

    chat.sendline("And now C and D")  # a follow-up sees the earlier turn
    chat.expect("Summary of A and B for: And now C and D \\(a follow-up\\)")
    chat.expect(PROMPT)

    chat.sendline("Draft an email to Dana and send it")
    chat.expect("wants to send this email")  # the email as fields, then the decisions
    chat.expect("dana@northwind.example")
    chat.expect(r"approve, reject or skip\? \[a/r/s\]")
    chat.sendline("a")
    chat.expect("Sent the email to Dana.")
    chat.expect("approved: the email to dana@")  # what the answer did, with the .eml's place
    chat.expect(PROMPT)

    chat.sendline("/cost")
    chat.expect("total")
    chat.expect(PROMPT)
    chat.sendline("/runs")
    chat.expect("completed")
    chat.expect(PROMPT)
    chat.sendline("/agents")
    chat.expect("outreach")
    chat.expect(PROMPT)
    chat.sendline("/nonsense")
    chat.expect("unknown command")
    chat.expect(PROMPT)
    chat.sendline("/quit")
    chat.expect(pexpect.EOF)
    chat.close()
    assert chat.exitstatus == 0

    again = spawn(command, tmp_path)  # a new session keeps the conversation and the input history
    again.expect("3 earlier turn")
    again.expect(PROMPT)
    again.send("\x1b[A")  # up arrow: the last line typed in the previous session
    again.expect("/quit")
    again.sendline("")
    again.expect(pexpect.EOF)
    again.close()
    assert again.exitstatus == 0


def test_a_question_left_open_is_answered_with_resume(tmp_path: Path) -> None:
    data = tmp_path / "data"
    chat = spawn([sys.executable, str(SUPPORT), "chat", str(data)], tmp_path)
    chat.expect(PROMPT)
    chat.sendline("Draft an email to Dana and send it")
    chat.expect(r"approve, reject or skip\? \[a/r/s\]")
    chat.sendline("s")
    chat.expect(r"left waiting: `/resume (\S+)`")
    run_id = chat.match.group(1)
    chat.expect(PROMPT)
    chat.sendline(f"/resume {run_id}")
    chat.expect(r"approve, reject or skip\? \[a/r/s\]")
    chat.sendline("r")
    chat.expect("rejected: send_email was not called")
    chat.expect(PROMPT)
    chat.sendline("/runs")
    chat.expect(run_id[-6:])
    chat.expect(PROMPT)
    chat.sendeof()
    chat.expect(pexpect.EOF)


def test_the_podium_chat_command(tmp_path: Path) -> None:
    (tmp_path / "podium.toml").write_text(
        '[storage]\ndata_dir = "data"\n[memory]\nenabled = false\n'
    )
    podium = Path(sys.executable).parent / "podium"
    chat = spawn([str(podium), "chat"], tmp_path)
    chat.expect(PROMPT)
    chat.sendline("/help")
    chat.expect("/resume ID")
    chat.expect(PROMPT)
    chat.sendline("/agents")
    chat.expect("researcher")
    chat.expect(PROMPT)
    chat.sendline("/resume no-such-run")
    chat.expect("no run 'no-such-run'")
    chat.expect(PROMPT)
    chat.sendline("/quit")
    chat.expect(pexpect.EOF)
