"""The web chat page in headless Chromium (Debian's, driven by Playwright), against a real
`podium serve` on a scripted model: a goal, its graph filling in, an escalation approved, the
answer. Screenshots are kept in build/test-artifacts/web/."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_serve_live import scripted_server

ROOT = Path(__file__).parents[1]
ARTIFACTS = ROOT / "build" / "test-artifacts" / "web"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
pytestmark = [pytest.mark.browser, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, installed by scripts/chromium.sh when missing."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "chromium.sh")], capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/chromium.sh failed:\n{done.stderr[-3000:]}", pytrace=False)
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from scripted_server(tmp_path_factory.mktemp("web"), 0.4)


def test_chat_page_shows_the_graph_and_takes_an_approval(
    chromium: str, server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 800},
        )
        try:
            page = browser.new_page()
            console_errors: list[str] = []
            page.on(
                "console", lambda m: console_errors.append(m.text) if m.type == "error" else None
            )
            page.goto(server)
            expect(page).to_have_title("Podium")

            page.fill("#goal", "Research A and B")
            page.press("#goal", "Enter")
            nodes = page.locator("#graph [data-task]")
            expect(nodes).to_have_count(3)
            expect(page.locator('#graph [data-state="running"]').first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "1-graph-filling-in.png"))
            expect(page.locator('#graph [data-task="c"]')).to_have_attribute(
                "data-state", "completed"
            )
            expect(page.locator("#graph path.edge")).to_have_count(2)  # a -> c, b -> c
            answer = page.locator("#messages li.assistant").last
            expect(answer).to_contain_text("Summary of A and B for: Research A and B")
            expect(page.locator("#timeline rect[data-task]")).to_have_count(3)
            page.screenshot(path=str(ARTIFACTS / "2-answer.png"))

            page.fill("#goal", "Draft an email to Dana and send it")
            page.press("#goal", "Enter")
            escalation = page.locator("#messages li.escalation")
            expect(escalation).to_be_visible()
            expect(escalation).to_contain_text("send_email")
            expect(page.locator('#graph [data-task="send"]')).to_have_attribute(
                "data-state", "escalated"
            )
            page.screenshot(path=str(ARTIFACTS / "3-escalation.png"))
            escalation.get_by_role("button", name="Approve").click()
            expect(page.locator("#messages li.assistant").last).to_contain_text(
                "Sent the email to Dana."
            )
            expect(page.locator('#graph [data-task="send"]')).to_have_attribute(
                "data-state", "completed"
            )
            page.screenshot(path=str(ARTIFACTS / "4-approved-and-answered.png"))

            # A goal that reads as a playbook's template: the page says which, and why. (A new
            # chat: a follow-up's goal carries the earlier turns and reads as no template.)
            page.click("#new-chat")
            page.fill(
                "#goal",
                "Qualify the lead Maya Chen at Brightforge Analytics and draft a short "
                "personalised first outreach email",
            )
            page.press("#goal", "Enter")
            expect(page.locator("#graph-playbook")).to_contain_text(
                "playbook sales-lead-qualification (filled"
            )
            expect(page.locator("#graph [data-task]")).to_have_count(3)  # enrich, score, outreach
            expect(page.locator("#graph-playbook")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "5-playbook.png"))
            assert console_errors == []
        finally:
            browser.close()
