"""The evaluation HTML report: structure, escaping, the drawn graph and timeline, sparse reports."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest

from podium.evals._html import render_html

EVIL = "<script>alert(1)</script>"
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def descendants(self) -> Iterator[Element]:
        for child in self.children:
            yield child
            yield from child.descendants()

    def find_all(self, tag: str, cls: str | None = None) -> list[Element]:
        return [e for e in self.descendants() if e.tag == tag and (cls is None or cls in e.classes)]

    def text(self) -> str:
        return "".join(self.texts) + "".join(c.text() for c in self.children)


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].texts.append(data)


def parse(page: str) -> Element:
    builder = TreeBuilder()
    builder.feed(page)
    builder.close()
    return builder.root


def task(id: str, agent: str, inputs: list[str], status: str = "completed") -> dict[str, Any]:
    return {"id": id, "agent": agent, "inputs": inputs, "status": status, "tier": "cheap",
            "model": "openai/gpt-4o-mini", "attempts": 1}  # fmt: skip


def span(
    task: str, agent: str, start: float, end: float, status: str = "completed"
) -> dict[str, Any]:
    return {"task": task, "agent": agent, "start_s": start, "end_s": end, "status": status}


def sample_report() -> dict[str, Any]:
    happy = {
        "name": "sales-happy-path",
        "path": "evals/scenarios/sales/happy.yaml",
        "workflow": "sales",
        "description": "Qualify a lead from a CRM export.",
        "passed": True,
        "trials": 3,
        "trials_passed": 3,
        "pass_hat_k": True,
        "reasons": [],
        "status": "completed",
        "answer": "Dana Whitfield at Acme is a strong lead (score 82).",
        "error": None,
        "cost_usd": 0.0123,
        "tokens": 4500,
        "calls": 9,
        "latency_s": 6.4,
        "checks": [{"name": "answer contains 'Dana'", "passed": True, "detail": ""}],
        "graph": {
            "tasks": [
                task("plan", "supervisor", []),
                task("enrich", "enricher", ["plan"]),
                task("research", "researcher", ["plan"]),
                task("score", "analyst", ["enrich", "research"]),
            ]
        },
        "timeline": [
            span("plan", "supervisor", 0.0, 1.2),
            span("enrich", "enricher", 1.2, 3.4),
            span("research", "researcher", 1.2, 4.9),
            span("score", "analyst", 4.9, 6.4),
        ],
        "cost_by_agent": {"supervisor": 0.004, "enricher": 0.001, "researcher": 0.005, "analyst": 0.0023},
        "routes": [{"task": "score", "attempt": 1, "tier": "cheap", "outcome": "completed", "reason": "default"}],
        "replans": 0,
    }  # fmt: skip
    failing = {
        "name": "support-escalation",
        "path": "evals/scenarios/support/escalation.yaml",
        "workflow": "support",
        "description": "A refund request that needs a re-plan.",
        "passed": False,
        "trials": 3,
        "trials_passed": 1,
        "pass_hat_k": False,
        "reasons": ["answer: expected to contain 'refund approved'", "cost 0.09 > budget 0.05"],
        "status": "budget_exceeded",
        "answer": "line\n" * 400,
        "error": "BudgetExceeded: cost 0.09 USD over the 0.05 USD limit",
        "cost_usd": 0.09,
        "tokens": 30000,
        "calls": 80,
        "latency_s": 4.1,
        "checks": [
            {"name": "answer contains 'refund approved'", "passed": False, "detail": "missing"},
            {"name": "agents used", "passed": True, "detail": ""},
        ],
        "graph": {
            "tasks": [
                task("triage", "support", []),
                task("lookup", "researcher", ["triage", "crm-export"]),  # input outside the graph
                task("reply", "writer", ["lookup"], status="failed"),
                task("notify", "writer", ["reply"], status="skipped"),
            ]
        },
        "timeline": [
            span("triage", "support", 0.0, 0.8),
            span("lookup", "researcher", 0.8, 2.0),
            span("reply", "writer", 2.0, 4.1, status="failed"),
        ],
        "cost_by_agent": {"support": 0.02, "researcher": 0.03, "writer": 0.04},
        "routes": [
            {"task": "reply", "attempt": 1, "tier": "cheap", "outcome": "failed", "reason": "planner hint"},
            {"task": "reply", "attempt": 2, "tier": "frontier", "outcome": "failed", "reason": "escalated"},
        ],
        "replans": 1,
    }  # fmt: skip
    evil = {
        "name": f"adversarial {EVIL}",
        "workflow": "research",
        "passed": True,
        "trials": 3,
        "trials_passed": 3,
        "status": "completed",
        "description": f"Input with {EVIL} in it",
        "answer": f"The page said {EVIL} & <b>bold</b>",
        "cost_usd": 0.02,
        "tokens": 10500,
        "latency_s": 1.5,
        "graph": {"tasks": [task(EVIL, f"agent {EVIL}", [])]},
        "timeline": [span(EVIL, "researcher", 0.0, 1.5)],
        "cost_by_agent": {EVIL: 0.02},
        "routes": [],
    }
    return {
        "podium_eval_report": 1,
        "paths": ["evals/scenarios"],
        "mode": "replay",
        "speed": "full",
        "trials": 3,
        "passed": 13,
        "failed": 2,
        "scenarios_total": 15,
        "pass_hat_k": 0.866,
        "pass_at_1": 0.9,
        "totals": {"cost_usd": 0.123, "tokens": 45000, "calls": 120},
        "timing": {
            "started_at": 1790000000.0,
            "finished_at": 1790000012.3,
            "wall_s": 12.3,
            "scenarios_per_s": 1.2,
        },
        "scenarios": [happy, failing, evil],
    }


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(sample_report())


@pytest.fixture(scope="module")
def doc(page: str) -> Element:
    return parse(page)


def sections(doc: Element) -> list[Element]:
    return doc.find_all("section", "scenario")


def test_user_text_is_escaped_and_no_script_runs(page: str, doc: Element) -> None:
    assert not doc.find_all("script")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not doc.find_all("b")  # the answer's <b> stayed text
    assert EVIL in sections(doc)[2].text()  # and reads back as the original text
    csp = [
        m for m in doc.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"
    ]
    assert "default-src 'none'" in csp[0].attrs["content"]


def test_page_is_self_contained(page: str, doc: Element) -> None:
    assert not doc.find_all("link") and not doc.find_all("img")
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "@import" not in page and "url(http" not in page
    assert all(a.attrs["href"].startswith("#") for a in doc.find_all("a"))


def test_summary_shows_the_run_numbers(doc: Element) -> None:
    hero = doc.find_all("header", "hero")[0].text()
    for expected in ["13 / 15", "86.6%", "90%", "$0.123", "45,000", "120 model calls", "12.3 s"]:
        assert expected in hero
    for expected in ["replay", "full", "evals/scenarios", "2026-09-21"]:
        assert expected in hero
    assert "2 of 15 scenarios failed" in hero


def test_table_has_a_row_per_scenario_linking_to_its_section(doc: Element) -> None:
    rows = doc.find_all("table", "scenarios")[0].find_all("tbody")[0].find_all("tr")
    ids = [s.attrs["id"] for s in sections(doc)]
    assert len(rows) == 3 and len(set(ids)) == 3
    assert [r.find_all("a")[0].attrs["href"] for r in rows] == [f"#{i}" for i in ids]
    cells = [td.text().strip() for td in rows[1].find_all("td")]
    assert cells[:2] == ["support-escalation", "support"] and "fail" in cells[2]
    assert "1/3" in cells[3] and "$0.09" in cells and "30,000" in cells and "4.1 s" in cells
    assert "fail" in rows[1].classes


def test_failing_scenario_is_open_with_its_reasons(doc: Element) -> None:
    happy, failing, _ = sections(doc)
    assert "open" not in happy.find_all("details")[0].attrs
    assert "open" in failing.find_all("details")[0].attrs
    callout = failing.find_all("div", "callout")[0].text()
    assert "expected to contain 'refund approved'" in callout
    assert "cost 0.09 > budget 0.05" in callout and "BudgetExceeded" in callout
    assert not happy.find_all("div", "callout")
    first_check = failing.find_all("ul", "checks")[0].find_all("li")[0]
    assert "bad" in first_check.classes  # failed checks come first


@pytest.mark.parametrize(("index", "nodes", "edges"), [(0, 4, 4), (1, 4, 3), (2, 1, 0)])
def test_one_graph_per_scenario_with_its_nodes_and_edges(
    doc: Element, index: int, nodes: int, edges: int
) -> None:
    graphs = sections(doc)[index].find_all("svg", "dag")
    assert len(graphs) == 1
    assert len(graphs[0].find_all("rect", "node")) == nodes
    assert len(graphs[0].find_all("path", "edge")) == edges


def node_boxes(graph: Element) -> dict[str, tuple[float, float]]:
    return {
        g.find_all("text", "n-id")[0].text(): (
            float(g.find_all("rect")[0].attrs["x"]),
            float(g.find_all("rect")[0].attrs["y"]),
        )
        for g in graph.find_all("g", "node-g")
    }


def test_diamond_is_laid_out_in_layers(doc: Element) -> None:
    boxes = node_boxes(sections(doc)[0].find_all("svg", "dag")[0])
    assert boxes["plan"][0] < boxes["enrich"][0] == boxes["research"][0] < boxes["score"][0]
    assert boxes["enrich"][1] != boxes["research"][1]
    assert boxes["plan"][1] == boxes["score"][1]  # single nodes sit centred on the pair


def test_nodes_are_coloured_by_status(doc: Element) -> None:
    graph = sections(doc)[1].find_all("svg", "dag")[0]
    tones = {g.find_all("text", "n-id")[0].text(): g.classes for g in graph.find_all("g", "node-g")}
    assert "ok" in tones["triage"] and "bad" in tones["reply"] and "skip" in tones["notify"]


def test_cycles_and_wide_layers_still_draw() -> None:
    report = sample_report()
    fan = [task(f"worker-{i}", "researcher", ["plan"]) for i in range(12)]
    cycle = [task("a", "x", ["c"]), task("b", "x", ["a"]), task("c", "x", ["b", "b", "c"])]
    graph = [task("plan", "supervisor", []), *fan, *cycle, task("plan", "duplicate", ["zzz"])]
    report["scenarios"][0]["graph"] = {"tasks": graph}
    svg = sections(parse(render_html(report)))[0].find_all("svg", "dag")[0]
    assert len(svg.find_all("rect", "node")) == 16
    assert len(svg.find_all("path", "edge")) == 12 + 3  # self-loop and repeat dropped
    assert len(svg.find_all("path", "back")) == 1
    boxes = node_boxes(svg)
    assert len({boxes[f"worker-{i}"][1] for i in range(12)}) == 12
    assert float(svg.attrs["height"]) > 12 * 56


@pytest.mark.parametrize(("index", "bars"), [(0, 4), (1, 3), (2, 1)])
def test_timeline_has_a_bar_per_entry(doc: Element, index: int, bars: int) -> None:
    gantt = sections(doc)[index].find_all("svg", "gantt")
    assert len(gantt) == 1 and len(gantt[0].find_all("rect", "bar")) == bars
    ticks = [t.text() for t in gantt[0].find_all("text", "tick")]
    assert ticks[0] == "0s" and len(ticks) >= 2


def test_timeline_bars_scale_with_time(doc: Element) -> None:
    gantt = sections(doc)[0].find_all("svg", "gantt")[0]
    widths = [float(r.attrs["width"]) for r in gantt.find_all("rect", "bar")]
    assert widths[2] > widths[1] > widths[3] > widths[0]  # 3.7s > 2.2s > 1.5s > 1.2s


def test_cost_breakdown_has_a_bar_per_agent_largest_first(doc: Element) -> None:
    costs = sections(doc)[1].find_all("div", "costs")[0]
    agents = [a.text() for a in costs.find_all("span", "cost-agent")]
    assert agents == ["writer", "researcher", "support"]
    assert costs.find_all("span", "cost-fill")[0].attrs["style"] == "width:100.0%"


def test_routing_table_lists_each_decision(doc: Element) -> None:
    rows = sections(doc)[1].find_all("table", "routes")[0].find_all("tbody")[0].find_all("tr")
    assert [r.find_all("td")[2].text() for r in rows] == ["cheap", "frontier"]
    assert "escalated" in rows[1].text()


def test_long_answer_is_cut_with_the_full_text_behind_a_details(doc: Element) -> None:
    panel = sections(doc)[1]
    answers = panel.find_all("pre", "answer")
    assert len(answers) == 2
    assert len(answers[0].text()) < len(answers[1].text()) == len("line\n" * 400)
    assert "2,000 characters" in panel.find_all("details", "more")[0].text()


@pytest.mark.parametrize(
    "report",
    [
        {},
        {"scenarios": []},
        {"scenarios": "not a list", "totals": None, "timing": [], "paths": None},
        {"scenarios": [{}]},
        {"scenarios": [{"name": "bare", "passed": None}, None, 3]},
        {
            "passed": None,
            "scenarios": [
                {
                    "name": "odd types",
                    "passed": False,
                    "trials": "three",
                    "cost_usd": float("nan"),
                    "graph": {"tasks": [{"inputs": None}, {"id": 7, "inputs": "a"}, "junk"]},
                    "timeline": [{"task": "x"}, {"start_s": 2, "end_s": 1}, {"start_s": None}],
                    "cost_by_agent": ["not", "a", "mapping"],
                    "routes": {"not": "a list"},
                    "checks": [{"name": "c", "passed": False}],
                }
            ],
            "timing": {"started_at": 1e300, "wall_s": "slow"},
            "totals": {"cost_usd": float("inf"), "tokens": True},
        },
    ],
)
def test_sparse_or_malformed_reports_still_render(report: dict[str, Any]) -> None:
    page = render_html(report)
    doc = parse(page)
    assert doc.find_all("html") and doc.find_all("h1")
    assert len(sections(doc)) == sum(isinstance(s, dict) for s in report.get("scenarios") or [])


def test_counts_fall_back_to_the_scenarios() -> None:
    report = sample_report()
    for key in ("passed", "failed", "scenarios_total"):
        del report[key]
    hero = parse(render_html(report)).find_all("header", "hero")[0].text()
    assert "2 / 3" in hero and "1 of 3 scenarios failed" in hero


def test_rendering_is_deterministic() -> None:
    report = sample_report()
    assert render_html(report) == render_html(copy.deepcopy(report))
