"""The web chat page in headless Chromium (Debian's, driven by Playwright), against a real
`podium serve` on a scripted model: a goal, its graph filling in, an escalation approved, the
answer; the run list and a reload that restores the chat; a task's detail on a click; the
approval card as an email; the layout at phone and desktop widths. Screenshots are written to
build/test-artifacts/web/ at every run; tests/screenshots/web/ keeps a copy of one run's set."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from test_serve_live import scripted_server

if TYPE_CHECKING:
    from playwright.sync_api import Page

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
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
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


@contextmanager
def browser_page(
    chromium: str, profile: Path, viewport: dict[str, int]
) -> Iterator[tuple[Page, list[str]]]:
    """A page in its own Chromium profile (its own localStorage, kept across reloads), and the
    console errors it logs."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20_000)  # 2 shared cores: a scripted run can take seconds
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=viewport,
        )
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            yield page, errors
        finally:
            browser.close()


def ask(page: Page, goal: str) -> None:
    page.fill("#goal", goal)
    page.press("#goal", "Enter")


def overflow_x(page: Page) -> int:
    """How far the page is wider than the window (0: nothing sticks out sideways)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def test_chat_page_shows_the_graph_and_takes_an_approval(
    chromium: str, server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with browser_page(chromium, tmp_path / "profile", DESKTOP) as (page, console_errors):
        page.goto(server)
        expect(page).to_have_title("Podium")

        page.fill("#goal", "Research A and B")
        page.press("#goal", "Enter")
        nodes = page.locator("#graph [data-task]")
        expect(nodes).to_have_count(3)
        expect(page.locator('#graph [data-state="running"]').first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "1-graph-filling-in.png"))
        expect(page.locator('#graph [data-task="c"]')).to_have_attribute("data-state", "completed")
        expect(page.locator("#graph path.edge")).to_have_count(2)  # a -> c, b -> c
        answer = page.locator("#messages li.assistant").last
        expect(answer).to_contain_text("Summary of A and B for: Research A and B")
        expect(page.locator("#timeline rect[data-task]")).to_have_count(3)
        page.screenshot(path=str(ARTIFACTS / "2-answer.png"))

        page.fill("#goal", "Draft an email to Dana and send it")
        page.press("#goal", "Enter")
        escalation = page.locator("#messages li.escalation")
        expect(escalation).to_be_visible()
        expect(escalation).to_contain_text("wants to send this email")
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


def test_reload_restores_the_chat_and_the_run_list_reopens_a_run(
    chromium: str, server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with browser_page(chromium, tmp_path / "profile", DESKTOP) as (page, console_errors):
        page.goto(server)
        ask(page, "Research A and B at length")
        expect(page.locator("#messages li.assistant").last).to_contain_text("Summary of A and B")
        expect(page.locator("#graph-caption")).to_contain_text("3/3 done")
        first_run = page.locator("#messages li.assistant").last.get_attribute("data-run")

        # A run that fails in planning: no count left over from the run before, the reason shown.
        ask(page, "Something unplannable")
        expect(page.locator("#messages li.assistant.error").last).to_be_visible()
        expect(page.locator("#graph [data-task]")).to_have_count(0)
        expect(page.locator("#graph-caption")).to_have_text("failed")
        expect(page.locator("#graph-empty")).to_contain_text("No plan: the run ended failed")
        page.screenshot(path=str(ARTIFACTS / "6-failed-in-planning.png"))

        page.reload()
        messages = page.locator("#messages")
        expect(messages.locator("li.user")).to_have_count(2)
        expect(messages.locator("li.user").first).to_have_text("Research A and B at length")
        expect(messages.locator(f'li.assistant[data-run="{first_run}"]')).to_contain_text(
            "Summary of A and B for: Research A and B at length"
        )
        expect(messages.locator("li.assistant.error")).to_have_count(1)
        # The list holds both, newest first, and shows the request, not the folded-in turns.
        runs = page.locator("#run-list .run-item")
        expect(runs.first).to_contain_text("Something unplannable")
        expect(runs.first).not_to_contain_text("Earlier turns")
        expect(runs.first.locator(".chip")).to_have_text("failed")

        page.locator(f'#run-list .run-item[data-run="{first_run}"]').click()
        expect(page.locator("#run-request")).to_have_text("Research A and B at length")
        expect(page.locator('#graph [data-state="completed"]')).to_have_count(3)
        expect(page.locator("#timeline rect[data-task]")).to_have_count(3)
        expect(page.locator("#answer")).to_contain_text("Summary of A and B")
        outputs = page.locator("#tasks tbody tr")
        expect(outputs).to_have_count(3)
        expect(page.locator('#tasks tr[data-task="b"]')).to_contain_text("Facts about b.")
        # The long output is cut in the table, and the cut is marked.
        expect(page.locator('#tasks tr[data-task="a"] .cut')).to_contain_text(" chars)")

        # A node's detail: everything the result has on the task.
        page.locator('#graph [data-task="a"]').click()
        detail = page.locator("#detail")
        expect(detail).to_be_visible()
        expect(page.locator("#detail-title")).to_have_text("Task a · researcher · completed")
        field = lambda name: detail.locator(f'tr[data-field="{name}"] td')  # noqa: E731
        expect(field("instruction")).to_have_text("Find the facts about A.")
        expect(field("inputs")).to_have_text("none")
        expect(field("model")).to_have_text("scripted-model")
        expect(field("tiers tried")).to_contain_text("→ completed")
        expect(field("tokens")).to_contain_text(" in · ")
        expect(field("cost")).to_contain_text("$")
        expect(field("guard verdicts")).to_be_visible()
        expect(field("tool calls")).to_have_text("none")
        output = field("output")
        expect(output).to_contain_text("Fact 1 about A")
        expect(output).not_to_contain_text("Fact 40 about A")
        expect(output.locator(".cut")).to_contain_text(" chars)")  # "… (+1,234 chars)"
        page.screenshot(path=str(ARTIFACTS / "7-task-detail.png"))
        output.get_by_role("button", name="Show all").click()
        expect(output).to_contain_text("Fact 40 about A: it holds.")
        expect(output.locator(".cut")).to_be_hidden()

        # The writer's inputs link to their tasks.
        page.locator('#graph [data-task="c"]').click()
        expect(field("inputs").get_by_role("button")).to_have_count(2)
        field("inputs").get_by_role("button", name="b").click()
        expect(page.locator("#detail-title")).to_contain_text("Task b")

        # Every label fits its box (cut ones end in "…").
        widths = page.eval_on_selector_all(
            "#graph .node text", "els => els.map(e => e.getBBox().width)"
        )
        assert widths and max(widths) <= 150 - 20 + 0.5
        assert console_errors == []


def test_each_api_key_has_its_own_chat(chromium: str, server: str, tmp_path: Path) -> None:
    """A key is a tenant: switching keys shows that key's chat (none yet), and switching back
    brings the first key's chat back, after a reload too. (This server has no keys: it takes
    any, so only the page's side is tested here; the server keeps runs per key: test_server.py.)"""
    from playwright.sync_api import expect

    with browser_page(chromium, tmp_path / "profile", DESKTOP) as (page, console_errors):
        page.goto(server)
        ask(page, "Research A and B")
        messages = page.locator("#messages")
        expect(messages.locator("li.assistant").last).to_contain_text("Summary of A and B")

        def use_key(key: str) -> None:
            page.evaluate("document.getElementById('key-form').hidden = false")
            page.fill("#key-input", key)
            page.click("#key-form button[type=submit]")

        use_key("key-of-team-b")
        expect(messages.locator("li")).to_have_count(0)
        expect(page.locator("#run-head")).to_be_hidden()
        page.reload()
        expect(messages.locator("li")).to_have_count(0)  # the key and its empty chat are kept
        use_key("")
        expect(messages.locator("li.user")).to_have_text(["Research A and B"])
        page.reload()
        expect(messages.locator("li.user")).to_have_text(["Research A and B"])
        assert console_errors == []


