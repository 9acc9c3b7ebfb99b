"""Redaction: secrets (and, when configured, PII) are masked before text is logged, stored or recorded."""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SECRET_PATTERNS: dict[str, str] = {
    "private_key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    "openai_key": r"\bsk-(?:proj-|ant-[a-z0-9]+-)?[A-Za-z0-9_\-]{20,}",
    "aws_access_key": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b",
    "slack_token": r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    "google_api_key": r"\bAIza[0-9A-Za-z_\-]{35}\b",
    "jwt": r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
    "bearer_token": r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]{16,}=*",
    # `api_key = "..."`, `password: ...`: keep the name, mask the value.
    "assigned_secret": (
        r"(?i)(?P<keep>\b(?:api[_-]?key|secret|token|password|passwd)\b[\"']?\s*[:=]\s*[\"']?)"
        r"[^\s\"',;]{8,}"
    ),
}
"""Credential shapes that are never legitimate model, memory or cassette content."""

PII_PATTERNS: dict[str, str] = {
    "email": r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b",
    "phone": r"(?<![\w.])\+?\d[\d \-().]{7,}\d\b",
    "credit_card": r"\b(?:\d[ \-]?){13,16}\b",
    "iban": r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}\b",
}
"""Personal data patterns; off by default because sales and recruiting work needs contact details."""

_SECRET_ENV_NAME = re.compile(r"(?i)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$")
_MIN_ENV_SECRET_CHARS = 8


@dataclass(frozen=True)
class Redactor:
    """Masks secrets, the values of secret-looking environment variables, and chosen PII kinds.

    `redact(text)` replaces each finding with `[REDACTED:kind]`; it is idempotent.
    """

    pii: frozenset[str] = frozenset()
    """PII kinds to mask, from PII_PATTERNS (e.g. {"email", "phone"})."""
    extra_patterns: Mapping[str, str] = field(default_factory=dict)
    """More patterns by kind, e.g. an internal ticket-token format."""
    literals: tuple[str, ...] = ()
    """Exact strings to mask (besides secret environment variables, which are always masked)."""
    include_env: bool = True
    secrets: bool = True
    """Mask the credential shapes of SECRET_PATTERNS (off only for a PII-only redactor)."""

    def __post_init__(self) -> None:
        unknown = sorted(self.pii - set(PII_PATTERNS))
        if unknown:
            raise ValueError(f"unknown PII kind(s) {unknown}: choose from {sorted(PII_PATTERNS)}")

    def redact(self, text: str) -> str:
        return self._redact(text, self._literals())

    def redact_data(self, value: Any) -> Any:
        """`redact` applied to every string inside JSON-like data (dicts, lists, scalars)."""
        return self._redact_data(value, self._literals())

    def _redact(self, text: str, literals: list[str]) -> str:
        for literal in literals:
            text = text.replace(literal, "[REDACTED:env_secret]")
        for kind, pattern in self._patterns():
            text = pattern.sub(_replacement(kind), text)
        return text

    def _redact_data(self, value: Any, literals: list[str]) -> Any:
        # The environment is read once per call, not once per string: an audit record holds dozens.
        if isinstance(value, str):
            return self._redact(value, literals)
        if isinstance(value, Mapping):
            return {k: self._redact_data(v, literals) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._redact_data(v, literals) for v in value]
        return value

    def _literals(self) -> list[str]:
        found = list(self.literals)
        if self.include_env:
            found += secret_env_values()
        # Longest first, so a secret that contains another is masked whole.
        return sorted({s for s in found if s}, key=len, reverse=True)

    def _patterns(self) -> Iterable[tuple[str, re.Pattern[str]]]:
        if self.secrets:
            yield from _compiled(tuple(SECRET_PATTERNS.items()))
        yield from _compiled(tuple((k, PII_PATTERNS[k]) for k in sorted(self.pii)))
        yield from _compiled(tuple(self.extra_patterns.items()))


def secret_env_values() -> list[str]:
    """Values of environment variables whose names end like a credential (OPENAI_API_KEY, ...)."""
    # os.environ's own dict (bytes are decoded only for the secret-looking names) and a cached
    # name check: this runs for every redacted record, and a server redacts thousands a second.
    return [
        value
        for name in list(os.environ)
        if _is_secret_name(name) and len(value := os.environ.get(name, "")) >= _MIN_ENV_SECRET_CHARS
    ]


@functools.lru_cache(maxsize=4096)
def _is_secret_name(name: str) -> bool:
    return _SECRET_ENV_NAME.search(name) is not None


_cache: dict[tuple[tuple[str, str], ...], list[tuple[str, re.Pattern[str]]]] = {}


def _compiled(items: tuple[tuple[str, str], ...]) -> list[tuple[str, re.Pattern[str]]]:
    if items not in _cache:
        _cache[items] = [(kind, re.compile(pattern)) for kind, pattern in items]
    return _cache[items]


def _replacement(kind: str) -> Any:
    def replace(match: re.Match[str]) -> str:
        keep = match.groupdict().get("keep") or ""
        return f"{keep}[REDACTED:{kind}]"

    return replace


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message (and its arguments) in place."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redactor.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


LOGGERS = (
    "podium",
    "podium.memory",
    "podium.runtime",
    "LiteLLM",
    "LiteLLM Router",
    "LiteLLM Proxy",
    "guardrails",
    "langgraph",
    "chromadb",
    "httpx",
)
"""Loggers Podium and its libraries write to (a logger's filter sees only its own records)."""


def redact_logs(redactor: Redactor, loggers: Iterable[str] = LOGGERS) -> None:
    """Make every record of `loggers` pass `redactor` before any handler sees it (idempotent)."""
    for name in loggers:
        logger = logging.getLogger(name)
        for existing in [f for f in logger.filters if isinstance(f, RedactingFilter)]:
            logger.removeFilter(existing)
        logger.addFilter(RedactingFilter(redactor))
