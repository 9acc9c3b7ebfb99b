"""Output guards: a guardrails-ai `Guard` built from named validators, and its verdict in Podium's terms.

A validator is named in an agent card or `podium.toml` as a string (`"no_secrets"`) or a
table (`{name = "valid_length", max = 4000, on_fail = "reask"}`). Each has an on-fail action,
guardrails-ai's own: reask, fix, filter, refrain, exception, noop. The runtime maps the
verdict onto its failure ladder (see `Verdict.action`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from podium.errors import PodiumSignal

from ._redact import Redactor

OnFail = Literal["reask", "fix", "filter", "refrain", "exception", "noop"]
Action = Literal["pass", "fixed", "noted", "reask", "filter", "refrain", "exception"]
"""What a guard decided about one output.

pass: nothing failed. fixed: validators with on_fail=fix rewrote it (the fixed text is used).
noted: only noop validators failed (the output goes on; the failures are recorded).
reask: ask the same agent again with the validators' messages, then climb the ladder.
filter: the output is withheld; a stronger model may do better (the ladder skips the re-ask).
refrain: the output is withheld and the task ends; the supervisor is told (it may re-plan).
exception: the output is withheld and a human is asked straight away.
"""
Target = Literal["goal", "plan", "task", "answer"]

PASSING: frozenset[Action] = frozenset({"pass", "fixed", "noted"})
SEVERITY: Mapping[OnFail, int] = {
    "noop": 0,
    "fix": 1,
    "reask": 2,
    "filter": 3,
    "refrain": 4,
    "exception": 5,
}


_REDACT = Redactor()


class GuardConfigError(PodiumSignal, ValueError):
    """A validator reference is malformed or names an unknown validator (a signal: pydantic
    folds its text into the configuration's error)."""

    code = "guard_config_invalid"


class ValidatorRef(BaseModel):
    """One validator as configured: its name, arguments and on-fail action."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1)
    on_fail: OnFail | None = None
    """None: the validator's default (see DEFAULT_ON_FAIL), else reask."""

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @property
    def short_name(self) -> str:
        return self.name.split("/", 1)[1] if "/" in self.name else self.name

    @property
    def action(self) -> OnFail:
        return self.on_fail or DEFAULT_ON_FAIL.get(self.short_name, "reask")

    @property
    def args(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def label(self) -> str:
        return self.short_name


DEFAULT_ON_FAIL: Mapping[str, OnFail] = {
    "no_secrets": "fix",
    "no_pii": "fix",
    "no_agent_directives": "fix",
    "no_prompt_leak": "fix",
    "safe_html": "fix",
    "secrets_present": "fix",
    "ban_list": "fix",
    # Its fix takes out only the invented URLs and citations; a re-ask of a small model brings
    # new ones (a 135M writer failed a recruiting run three re-plans deep on invented links).
    "cites_given_sources": "fix",
}
"""Validators whose fix is sound default to fix; the rest to reask."""

VALIDATOR_NAMES = (
    "valid_length",
    "regex_match",
    "valid_json",
    "secrets_present",
    "web_sanitization",
    "no_secrets",
    "no_pii",
    "no_agent_directives",
    "no_prompt_leak",
    "cites_given_sources",
    "output_schema",
    "ban_list",
    "safe_html",
    "no_debris",
)
"""Every validator a card or podium.toml may name (the first five are guardrails-ai packages);
known without importing guardrails-ai, so configs are checked fast."""


def parse_refs(raw: Iterable[str | Mapping[str, Any] | ValidatorRef]) -> tuple[ValidatorRef, ...]:
    refs = tuple(r if isinstance(r, ValidatorRef) else ValidatorRef.model_validate(r) for r in raw)
    unknown = sorted({r.short_name for r in refs} - set(VALIDATOR_NAMES))
    if unknown:
        raise GuardConfigError(
            f"unknown validator(s) {unknown}: known validators are {sorted(VALIDATOR_NAMES)}"
        )
    return refs


class GuardFailure(BaseModel):
    model_config = ConfigDict(frozen=True)

    validator: str
    on_fail: OnFail
    message: str


class Verdict(BaseModel):
    """One guard check of one output: what failed, and what the runtime does about it."""

    model_config = ConfigDict(frozen=True)

    target: Target
    subject: str
    """The task id, or "goal" / "plan" / "answer"."""
    agent: str | None = None
    action: Action
    failures: tuple[GuardFailure, ...] = ()
    duration_ms: float = 0.0
    attempt: int = 1

    @property
    def passed(self) -> bool:
        return self.action in PASSING

    @property
    def message(self) -> str:
        if not self.failures and not self.passed:
            return "withheld, though no validator named a failure"
        return "; ".join(f"{f.validator}: {f.message}" for f in self.failures)


class OutputGuard:
    """A guardrails-ai Guard over a fixed list of validators. Thread-safe; build once, reuse."""

    def __init__(self, name: str, refs: Sequence[ValidatorRef]) -> None:
        from ._guardrails import new_guard
        from ._validators import CATALOGUE

        self.name = name
        self.refs = tuple(refs)
        validators = []
        self._by_class: dict[str, ValidatorRef] = {}
        for ref in self.refs:
            try:
                validator = CATALOGUE[ref.short_name](**ref.args, on_fail=ref.action)
            except TypeError as exc:
                raise GuardConfigError(f"validator {ref.name!r}: bad arguments: {exc}") from None
            self._by_class.setdefault(type(validator).__name__, ref)
            validators.append(validator)
        self._guard = new_guard(name, validators) if validators else None
        self._lock = threading.Lock()

    def check(
        self,
        text: str,
        *,
        target: Target,
        subject: str,
        agent: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        attempt: int = 1,
    ) -> tuple[Verdict, str | None]:
        """Validate `text`; returns the verdict and the text to use (None when withheld)."""
        started = time.perf_counter()
        action, output, failures = self._run(text, dict(metadata or {}))
        verdict = Verdict(
            target=target,
            subject=subject,
            agent=agent,
            action=action,
            failures=tuple(failures),
            duration_ms=(time.perf_counter() - started) * 1000,
            attempt=attempt,
        )
        return verdict, output

    def _run(
        self, text: str, metadata: dict[str, Any]
    ) -> tuple[Action, str | None, list[GuardFailure]]:
        if self._guard is None:
            return "pass", text, []
        from guardrails.errors import ValidationError

        try:
            with self._lock:  # the Guard's history is shared; one check at a time is ~1 ms
                outcome = self._guard.validate(text, metadata=metadata)
        except ValidationError as exc:
            raised = [r for r in self.refs if r.action == "exception"]
            name = raised[0].label() if len(raised) == 1 else "exception validators"
            message = _REDACT.redact(
                str(exc).removeprefix("Validation failed for field with errors: ")
            )
            return (
                "exception",
                None,
                [GuardFailure(validator=name, on_fail="exception", message=message)],
            )
        failures = [self._failure(s) for s in outcome.validation_summaries or []]
        if outcome.reask is not None:
            return "reask", None, failures
        if not outcome.validation_passed:
            worst = max((f.on_fail for f in failures), key=lambda a: SEVERITY[a], default="noop")
            if outcome.validated_output is None or worst in ("filter", "refrain"):
                return ("refrain" if worst == "refrain" else "filter"), None, failures
            return "noted", text, failures
        validated = outcome.validated_output
        output = validated if isinstance(validated, str) else text
        if not failures:
            return "pass", output, []
        only_noop = all(f.on_fail == "noop" for f in failures)
        return ("noted" if only_noop else "fixed"), output, failures

    def _failure(self, summary: Any) -> GuardFailure:
        ref = self._by_class.get(summary.validator_name)
        return GuardFailure(
            validator=ref.label() if ref else str(summary.validator_name),
            on_fail=ref.action if ref else "reask",
            # Some packages quote what they found (secrets_present lists the secrets).
            message=_REDACT.redact(str(summary.failure_reason or "failed")),
        )