def test_a_task_that_failed_shows_why_in_its_detail(
    chromium: str, server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with browser_page(chromium, tmp_path / "profile", DESKTOP) as (page, console_errors):
        page.goto(server)
        ask(page, "Research A and B where b fails")
        expect(page.locator("#messages li.assistant.error")).to_contain_text(
            "the scripted model is down for task b", timeout=60_000
        )
        expect(page.locator('#graph [data-task="b"]')).to_have_attribute("data-state", "failed")
        expect(page.locator('#graph [data-task="c"]')).to_have_attribute("data-state", "skipped")
        expect(page.locator("#graph-caption")).to_have_text("1/3 done · failed")
        page.locator('#tasks tr[data-task="b"]').click()  # a row opens the detail too
        detail = page.locator("#detail")
        expect(page.locator("#detail-title")).to_have_text("Task b · researcher · failed")
        expect(detail.locator('tr[data-field="error"]')).to_contain_text("scripted model is down")
        expect(detail.locator('tr[data-field="tiers tried"] li').first).to_contain_text("failed")
        expect(detail.locator('tr[data-field="output"]')).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "13-failed-task.png"))
        assert console_errors == []


def test_approval_card_shows_an_email_once_and_survives_a_reload(
    chromium: str, server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with browser_page(chromium, tmp_path / "profile", DESKTOP) as (page, console_errors):
        page.goto(server)
        ask(page, "Draft an email to Dana and send it")
        card = page.locator("#messages li.escalation")
        expect(card).to_have_count(1)
        expect(card.locator(".question")).to_have_text(
            "Agent 'outreach' (task 'send') wants to send this email"
        )
        email = card.locator(".email")
        expect(email.locator('dd[data-field="to"]')).to_have_text("dana@northwind.example")
        expect(email.locator('dd[data-field="subject"]')).to_have_text("Hello")
        body = email.locator(".email-body")
        assert body.inner_text() == "Hi Dana,\n\nshall we talk next week?\n\nSam"
        text = card.inner_text()
        assert text.count("dana@northwind.example") == 1  # shown once
        assert "\\n" not in text and '{"to"' not in text  # no raw JSON, no literal \n
        card.screenshot(path=str(ARTIFACTS / "8-approval-card.png"))
        # Any other call reads as its fields; arguments that are not JSON, as their text.
        shown = page.evaluate(
            """() => [
                '{"query": "Northwind", "where": {"city": "Oslo"}}', 'not json\\nat all'
            ].map((raw) => {
                const view = document.body.appendChild(callView(raw));
                const text = view.innerText;
                view.remove();
                return text;
            })"""
        )
        assert shown[0].split("\n")[:3] == ["query", "Northwind", "where"]
        assert '"city": "Oslo"' in shown[0]
        assert shown[1] == "not json\nat all"

        page.reload()  # the question is still there, once, with the graph of its run
        expect(card).to_have_count(1)
        # Under its own run's turn, not after the turns that came later.
        assert card.evaluate("li => li.previousElementSibling.dataset.run") == card.get_attribute(
            "data-run"
        )
        expect(card.locator(".email-body")).to_contain_text("shall we talk next week?")
        expect(page.locator('#graph [data-task="send"]')).to_have_attribute(
            "data-state", "escalated"
        )
        expect(page.locator('#timeline rect[data-task="draft"]')).to_have_count(1)
        card.get_by_role("button", name="Approve").click()
        expect(page.locator("#messages li.assistant").last).to_contain_text(
            "Sent the email to Dana."
        )
        expect(page.locator('#graph [data-task="send"]')).to_have_attribute(
            "data-state", "completed"
        )
        # The draft, restored from its checkpoint on resume, keeps its place: before the send.
        expect(page.locator('#timeline rect[data-task="draft"]')).to_have_count(1)
        draft = page.locator('#timeline rect[data-task="draft"]').bounding_box()
        send = page.locator('#timeline rect[data-task="send"]').bounding_box()
        timeline = page.locator("#timeline").bounding_box()
        assert draft is not None and send is not None and timeline is not None
        assert timeline["x"] + 69 <= draft["x"] and draft["width"] > 2  # drawn, in the chart
        assert draft["x"] + draft["width"] <= send["x"] + 1
        page.locator('#graph [data-task="send"]').click()
        calls = page.locator('#detail tr[data-field="tool calls"]')
        expect(calls).to_contain_text("send_email")
        expect(calls.locator('dd[data-field="to"]')).to_have_text("dana@northwind.example")
        page.reload()  # the person's decision stays in the chat
        answered = page.locator("#messages li.escalation.answered")
        expect(answered).to_contain_text("wants to send this email")
        expect(answered).to_contain_text("you chose: approve")
        assert console_errors == []


def test_a_waiting_run_opened_from_the_list_can_be_answered(
    chromium: str, server: str, tmp_path: Path
) -> None:
    """Made in another chat (here: before "New chat"), a waiting run reopened from the run list
    shows its whole plan and its question, answerable."""
    from playwright.sync_api import expect

    with browser_page(chromium, tmp_path / "profile", DESKTOP) as (page, console_errors):
        page.goto(server)
        ask(page, "Draft an email to Dana and send it, from the list")
        expect(page.locator("#messages li.escalation")).to_have_count(1)
        page.click("#new-chat")
        expect(page.locator("#messages li")).to_have_count(0)
        page.click("#runs-refresh")
        page.locator("#run-list .run-item").filter(has_text="from the list").first.click()
        expect(page.locator("#graph [data-task]")).to_have_count(2)  # the plan, not one task
        expect(page.locator("#graph path.edge")).to_have_count(1)  # draft -> send
        card = page.locator("#messages li.escalation")
        expect(card).to_have_count(1)
        expect(card.locator(".email-body")).to_contain_text("shall we talk next week?")
        card.get_by_role("button", name="Approve").click()
        expect(page.locator('#graph [data-task="send"]')).to_have_attribute(
            "data-state", "completed"
        )
        assert console_errors == []


def test_phone_width_stacks_the_page_and_opens_runs_from_a_drawer(
    chromium: str, server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with browser_page(chromium, tmp_path / "profile", PHONE) as (page, console_errors):
        page.goto(server)
        expect(page.locator("#runs")).to_be_hidden()  # a drawer on a phone
        assert overflow_x(page) == 0
        ask(page, "Research A and B at length")
        expect(page.locator("#messages li.assistant").last).to_contain_text("Summary of A and B")
        expect(page.locator('#graph [data-state="completed"]')).to_have_count(3)
        assert overflow_x(page) == 0
        page.screenshot(path=str(ARTIFACTS / "9-phone-chat.png"))

        page.click("#runs-toggle")
        drawer = page.locator("#runs")
        expect(drawer).to_be_visible()
        box = drawer.bounding_box()
        assert box is not None and box["width"] <= PHONE["width"]
        page.screenshot(path=str(ARTIFACTS / "10-phone-runs.png"))
        drawer.locator(".run-item").filter(has_text="at length").first.click()
        expect(drawer).to_be_hidden()
        expect(page.locator("#run-request")).to_have_text("Research A and B at length")
        page.locator('#graph [data-task="a"]').click()
        expect(page.locator("#detail")).to_be_visible()
        assert overflow_x(page) == 0
        page.locator("#side").screenshot(path=str(ARTIFACTS / "11-phone-run.png"))
        assert console_errors == []


def test_a_reload_mid_run_follows_it_again_and_an_answer_opens_its_run(
    chromium: str, server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with browser_page(chromium, tmp_path / "profile", DESKTOP) as (page, console_errors):
        page.goto(server)
        ask(page, "Research A and B at length")
        expect(page.locator("#messages li.assistant").last).to_contain_text("Working on it")
        first = page.locator("#messages li.assistant").last.get_attribute("data-run")
        page.reload()  # mid-run: its events are replayed and followed to the end
        expect(page.locator("#messages li.assistant").last).to_contain_text("Summary of A and B")
        expect(page.locator('#graph [data-state="completed"]')).to_have_count(3)
        expect(page.locator("#timeline rect[data-task]")).to_have_count(3)

        ask(page, "Research C and D")
        expect(page.locator("#messages li.assistant").last).to_contain_text(
            "Summary of A and B for: Research C and D (a follow-up)"  # the restored turns count
        )
        expect(page.locator("#run-request")).to_have_text("Research C and D")
        page.locator(f'#messages li.assistant[data-run="{first}"]').click()
        expect(page.locator("#run-request")).to_have_text("Research A and B at length")
        expect(page.locator(f'#run-list .run-item[data-run="{first}"]')).to_have_attribute(
            "aria-current", "true"
        )
        assert console_errors == []


def test_desktop_width_shows_the_run_list_beside_the_chat(
    chromium: str, server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with browser_page(chromium, tmp_path / "profile", DESKTOP) as (page, console_errors):
        page.goto(server)
        ask(page, "Research A and B")
        expect(page.locator("#messages li.assistant").last).to_contain_text("Summary of A and B")
        runs, chat, side = (page.locator(s).bounding_box() for s in ("#runs", "#chat", "#side"))
        assert runs and chat and side
        assert runs["x"] + runs["width"] <= chat["x"] + 1 <= side["x"]  # three columns
        # A graph four nodes wide fits its box, scaled, rather than running past its edge.
        ask(page, "Research A and B step by step")
        expect(page.locator('#graph [data-state="completed"]')).to_have_count(4)
        graph, box = (page.locator(s).bounding_box() for s in ("#graph", "#graph-box"))
        assert graph and box and graph["x"] + graph["width"] <= box["x"] + box["width"]
        page.locator("#side").screenshot(path=str(ARTIFACTS / "13-desktop-wide-graph.png"))
        expect(page.locator("#run-list .run-item").first).to_be_visible()
        assert overflow_x(page) == 0
        page.locator("#run-list .run-item").first.click()
        expect(page.locator("#run-head")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "12-desktop-run-list.png"))
        assert console_errors == []
