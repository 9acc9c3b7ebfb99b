"""Eval reports and comparisons as terminal tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from ._compare import Comparison


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    k = report["trials"]
    table = Table(
        "scenario", "workflow", "result", f"trials (k={k})", "cost $", "tokens", "latency s", "why"
    )
    for row in report["scenarios"]:
        mark = "[green]pass[/]" if row["passed"] else "[red]FAIL[/]"
        reasons = row["reasons"][0] if row["reasons"] else ""
        table.add_row(
            row["name"],
            row["workflow"],
            mark,
            f"{row['trials_passed']}/{row['trials']}",
            f"{row['cost_usd']:.5f}",
            str(row["tokens"]),
            f"{row['latency_s']:.2f}",
            reasons[:90],
        )
    console.print(table)
    totals, timing = report["totals"], report["timing"]
    console.print(
        f"{report['passed']}/{report['scenarios_total']} scenarios passed  "
        f"pass^{k}={report['pass_hat_k']:.3f}  pass@1={report['pass_at_1']:.3f}  "
        f"cost ${totals['cost_usd']:.5f}  tokens {totals['tokens']}  "
        f"({report['mode']}, {timing['wall_s']:.2f} s wall, {timing['scenarios_per_s']} runs/s)"
    )


def print_comparison(comparison: Comparison, console: Console | None = None) -> None:
    console = console or Console()
    table = Table("scenario", "change", "base", "new", "cost", "latency", "notes")
    styles = {"regressed": "[red]regressed[/]", "improved": "[green]improved[/]"}
    for c in comparison.changes:
        table.add_row(
            c.name,
            styles.get(c.verdict, c.verdict),
            _outcome(c.base_passed),
            _outcome(c.new_passed),
            _delta(c.cost_delta),
            _delta(c.latency_delta),
            "; ".join(c.notes)[:100],
        )
    console.print(table)
    console.print(
        f"pass^k {comparison.base_pass_hat_k:.3f} -> {comparison.new_pass_hat_k:.3f}; "
        f"{len(comparison.regressions)} regression(s)"
    )


def _outcome(passed: bool | None) -> str:
    return "-" if passed is None else ("pass" if passed else "FAIL")


def _delta(value: float | None) -> str:
    if value is None:
        return "-"
    return "new cost" if value == float("inf") else f"{value:+.1%}"
