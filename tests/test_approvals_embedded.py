"""The sales-send playbook on the embedded model (SmolLM2-135M): real inference, so marked
`integration`. The run must stop before the email goes out, with the email to the goal's address
shown for approval; approving it writes the .eml, rejecting it sends nothing."""

from __future__ import annotations

import email
import json
from pathlib import Path

from embedded_support import EMBEDDED_MODEL

from podium.runtime import Podium, PodiumConfig
from podium.tools import default_datasets_dir

pytestmark = EMBEDDED_MODEL

ADDRESS = "maya.chen@brightforge.example"
GOAL = (
    "Qualify the lead Maya Chen at Brightforge Analytics and send them a first outreach email "
    f"at {ADDRESS}"
)


def test_the_sales_send_goal_waits_for_approval_on_the_embedded_model(tmp_path: Path) -> None:
    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(tmp_path / "data")},
            "tools": {"workspace": str(default_datasets_dir())},
            "memory": {"enabled": False},  # two runs of one goal: the second plans afresh
        }
    )
    podium = Podium(config)
    outbox = config.storage.data_dir / "outbox"
    try:
        answers = {}
        for decision in ("reject", "approve"):
            waiting = podium.run(GOAL)
            assert waiting.status == "waiting_for_human", waiting.error
            [escalation] = waiting.escalations
            arguments = json.loads(escalation.payload["arguments"])
            print(f"\n{decision}: {escalation.id}\n{json.dumps(arguments, indent=2)}")
            assert (escalation.payload["tool"], arguments["to"]) == ("send_email", ADDRESS)
            assert arguments["body"].strip()
            answers[decision] = podium.resume(waiting.run_id, answers={escalation.id: decision})
            if decision == "reject":
                assert not list(outbox.glob("*.eml"))
        done = answers["approve"]
        assert done.status != "waiting_for_human", done.escalations
        [sent] = outbox.glob("*.eml")
        message = email.message_from_bytes(sent.read_bytes())
        print(sent.read_text())
        assert message["To"] == ADDRESS
    finally:
        podium.close()
