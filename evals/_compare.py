"""Regression compare: two eval reports side by side, what got better and what got worse."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ._scenario import ScenarioError

Verdict = Literal["regressed", "improved", "same", "new", "removed"]


@dataclass(frozen=True)
class Change:
    name: str
    verdict: Verdict
    base_passed: bool | None
    new_passed: bool | None
    cost_delta: float | None
    """Relative change of cost (0.25 = 25% dearer); None without a base cost."""
    latency_delta: float | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Comparison:
    changes: tuple[Change, ...]
    base_pass_hat_k: float
    new_pass_hat_k: float

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.verdict == "regressed"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "base_pass_hat_k": self.base_pass_hat_k,
            "new_pass_hat_k": self.new_pass_hat_k,
            "regressions": len(self.regressions),
            "changes": [c.__dict__ | {"notes": list(c.notes)} for c in self.changes],
        }


def load_report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(
            f"report {path} does not exist: write one with `podium eval run --json-out`"
        ) from None
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"report {path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or "podium_eval_report" not in data:
        raise ScenarioError(f"{path} is not a `podium eval run --json-out` report")
    return data


def compare(
    base: dict[str, Any],
    new: dict[str, Any],
    *,
    cost_tolerance: float = 0.10,
    latency_tolerance: float = 0.25,
) -> Comparison:
    """Pass→fail flips regress; so do cost or latency rises beyond the tolerances on passing scenarios."""
    old = {s["name"]: s for s in base.get("scenarios", [])}
    now = {s["name"]: s for s in new.get("scenarios", [])}
    changes = [
        _change(name, old.get(name), now.get(name), cost_tolerance, latency_tolerance)
        for name in sorted(set(old) | set(now))
    ]
    return Comparison(
        tuple(changes), float(base.get("pass_hat_k", 0.0)), float(new.get("pass_hat_k", 0.0))
    )


def _change(
    name: str,
    old: dict[str, Any] | None,
    now: dict[str, Any] | None,
    cost_tol: float,
    lat_tol: float,
) -> Change:
    if old is None or now is None:
        row = now or old
        assert row is not None
        return Change(
            name,
            "new" if old is None else "removed",
            None if old is None else bool(old["passed"]),
            None if now is None else bool(now["passed"]),
            None,
            None,
        )
    cost = _relative(old.get("cost_usd"), now.get("cost_usd"))
    latency = _relative(old.get("latency_s"), now.get("latency_s"))
    was, is_ = bool(old["passed"]), bool(now["passed"])
    notes: list[str] = []
    verdict: Verdict = "same"
    if was and not is_:
        verdict = "regressed"
        notes += list(now.get("reasons", []))[:2]
    elif is_ and not was:
        verdict = "improved"
    elif is_:
        if cost is not None and cost > cost_tol:
            notes.append(f"cost up {cost:+.0%} (tolerance {cost_tol:.0%})")
        if latency is not None and latency > lat_tol:
            notes.append(f"latency up {latency:+.0%} (tolerance {lat_tol:.0%})")
        if notes:
            verdict = "regressed"
        if verdict == "same" and ((cost or 0) < -cost_tol or (latency or 0) < -lat_tol):
            verdict = "improved"
    if now.get("trials_passed", 0) < now.get("trials", 0) and old.get("trials_passed") == old.get(
        "trials"
    ):
        notes.append(f"pass^k lost: {now.get('trials_passed')}/{now.get('trials')} trials passed")
    return Change(name, verdict, was, is_, cost, latency, tuple(notes))


def _relative(before: Any, after: Any) -> float | None:
    if not isinstance(before, int | float) or not isinstance(after, int | float):
        return None
    if before == 0:
        return None if after == 0 else float("inf")
    return round((after - before) / before, 6)
