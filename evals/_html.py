"""Render an evaluation report (`podium eval run --html-out`) as one self-contained HTML page.

The page needs no network and runs no script: CSS and SVG are inline, every string from the
report is escaped, and a Content-Security-Policy forbids scripts even if one slipped through.
Reports are read defensively: any field may be missing, None or of the wrong type.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any, Final, Literal

__all__ = ["render_html"]

Tone = Literal["ok", "bad", "skip", "other"]

_TONES: Final[Mapping[str, Tone]] = {
    "completed": "ok",
    "passed": "ok",
    "succeeded": "ok",
    "success": "ok",
    "ok": "ok",
    "failed": "bad",
    "error": "bad",
    "budget_exceeded": "bad",
    "skipped": "skip",
    "cancelled": "skip",
}
_ANSWER_CHARS: Final = 1500
_ANSWER_LINES: Final = 25
_MISSING: Final = "—"


def render_html(report: Mapping[str, Any]) -> str:
    """The whole page for one `podium eval run` report."""
    scenarios = _maps(report.get("scenarios"))
    title = f"Podium eval · {_verdict_text(report, scenarios)}"
    sections = "".join(_scenario_section(s, i) for i, s in enumerate(scenarios))
    body = (
        _header(report, scenarios)
        + _scenario_table(scenarios)
        + (f'<h2 class="section-title">Scenarios</h2>{sections}' if sections else "")
        + _footer(report)
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f'<body><main class="page">{body}</main></body></html>\n'
    )


# ---- reading the report defensively ------------------------------------------------------


def _text(value: object, default: str = "") -> str:
    return default if value is None else str(value)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _maps(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence) or isinstance(value, bytes):
        return []
    return [str(item) for item in value if item is not None]


def _tone(status: object) -> Tone:
    return _TONES.get(_text(status).lower(), "other")


def _counts(
    report: Mapping[str, Any], scenarios: Sequence[Mapping[str, Any]]
) -> tuple[int, int, int]:
    """Passed, failed and total; counted from the scenarios where the report lacks them."""
    passed = _number(report.get("passed"))
    failed = _number(report.get("failed"))
    total = _number(report.get("scenarios_total"))
    p = int(passed) if passed is not None else sum(s.get("passed") is True for s in scenarios)
    f = int(failed) if failed is not None else sum(s.get("passed") is False for s in scenarios)
    return p, f, int(total) if total is not None else max(len(scenarios), p + f)


# ---- formatting ------------------------------------------------------------------------------


def _usd(value: object) -> str:
    n = _number(value)
    if n is None:
        return _MISSING
    if n == 0 or abs(n) >= 1:
        return f"${n:,.2f}"
    # Three significant digits for cents and fractions of a cent, without trailing zeros.
    decimals = max(2, 2 - math.floor(math.log10(abs(n))))
    digits = f"{n:.{decimals}f}".rstrip("0")
    return "$" + (digits if len(digits.partition(".")[2]) >= 2 else f"{n:.2f}")


def _int(value: object) -> str:
    n = _number(value)
    return _MISSING if n is None else f"{round(n):,}"


def _seconds(value: object) -> str:
    n = _number(value)
    if n is None:
        return _MISSING
    if n < 1:
        return f"{n * 1000:.0f} ms"
    if n < 60:
        return f"{n:.1f} s"
    minutes, rest = divmod(n, 60)
    return f"{minutes:.0f} min {rest:02.0f} s"


def _percent(value: object) -> str:
    n = _number(value)
    return _MISSING if n is None else f"{n * 100:.1f}".removesuffix(".0") + "%"


def _timestamp(value: object) -> str:
    n = _number(value)
    if n is None:
        return _MISSING
    try:
        return datetime.fromtimestamp(n, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return _MISSING


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "…"


def _anchor(scenario: Mapping[str, Any], index: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", _text(scenario.get("name")).lower()).strip("-")
    return f"scenario-{index + 1}" + (f"-{slug[:48]}" if slug else "")


def _badge(label: str, tone: Tone, title: str = "") -> str:
    tip = f' title="{escape(title)}"' if title else ""
    return f'<span class="badge {tone}"{tip}>{escape(label)}</span>'


def _outcome_badge(scenario: Mapping[str, Any]) -> str:
    passed = scenario.get("passed")
    if passed is True:
        return _badge("pass", "ok")
    if passed is False:
        return _badge("fail", "bad")
    return _badge("unknown", "skip")


def _flaky(scenario: Mapping[str, Any]) -> bool:
    done = _number(scenario.get("trials_passed"))
    trials = _number(scenario.get("trials"))
    return done is not None and trials is not None and 0 < done < trials


# ---- header and summary table ----------------------------------------------------------------


def _verdict_text(report: Mapping[str, Any], scenarios: Sequence[Mapping[str, Any]]) -> str:
    passed, failed, total = _counts(report, scenarios)
    if total == 0:
        return "no scenarios"
    if failed == 0:
        return f"all {total} scenarios passed" if passed == total else f"{passed}/{total} passed"
    return f"{failed} of {total} scenarios failed"


def _header(report: Mapping[str, Any], scenarios: Sequence[Mapping[str, Any]]) -> str:
    _, failed, total = _counts(report, scenarios)
    tone: Tone = "bad" if failed else ("ok" if total else "skip")
    verdict = _verdict_text(report, scenarios)
    return (
        '<header class="hero">'
        f'<div class="hero-top"><h1>Podium evaluation</h1>{_badge(verdict, tone)}</div>'
        f'<p class="meta">{_run_facts(report)}</p>'
        f"{_stat_cards(report, scenarios)}{_failing_links(scenarios)}</header>"
    )


def _run_facts(report: Mapping[str, Any]) -> str:
    timing = _mapping(report.get("timing"))
    facts = [
        ("mode", _text(report.get("mode"), _MISSING)),
        ("speed", _text(report.get("speed"), _MISSING)),
        ("trials", _text(report.get("trials"), _MISSING)),
        ("started", _timestamp(timing.get("started_at"))),
        ("paths", ", ".join(_strings(report.get("paths"))) or _MISSING),
    ]
    return " ".join(
        f'<span class="fact"><span class="k">{k}</span> {escape(v)}</span>' for k, v in facts
    )


def _stat_cards(report: Mapping[str, Any], scenarios: Sequence[Mapping[str, Any]]) -> str:
    passed, failed, total = _counts(report, scenarios)
    totals, timing = _mapping(report.get("totals")), _mapping(report.get("timing"))
    trials = _text(report.get("trials"), "k")
    cards = [
        _card("passed", f"{passed} / {total}", _pass_meter(passed, failed, total), "ok"),
        _card("failed", str(failed), "", "bad" if failed else "skip"),
        _card(f"pass^{trials}", _percent(report.get("pass_hat_k")), "all trials pass"),
        _card("pass@1", _percent(report.get("pass_at_1")), "single trial"),
        _card("cost", _usd(totals.get("cost_usd")), f"{_int(totals.get('calls'))} model calls"),
        _card("tokens", _int(totals.get("tokens")), ""),
        _card("wall time", _seconds(timing.get("wall_s")), _throughput(timing)),
    ]
    return f'<div class="cards">{"".join(cards)}</div>'


def _card(label: str, value: str, note: str, tone: Tone | None = None) -> str:
    cls = f" {tone}" if tone else ""
    # `note` is either plain text or markup built here (the meter), never report text.
    return (
        f'<div class="card{cls}"><div class="card-label">{escape(label)}</div>'
        f'<div class="card-value">{escape(value)}</div><div class="card-note">{note}</div></div>'
    )


def _pass_meter(passed: int, failed: int, total: int) -> str:
    if total <= 0:
        return ""
    ok, bad = 100 * passed / total, 100 * failed / total
    return (
        '<div class="meter" role="img" '
        f'aria-label="{passed} passed, {failed} failed of {total}">'
        f'<span class="ok" style="width:{ok:.2f}%"></span>'
        f'<span class="bad" style="width:{bad:.2f}%"></span></div>'
    )


def _throughput(timing: Mapping[str, Any]) -> str:
    rate = _number(timing.get("scenarios_per_s"))
    return "" if rate is None else f"{rate:.2f} scenarios/s"


def _failing_links(scenarios: Sequence[Mapping[str, Any]]) -> str:
    links = [
        f'<a href="#{_anchor(s, i)}">{escape(_text(s.get("name"), "unnamed"))}</a>'
        for i, s in enumerate(scenarios)
        if s.get("passed") is False
    ]
    return f'<p class="failing"><strong>Failing:</strong> {", ".join(links)}</p>' if links else ""


def _scenario_table(scenarios: Sequence[Mapping[str, Any]]) -> str:
    if not scenarios:
        return '<p class="empty">This report has no scenarios.</p>'
    head = "".join(
        f"<th{' class=num' if n else ''}>{h}</th>"
        for h, n in [
            ("Scenario", False),
            ("Workflow", False),
            ("Outcome", False),
            ("Trials", False),
            ("Run status", False),
            ("Cost", True),
            ("Tokens", True),
            ("Latency", True),
        ]
    )
    rows = "".join(_table_row(s, i) for i, s in enumerate(scenarios))
    return (
        '<div class="table-wrap"><table class="scenarios">'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _table_row(scenario: Mapping[str, Any], index: int) -> str:
    name = escape(_text(scenario.get("name"), "unnamed"))
    status = _text(scenario.get("status"))
    flaky = _badge("flaky", "other", "some trials failed") if _flaky(scenario) else ""
    cells = [
        f'<a href="#{_anchor(scenario, index)}">{name}</a>',
        escape(_text(scenario.get("workflow"), _MISSING)),
        _outcome_badge(scenario) + flaky,
        _trials(scenario),
        _badge(status, _tone(status)) if status else _MISSING,
    ]
    numbers = [
        _usd(scenario.get("cost_usd")),
        _int(scenario.get("tokens")),
        _seconds(scenario.get("latency_s")),
    ]
    tds = "".join(f"<td>{c}</td>" for c in cells)
    tds += "".join(f'<td class="num">{escape(n)}</td>' for n in numbers)
    return f'<tr class="fail">{tds}</tr>' if scenario.get("passed") is False else f"<tr>{tds}</tr>"


def _trials(scenario: Mapping[str, Any]) -> str:
    done, trials = _number(scenario.get("trials_passed")), _number(scenario.get("trials"))
    if done is None or trials is None:
        return _MISSING
    k, n = int(done), int(trials)
    pips = (
        "".join(f'<span class="pip{" on" if i < k else ""}"></span>' for i in range(n))
        if 0 < n <= 12
        else ""
    )
    return f'<span class="pips" title="{k} of {n} trials passed">{pips}</span> {k}/{n}'


# ---- one scenario ------------------------------------------------------------------------------


def _scenario_section(scenario: Mapping[str, Any], index: int) -> str:
    anchor = _anchor(scenario, index)
    is_open = " open" if scenario.get("passed") is not True else ""
    uid = f"s{index + 1}"
    panels = [
        _panel("Task graph", _graph_svg(_mapping(scenario.get("graph")), uid), wide=True),
        _panel("Timeline", _timeline_svg(scenario.get("timeline")), wide=True),
        _panel("Cost by agent", _cost_bars(scenario.get("cost_by_agent"))),
        _panel("Routing decisions", _routes_table(scenario.get("routes"))),
        _panel("Answer", _answer(scenario), wide=True),
    ]
    return (
        f'<section class="scenario" id="{anchor}"><details{is_open}>'
        f"<summary>{_scenario_summary(scenario)}</summary>"
        f'<div class="scenario-body">{_scenario_intro(scenario)}{_reasons(scenario)}'
        f'{_checks(scenario)}<div class="panels">{"".join(panels)}</div></div>'
        "</details></section>"
    )


def _scenario_summary(scenario: Mapping[str, Any]) -> str:
    replans = _number(scenario.get("replans"))
    replan = (
        _badge(f"{int(replans)} re-plan{'s' if replans != 1 else ''}", "other") if replans else ""
    )
    stats = " · ".join(
        [
            _usd(scenario.get("cost_usd")),
            f"{_int(scenario.get('tokens'))} tokens",
            _seconds(scenario.get("latency_s")),
        ]
    )
    return (
        f'{_outcome_badge(scenario)}<span class="s-name">'
        f"{escape(_text(scenario.get('name'), 'unnamed'))}</span>"
        f'<span class="s-flow">{escape(_text(scenario.get("workflow")))}</span>'
        f'{replan}<span class="s-stats">{escape(stats)}</span>'
    )


def _scenario_intro(scenario: Mapping[str, Any]) -> str:
    description = _text(scenario.get("description"))
    path = _text(scenario.get("path"))
    parts = [f'<p class="desc">{escape(description)}</p>' if description else ""]
    if path:
        parts.append(f'<p class="path"><code>{escape(path)}</code></p>')
    return "".join(parts)


def _reasons(scenario: Mapping[str, Any]) -> str:
    reasons = _strings(scenario.get("reasons"))
    if not reasons and scenario.get("passed") is False:
        reasons = [
            _check_line(c) for c in _maps(scenario.get("checks")) if c.get("passed") is False
        ]
    error = _text(scenario.get("error"))
    if not reasons and not error:
        return ""
    items = "".join(f"<li>{escape(r)}</li>" for r in reasons)
    err = f'<pre class="error">{escape(error)}</pre>' if error else ""
    return (
        '<div class="callout bad"><div class="callout-title">Why it failed</div>'
        f"{f'<ul class=reasons>{items}</ul>' if items else ''}{err}</div>"
    )


def _check_line(check: Mapping[str, Any]) -> str:
    name, detail = _text(check.get("name"), "check"), _text(check.get("detail"))
    return f"{name}: {detail}" if detail else name


def _checks(scenario: Mapping[str, Any]) -> str:
    checks = sorted(_maps(scenario.get("checks")), key=lambda c: c.get("passed") is True)
    if not checks:
        return ""
    items = "".join(_check_item(c) for c in checks)
    passed = sum(c.get("passed") is True for c in checks)
    return (
        f'<div class="checks-head">Checks <span class="muted">{passed}/{len(checks)} passed'
        f'</span></div><ul class="checks">{items}</ul>'
    )


def _check_item(check: Mapping[str, Any]) -> str:
    ok = check.get("passed") is True
    detail = _text(check.get("detail"))
    return (
        f'<li class="{"ok" if ok else "bad"}"><span class="mark">{"✓" if ok else "✗"}</span>'
        f"{escape(_text(check.get('name'), 'check'))}"
        f"{f' <span class=muted>{escape(detail)}</span>' if detail else ''}</li>"
    )


def _panel(title: str, content: str, *, wide: bool = False) -> str:
    cls = "panel wide" if wide else "panel"
    return f'<div class="{cls}"><h3>{escape(title)}</h3>{content}</div>'


def _empty(message: str) -> str:
    return f'<p class="empty">{escape(message)}</p>'


# ---- the task graph as a layered DAG -------------------------------------------------------

_NODE_W: Final = 176
_NODE_H: Final = 56
_COL_GAP: Final = 72
_ROW_GAP: Final = 18
_PAD: Final = 14
_LOOP_ROOM: Final = 40


@dataclass(frozen=True)
class _Node:
    id: str
    agent: str
    status: str
    inputs: tuple[str, ...]
    note: str
    """Third line of the box: tier, model and retries when there were any."""


@dataclass(frozen=True)
class _Dag:
    nodes: tuple[_Node, ...]
    layer: Mapping[str, int]
    xy: Mapping[str, tuple[float, float]]
    width: float
    height: float

    def edges(self) -> Iterable[tuple[str, str]]:
        for node in self.nodes:
            for source in dict.fromkeys(node.inputs):
                if source in self.xy and source != node.id:
                    yield source, node.id


def _graph_nodes(graph: Mapping[str, Any]) -> list[_Node]:
    nodes: dict[str, _Node] = {}
    for index, task in enumerate(_maps(graph.get("tasks"))):
        task_id = _text(task.get("id")) or f"task-{index + 1}"
        if task_id not in nodes:  # a duplicate id keeps its first definition
            nodes[task_id] = _Node(
                id=task_id,
                agent=_text(task.get("agent")),
                status=_text(task.get("status"), "unknown"),
                inputs=tuple(_strings(task.get("inputs"))),
                note=_node_note(task),
            )
    return list(nodes.values())


def _node_note(task: Mapping[str, Any]) -> str:
    model = _text(task.get("model")).rsplit("/", 1)[-1]
    attempts = _number(task.get("attempts"))
    parts = [_text(task.get("tier")), model]
    if attempts is not None and attempts > 1:
        parts.append(f"{int(attempts)} attempts")
    return " · ".join(p for p in parts if p)


def _layers(nodes: Sequence[_Node]) -> dict[str, int]:
    """Longest path from a root; inputs outside the graph are ignored and cycles broken."""
    order = [n.id for n in nodes]
    known = set(order)
    preds = {n.id: [p for p in dict.fromkeys(n.inputs) if p in known and p != n.id] for n in nodes}
    succs: dict[str, list[str]] = {n: [] for n in order}
    for task_id, sources in preds.items():
        for source in sources:
            succs[source].append(task_id)
    waiting = {task_id: len(sources) for task_id, sources in preds.items()}
    ready = deque(t for t in order if waiting[t] == 0)
    layer: dict[str, int] = {}
    while len(layer) < len(order):
        if not ready:  # only a cycle is left: release its first task as if it were a root
            ready.append(next(t for t in order if t not in layer))
        task_id = ready.popleft()
        if task_id in layer:
            continue
        layer[task_id] = 1 + max((layer[p] for p in preds[task_id] if p in layer), default=-1)
        for succ in succs[task_id]:
            waiting[succ] -= 1
            if waiting[succ] == 0:
                ready.append(succ)
    return layer


def _columns(nodes: Sequence[_Node], layer: Mapping[str, int]) -> list[list[_Node]]:
    """Nodes per layer, each layer ordered by where its inputs sit to keep edges short."""
    columns: list[list[_Node]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for node in nodes:
        columns[layer[node.id]].append(node)
    row: dict[str, float] = {}
    ordered: list[list[_Node]] = []
    for column in columns:
        keyed = sorted((_barycentre(n, row, float(i)), i, n) for i, n in enumerate(column))
        ordered.append([n for _, _, n in keyed])
        row.update((n.id, float(i)) for i, n in enumerate(ordered[-1]))
    return ordered


def _barycentre(node: _Node, row: Mapping[str, float], fallback: float) -> float:
    placed = [row[p] for p in node.inputs if p in row]
    return sum(placed) / len(placed) if placed else fallback


def _layout(nodes: Sequence[_Node]) -> _Dag:
    layer = _layers(nodes)
    columns = _columns(nodes, layer)
    tallest = max((len(c) for c in columns), default=0)
    height = 2 * _PAD + tallest * _NODE_H + max(tallest - 1, 0) * _ROW_GAP
    xy: dict[str, tuple[float, float]] = {}
    for col, column in enumerate(columns):
        offset = (tallest - len(column)) * (_NODE_H + _ROW_GAP) / 2
        for row, node in enumerate(column):
            xy[node.id] = (
                _PAD + col * (_NODE_W + _COL_GAP),
                _PAD + offset + row * (_NODE_H + _ROW_GAP),
            )
    width = 2 * _PAD + len(columns) * _NODE_W + max(len(columns) - 1, 0) * _COL_GAP
    dag = _Dag(tuple(nodes), layer, xy, width, height)
    if any(layer[s] >= layer[t] for s, t in dag.edges()):
        dag = _Dag(dag.nodes, layer, xy, width, height + _LOOP_ROOM)
    return dag


def _edge_path(dag: _Dag, source: str, target: str) -> tuple[str, bool]:
    (sx, sy), (tx, ty) = dag.xy[source], dag.xy[target]
    if dag.layer[source] < dag.layer[target]:
        ax, ay, bx, by = sx + _NODE_W, sy + _NODE_H / 2, tx - 2, ty + _NODE_H / 2
        bend = max((bx - ax) / 2, 24)
        return (
            f"M{ax:.1f},{ay:.1f} C{ax + bend:.1f},{ay:.1f} {bx - bend:.1f},{by:.1f} {bx:.1f},{by:.1f}",
            False,
        )
    # A cycle's back edge loops under the boxes, from the bottom of one to the bottom of the other.
    ax, ay, bx, by = sx + _NODE_W / 2, sy + _NODE_H, tx + _NODE_W / 2, ty + _NODE_H + 2
    low = max(ay, by) + _LOOP_ROOM - 6
    return f"M{ax:.1f},{ay:.1f} C{ax:.1f},{low:.1f} {bx:.1f},{low:.1f} {bx:.1f},{by:.1f}", True


def _node_svg(node: _Node, x: float, y: float) -> str:
    tip = "\n".join(
        line
        for line in [
            f"{node.id} ({node.agent or 'no agent'})",
            f"status: {node.status}",
            node.note,
            f"inputs: {', '.join(node.inputs)}" if node.inputs else "",
        ]
        if line
    )
    lines = [
        (_clip(node.id, 20), "n-id", 19),
        (_clip(node.agent, 24), "n-agent", 35),
        (_clip(node.note, 28), "n-note", 49),
    ]
    texts = "".join(
        f'<text class="{cls}" x="{x + 10:.1f}" y="{y + dy:.1f}">{escape(t)}</text>'
        for t, cls, dy in lines
        if t
    )
    return (
        f'<g class="node-g {_tone(node.status)}"><title>{escape(tip)}</title>'
        f'<rect class="node" x="{x:.1f}" y="{y:.1f}" width="{_NODE_W}" height="{_NODE_H}" '
        f'rx="9" ry="9"/>{texts}</g>'
    )


def _graph_svg(graph: Mapping[str, Any], uid: str) -> str:
    nodes = _graph_nodes(graph)
    if not nodes:
        return _empty("No task graph recorded.")
    dag = _layout(nodes)
    marker = f"arrow-{uid}"
    edges = []
    for source, target in dag.edges():
        path, back = _edge_path(dag, source, target)
        cls = "edge back" if back else "edge"
        edges.append(f'<path class="{cls}" d="{path}" marker-end="url(#{marker})"/>')
    boxes = "".join(_node_svg(n, *dag.xy[n.id]) for n in dag.nodes)
    return (
        f'<div class="scroll"><svg class="dag" xmlns="http://www.w3.org/2000/svg" '
        f'width="{dag.width:.0f}" height="{dag.height:.0f}" '
        f'viewBox="0 0 {dag.width:.0f} {dag.height:.0f}" role="img" '
        f'aria-label="Task graph: {len(nodes)} tasks">'
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path class="arrowhead" d="M0,0 L10,5 L0,10 z"/></marker></defs>'
        f"{''.join(edges)}{boxes}</svg></div>{_legend()}"
    )


def _legend() -> str:
    items = [("ok", "completed"), ("bad", "failed"), ("skip", "skipped"), ("other", "other")]
    keys = "".join(f'<span class="key {t}"><i></i>{label}</span>' for t, label in items)
    return f'<div class="legend">{keys}</div>'


# ---- the timeline as a Gantt strip ---------------------------------------------------------

_LABEL_W: Final = 210
_LABEL_CHARS: Final = 29
_PLOT_W: Final = 700
_TAIL_W: Final = 64
_ROW_H: Final = 26
_BAR_H: Final = 14
_AXIS_H: Final = 26


@dataclass(frozen=True)
class _Bar:
    task: str
    agent: str
    start: float
    end: float
    status: str


def _bars(timeline: object) -> list[_Bar]:
    bars = []
    for entry in _maps(timeline):
        start, end = _number(entry.get("start_s")), _number(entry.get("end_s"))
        if start is None:
            continue
        bars.append(
            _Bar(
                task=_text(entry.get("task"), "?"),
                agent=_text(entry.get("agent")),
                start=start,
                end=max(start, end if end is not None else start),
                status=_text(entry.get("status"), "unknown"),
            )
        )
    return bars


def _tick_step(span: float, target: int = 8) -> float:
    raw = span / target
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next((m * magnitude for m in (1, 2, 5) if raw <= m * magnitude), 10 * magnitude)


def _timeline_svg(timeline: object) -> str:
    bars = _bars(timeline)
    if not bars:
        return _empty("No timeline recorded.")
    origin = min(0.0, *(b.start for b in bars))
    span = max(b.end for b in bars) - origin or 1.0
    step = _tick_step(span)
    span = math.ceil(span / step - 1e-9) * step
    width, height = _LABEL_W + _PLOT_W + _TAIL_W, _AXIS_H + len(bars) * _ROW_H + 6

    def x_of(t: float) -> float:
        return _LABEL_W + (t - origin) / span * _PLOT_W

    rows = "".join(_gantt_row(b, i, x_of) for i, b in enumerate(bars))
    return (
        f'<div class="scroll"><svg class="gantt" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Timeline: {len(bars)} tasks over {span:g} seconds">'
        f"{_gantt_axis(origin, span, step, height, x_of)}{rows}</svg></div>"
    )


def _gantt_axis(
    origin: float, span: float, step: float, height: float, x_of: Callable[[float], float]
) -> str:
    ticks = []
    count = round(span / step)
    for i in range(count + 1):
        t = origin + i * step
        x = x_of(t)
        ticks.append(
            f'<line class="grid" x1="{x:.1f}" y1="{_AXIS_H - 6}" x2="{x:.1f}" y2="{height:.0f}"/>'
            f'<text class="tick" x="{x:.1f}" y="{_AXIS_H - 10}">{round(t, 6):g}s</text>'
        )
    return "".join(ticks)


def _gantt_row(bar: _Bar, index: int, x_of: Callable[[float], float]) -> str:
    y = _AXIS_H + index * _ROW_H
    x0, x1 = x_of(bar.start), x_of(bar.end)
    w = max(x1 - x0, 2.0)
    duration = f"{bar.end - bar.start:.2f}".rstrip("0").rstrip(".") + "s"
    tip = f"{bar.task} ({bar.agent or 'no agent'}): {bar.start:g}s → {bar.end:g}s, {bar.status}"
    stripe = (
        f'<rect class="stripe" x="0" y="{y}" width="{_LABEL_W + _PLOT_W + _TAIL_W}" height="{_ROW_H}"/>'
        if index % 2
        else ""
    )
    task = _clip(bar.task, 20)
    room = _LABEL_CHARS - len(task) - 3  # the label column holds about this many characters
    agent = (
        f'<tspan class="g-agent"> · {escape(_clip(bar.agent, room))}</tspan>'
        if bar.agent and room >= 4
        else ""
    )
    return (
        f'{stripe}<g class="{_tone(bar.status)}"><title>{escape(tip)}</title>'
        f'<text class="g-label" x="8" y="{y + _ROW_H / 2 + 4:.1f}">'
        f"{escape(task)}{agent}</text>"
        f'<rect class="bar" x="{x0:.1f}" y="{y + (_ROW_H - _BAR_H) / 2:.1f}" width="{w:.1f}" '
        f'height="{_BAR_H}" rx="3" ry="3"/>'
        f'<text class="g-dur" x="{x0 + w + 5:.1f}" y="{y + _ROW_H / 2 + 4:.1f}">{duration}</text></g>'
    )


# ---- cost, routes, answer ------------------------------------------------------------------


def _cost_bars(costs: object) -> str:
    items = sorted(
        (
            (str(agent), n)
            for agent, value in _mapping(costs).items()
            if (n := _number(value)) is not None
        ),
        key=lambda item: -item[1],
    )
    total, top = sum(n for _, n in items), max((n for _, n in items), default=0.0)
    if not items or top <= 0:
        return _empty("No cost recorded.")
    rows = "".join(
        f'<div class="cost-row"><span class="cost-agent" title="{escape(agent)}">'
        f"{escape(_clip(agent, 22))}</span>"
        f'<span class="cost-track"><span class="cost-fill" style="width:{100 * n / top:.1f}%">'
        f'</span></span><span class="cost-amt">{escape(_usd(n))}'
        f' <span class="muted">{100 * n / total:.0f}%</span></span></div>'
        for agent, n in items
    )
    return (
        f'<div class="costs">{rows}<div class="cost-total">total {escape(_usd(total))}</div></div>'
    )


def _routes_table(routes: object) -> str:
    entries = _maps(routes)
    if not entries:
        return _empty("No routing decisions recorded.")
    rows = "".join(
        "<tr>"
        f"<td><code>{escape(_text(r.get('task'), _MISSING))}</code></td>"
        f'<td class="num">{escape(_text(r.get("attempt"), _MISSING))}</td>'
        f'<td><span class="tier">{escape(_text(r.get("tier"), _MISSING))}</span></td>'
        f"<td>{_badge(_text(r.get('outcome'), '?'), _tone(r.get('outcome')))}</td>"
        f'<td class="reason">{escape(_text(r.get("reason")))}</td>'
        "</tr>"
        for r in entries
    )
    return (
        '<div class="table-wrap"><table class="routes"><thead><tr><th>Task</th>'
        '<th class="num">Try</th><th>Tier</th><th>Outcome</th><th>Reason</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _answer(scenario: Mapping[str, Any]) -> str:
    answer = _text(scenario.get("answer"))
    if not answer:
        return _empty("No answer.")
    short = _shorten(answer)
    if short == answer:
        return f'<pre class="answer">{escape(answer)}</pre>'
    return (
        f'<pre class="answer">{escape(short)}</pre><details class="more">'
        f"<summary>Show the full answer ({len(answer):,} characters)</summary>"
        f'<pre class="answer">{escape(answer)}</pre></details>'
    )


def _shorten(text: str) -> str:
    """At most a screenful, cut at a line or word boundary where one is near."""
    lines = text.splitlines(keepends=True)
    short = "".join(lines[:_ANSWER_LINES])
    if len(short) > _ANSWER_CHARS:
        cut = short[:_ANSWER_CHARS]
        boundary = max(cut.rfind("\n"), cut.rfind(" "))
        short = cut[:boundary] if boundary > _ANSWER_CHARS * 0.8 else cut
    return text if short == text else short.rstrip() + " …"


def _footer(report: Mapping[str, Any]) -> str:
    version = _text(report.get("podium_eval_report"), "?")
    return (
        f'<footer class="foot">Podium evaluation report · format v{escape(version)} · '
        "one self-contained file: no scripts, no network.</footer>"
    )


_CSS: Final = """
:root{--bg:#f6f7f9;--card:#fff;--ink:#1f2328;--muted:#656d76;--line:#d8dee4;
--ok:#1a7f37;--ok-bg:#dafbe1;--bad:#cf222e;--bad-bg:#ffebe9;--warn:#9a6700;--warn-bg:#fff8c5;
--skip:#6e7781;--skip-bg:#eaeef2;--accent:#0969da;--accent-bg:#ddf4ff}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);line-height:1.5;
font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
.page{max-width:1180px;margin:0 auto;padding:28px 24px 48px}
.hero{background:var(--card);border:1px solid var(--line);border-radius:14px;padding:22px 24px}
.hero-top{display:flex;align-items:center;gap:14px;flex-wrap:wrap}
h1{font-size:24px;margin:0;letter-spacing:-.01em}
.meta{margin:6px 0 16px;color:var(--muted)}
.fact{display:inline-block;margin-right:14px}.fact .k{font-weight:600;color:var(--ink)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(132px,1fr));gap:10px}
.card{border:1px solid var(--line);border-radius:10px;padding:10px 14px;background:#fbfcfd}
.card.ok{border-top:3px solid var(--ok)}.card.bad{border-top:3px solid var(--bad)}
.card.skip{border-top:3px solid var(--skip-bg)}
.card-label{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.card-value{font-size:22px;font-weight:650;font-variant-numeric:tabular-nums}
.card-note{font-size:12px;color:var(--muted);min-height:18px}
.meter{display:flex;height:6px;border-radius:3px;overflow:hidden;background:var(--skip-bg);margin-top:6px}
.meter .ok{background:var(--ok)}.meter .bad{background:var(--bad)}
.failing{margin:14px 0 0}.failing a{color:var(--bad);font-weight:600}
.badge{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;
border:1px solid transparent;white-space:nowrap;margin-right:4px;text-transform:lowercase}
.badge.ok{color:var(--ok);background:var(--ok-bg);border-color:#aceebb}
.badge.bad{color:var(--bad);background:var(--bad-bg);border-color:#ffcecb}
.badge.other{color:var(--warn);background:var(--warn-bg);border-color:#f5e0a0}
.badge.skip{color:var(--skip);background:var(--skip-bg);border-color:var(--line)}
.hero-top .badge{font-size:14px;padding:3px 12px}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:middle}
th{font-size:12px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.04em}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.scenarios{margin-top:18px;background:var(--card);border:1px solid var(--line);border-radius:12px;
border-collapse:separate;border-spacing:0;overflow:hidden}
table.scenarios tbody tr:last-child td{border-bottom:0}
table.scenarios tr.fail td{background:#fff8f7}
table.scenarios td:first-child a{font-weight:600}
.pips{display:inline-flex;gap:3px;vertical-align:middle}
.pip{width:8px;height:8px;border-radius:50%;background:var(--bad-bg);border:1px solid #ffcecb}
.pip.on{background:var(--ok);border-color:var(--ok)}
.section-title{font-size:18px;margin:30px 0 10px}
.scenario{margin:12px 0}
.scenario>details{background:var(--card);border:1px solid var(--line);border-radius:12px}
.scenario>details[open]{box-shadow:0 1px 3px rgba(31,35,40,.06)}
.scenario>details>summary{cursor:pointer;padding:12px 16px;display:flex;align-items:center;
gap:8px;flex-wrap:wrap;list-style:none}
.scenario>details>summary::-webkit-details-marker{display:none}
.scenario>details>summary::before{content:"▸";color:var(--muted);width:12px}
.scenario>details[open]>summary::before{content:"▾"}
.s-name{font-weight:650;font-size:15px}
.s-flow{color:var(--muted);background:var(--bg);border-radius:6px;padding:0 7px;font-size:12px}
.s-stats{margin-left:auto;color:var(--muted);font-variant-numeric:tabular-nums;font-size:13px}
.scenario-body{padding:2px 18px 18px;border-top:1px solid var(--line)}
.desc{margin:12px 0 2px}.path{margin:2px 0 10px;color:var(--muted);font-size:12px}
.callout{border-radius:10px;padding:10px 14px;margin:12px 0}
.callout.bad{background:var(--bad-bg);border:1px solid #ffcecb;border-left:4px solid var(--bad)}
.callout-title{font-weight:700;color:var(--bad)}
.reasons{margin:4px 0 0;padding-left:20px}.reasons li{margin:2px 0}
pre.error{margin:8px 0 0;white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px;color:var(--bad)}
.checks-head{font-weight:600;margin:12px 0 4px}
.checks{list-style:none;margin:0;padding:0;columns:2 320px;column-gap:24px}
.checks li{break-inside:avoid;padding:2px 0}
.checks .mark{display:inline-block;width:18px;font-weight:700}
.checks .ok .mark{color:var(--ok)}.checks .bad{color:var(--bad)}
.muted{color:var(--muted)}
.panels{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:14px;margin-top:14px}
.panel{border:1px solid var(--line);border-radius:10px;padding:10px 14px;min-width:0}
.panel.wide{grid-column:1/-1}
.panel h3{margin:0 0 8px;font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
.scroll{overflow-x:auto}
.empty{color:var(--muted);font-style:italic;margin:6px 0}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
svg.dag .node{stroke-width:1.5}
svg.dag .edge{fill:none;stroke:#8c959f;stroke-width:1.6}
svg.dag .edge.back{stroke-dasharray:5 4;stroke:#bf8700}
svg.dag .arrowhead{fill:#8c959f}
svg.dag .n-id{font-size:13px;font-weight:650;fill:var(--ink)}
svg.dag .n-agent{font-size:11.5px;fill:#424a53}
svg.dag .n-note{font-size:10.5px;fill:var(--muted)}
.node-g.ok .node{fill:#eefbf1;stroke:#2da44e}.node-g.bad .node{fill:#fff0ee;stroke:var(--bad)}
.node-g.skip .node{fill:#f6f8fa;stroke:#8c959f;stroke-dasharray:4 3}
.node-g.other .node{fill:#fffbe6;stroke:#d4a72c}
.legend{display:flex;gap:14px;font-size:12px;color:var(--muted);margin-top:6px}
.key i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:5px;
vertical-align:-2px;border:1.5px solid}
.key.ok i{background:#eefbf1;border-color:#2da44e}.key.bad i{background:#fff0ee;border-color:var(--bad)}
.key.skip i{background:#f6f8fa;border-color:#8c959f;border-style:dashed}
.key.other i{background:#fffbe6;border-color:#d4a72c}
svg.gantt .grid{stroke:#e4e8ec;stroke-width:1}
svg.gantt .tick{font-size:11px;fill:var(--muted);text-anchor:middle}
svg.gantt .stripe{fill:#f6f8fa}
svg.gantt .g-label{font-size:12px;font-weight:600;fill:var(--ink)}
svg.gantt .g-agent{font-weight:400;fill:var(--muted)}
svg.gantt .g-dur{font-size:11px;fill:var(--muted)}
svg.gantt .ok .bar{fill:#2da44e}svg.gantt .bad .bar{fill:var(--bad)}
svg.gantt .skip .bar{fill:#afb8c1}svg.gantt .other .bar{fill:#d4a72c}
.cost-row{display:grid;grid-template-columns:150px 1fr 110px;align-items:center;gap:10px;padding:3px 0}
.cost-agent{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-weight:500}
.cost-track{height:12px;background:var(--bg);border-radius:6px;overflow:hidden}
.cost-fill{display:block;height:100%;background:linear-gradient(90deg,#54aeff,var(--accent));border-radius:6px}
.cost-amt{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.cost-total{text-align:right;color:var(--muted);font-size:12px;margin-top:4px}
table.routes td,table.routes th{padding:5px 8px}
.tier{background:var(--accent-bg);color:var(--accent);border-radius:6px;padding:0 7px;font-size:12px}
.reason{color:var(--muted)}
pre.answer{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;border:1px solid var(--line);
border-radius:8px;padding:10px 12px;margin:0;font-size:12.5px;max-height:none}
details.more{margin-top:8px}details.more>summary{cursor:pointer;color:var(--accent);font-size:13px}
details.more pre{margin-top:8px}
.foot{margin-top:32px;color:var(--muted);font-size:12px;text-align:center}
@media print{body{background:#fff}.scenario>details{break-inside:avoid}}
"""
