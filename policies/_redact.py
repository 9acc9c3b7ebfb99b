"""Redaction: secrets (and, when configured, PII) are masked before text is logged, stored or recorded."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SECRET_PATTERNS: dict[str, str] = {
    # Our own rules cover what detect-secrets (below) lacks: whole PEM blocks (it flags only the
    # BEGIN line), OpenAI/Anthropic-style `sk-` keys without its `T3BlbkFJ` marker, Google API
    # keys, bearer headers, JWTs whose parts do not decode (it verifies them), and assignments to
    # any name that *contains* a secret word (`aws_secret_access_key=`, `X_AUTH_TOKEN:`), which
    # its keyword list matches only as a name's prefix and only with quotes in free text.
    # The AWS, GitHub and Slack rules overlap its detectors and stay because they are broader
    # (`github_pat_` tokens, Slack tokens without its digit groups) and name the same kinds.
    "private_key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    "openai_key": r"\bsk-(?:proj-|ant-[a-z0-9]+-|live-|test-)?[A-Za-z0-9_\-]{20,}",
    "stripe_key": r"\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}",
    "aws_access_key": r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b",
    "slack_token": r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    "npm_token": r"\bnpm_[A-Za-z0-9]{36}\b",
    "huggingface_token": r"\bhf_[A-Za-z0-9]{30,}\b",
    "google_api_key": r"\bAIza[0-9A-Za-z_\-]{35}\b",
    "jwt": r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
    "bearer_token": r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]{16,}=*",
    "url_password": r"(?i)(?P<keep>\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:)[^\s/@]{3,}(?=@)",
    # `api_key = "..."`, `password: ...`, `aws_secret_access_key=...`: keep the name, mask the value.
    "assigned_secret": (
        # Anchored at the secret word (a scan from every name's start is 10x slower); the name's
        # prefix stays as it is. Not a value that is a number (`cost_per_token = 0.0000002`) or
        # an environment variable's NAME (`api_key_env = "LLAMA_KEY"`).
        r"(?i)(?P<keep>(?:(?<=[_.\-])|\b)(?:api[_-]?key|secrets?|token|password|passwd"
        r"|credentials?|access[_-]?key|private[_-]?key)(?:[_.\-][\w.\-]*)?[\"']?\s*(?:[:=]|=>)"
        r"\s*[\"']?)(?!\[REDACTED)(?![\d.]+\b)(?-i:(?![A-Z][A-Z0-9_]+\b))[^\s\"',;]{8,}"
    ),
}
"""Credential shapes that are never legitimate model, memory or cassette content (besides the
detectors of detect-secrets, which run first: see `_detect_secrets_findings`)."""

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
        masking = _Masking(text)
        for kind, pattern in self._patterns():
            masking.sub(pattern, kind)
        if self.secrets:
            # After our own rules: a PEM block is masked whole before its header is detected.
            masking.mask_detected()
        return masking.text

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


# -- detect-secrets ------------------------------------------------------------------------
# Its plugins are the well-kept list of credential shapes (AWS, Azure, Stripe, GitHub, GitLab,
# Slack, Discord, Twilio, SendGrid, Mailchimp, npm, PyPI, Telegram, IBM, private keys, basic
# auth in URLs, keyword assignments, high-entropy quoted strings). We call each plugin's
# `analyze_string` directly rather than `scan_line`: that one reads global settings and runs
# filters meant for files; verification (a network call) is never made.

_DETECTOR_KINDS: dict[str, str] = {
    "aws.AWSKeyDetector": "aws_access_key",
    "artifactory.ArtifactoryDetector": "artifactory_token",
    "azure_storage_key.AzureStorageKeyDetector": "azure_storage_key",
    "basic_auth.BasicAuthDetector": "url_password",
    "discord.DiscordBotTokenDetector": "discord_token",
    "github_token.GitHubTokenDetector": "github_token",
    "gitlab_token.GitLabTokenDetector": "gitlab_token",
    "jwt.JwtTokenDetector": "jwt",
    "keyword.KeywordDetector": "assigned_secret",
    "mailchimp.MailchimpDetector": "mailchimp_key",
    "npm.NpmDetector": "npm_token",
    "openai.OpenAIDetector": "openai_key",
    "private_key.PrivateKeyDetector": "private_key",
    "pypi_token.PypiTokenDetector": "pypi_token",
    "sendgrid.SendGridDetector": "sendgrid_key",
    "slack.SlackDetector": "slack_token",
    "square_oauth.SquareOAuthDetector": "square_token",
    "stripe.StripeDetector": "stripe_key",
    "telegram_token.TelegramBotTokenDetector": "telegram_token",
    "twilio.TwilioKeyDetector": "twilio_key",
    "high_entropy_strings.Base64HighEntropyString": "high_entropy_secret",
}
"""detect-secrets plugins we run, and the kind each masks as. Not IPPublicDetector (an IP
address is not a credential); not the Cloudant, IBM and SoftLayer detectors (their keyword
context regexes cost 40-70 ms per 60 KB each, more than all others together, for keys that
the keyword rules still catch when assigned); nor HexHighEntropyString: record ids, UUIDs and commit hashes are
hex, and a tool's result must keep them."""

_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]+")
_SEGMENT = re.compile(r"[\r\n]+|[,;{}\[\]](?=\s*[\"'])")
_KEYWORD_HINT = re.compile(r"(?i)key|pass|pwd|secret|contrase")
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-+/]")
_MIN_HIGH_ENTROPY_CHARS = 20
"""A quoted string shorter than this is not flagged for its entropy alone (ids, short codes)."""


@functools.cache
def _detectors() -> tuple[tuple[str, Any], ...]:
    # Imported on first use: detect-secrets pulls in requests, and most commands never redact.
    import importlib

    found = []
    for path in _DETECTOR_KINDS:
        module, name = path.split(".")
        plugin = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), name)
        found.append((path, plugin()))
    return tuple(found)


def _detect_secrets_findings(text: str) -> list[tuple[str, str]]:
    """(kind, value) for every credential detect-secrets finds in `text`."""
    from detect_secrets.plugins.keyword import QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP

    findings: list[tuple[str, str]] = []
    for name, plugin in _detectors():
        kind = _DETECTOR_KINDS[name]
        if name == "keyword.KeywordDetector":
            # Its patterns find one match per string and scan the whole of it: so one line at a
            # time, and a long line (a JSON result on one line) split where a new quoted item
            # starts; only pieces with a keyword in them (a cheap filter).
            for line in _SEGMENT.split(text):
                if not _KEYWORD_HINT.search(line):
                    continue
                # The quoted forms only: its unquoted (config-file) form takes the rest of the
                # line as the value ("secretary: Margaret Thompson ..."). Unquoted assignments
                # are our `assigned_secret` rule's.
                findings += [
                    (kind, v)
                    for v in plugin.analyze_string(line, QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP)
                    if not _ENV_NAME.fullmatch(v)  # `api_key_env = "LLAMA_KEY"` names a variable
                ]
        elif name.endswith("HighEntropyString"):
            # analyze_string yields every quoted string; the entropy limit is ours to apply.
            findings += [
                (kind, v)
                for v in plugin.analyze_string(text)
                if len(v) >= _MIN_HIGH_ENTROPY_CHARS
                and plugin.calculate_shannon_entropy(v) > plugin.entropy_limit
            ]
        else:
            findings += [(kind, v) for v in plugin.analyze_string(text) if isinstance(v, str)]
    return findings


_ESCAPE = re.compile(r"\\[nrtbf\\/\"]")


class _Masking:
    """A text being masked, and its shadow: the same text with JSON escapes (`\\n`, `\\"`)
    as blanks of the same length. Patterns run on the shadow, masks go into both.

    Secrets often arrive inside JSON text (a tool result kept as a string, a checkpoint): there
    `\\nsk-live-...` glues the escape's letter to the key (no word boundary before `sk`) and
    `password = \\"...\\"` hides the quote from an assignment rule.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.shadow = (
            _ESCAPE.sub(lambda m: ' "' if m.group() == '\\"' else "  ", text)
            if "\\" in text
            else text
        )

    def sub(self, pattern: re.Pattern[str], kind: str) -> None:
        spans = []
        for match in pattern.finditer(self.shadow):
            keep = match.groupdict().get("keep")
            kept = self.text[match.start("keep") : match.end("keep")] if keep is not None else ""
            spans.append((match.start(), match.end(), f"{kept}[REDACTED:{kind}]"))
        self._replace(spans)

    def mask_detected(self) -> None:
        findings = sorted(set(_detect_secrets_findings(self.shadow)), key=lambda f: -len(f[1]))
        for kind, value in findings:
            if len(value) >= 4 and "REDACTED" not in value:
                self._replace(_token_spans(self.shadow, value, f"[REDACTED:{kind}]"))

    def _replace(self, spans: list[tuple[int, int, str]]) -> None:
        if not spans:
            return
        text, shadow, position = [], [], 0
        for start, end, mask in spans:
            text += [self.text[position:start], mask]
            shadow += [self.shadow[position:start], mask]
            position = end
        self.text = "".join([*text, self.text[position:]])
        self.shadow = "".join([*shadow, self.shadow[position:]])


def _token_spans(text: str, value: str, mask: str) -> list[tuple[int, int, str]]:
    """Each occurrence of `value`, widened to the token it sits in.

    Detectors report a fixed-length head or a group of a longer token (`ghp` for a GitHub token,
    24 characters of a longer Stripe key): what remains of the token would still be a secret.
    """
    spans = []
    position = 0
    while (start := text.find(value, position)) >= 0:
        end = start + len(value)
        while start > position and _TOKEN_CHARS.match(text[start - 1]):
            start -= 1
        while end < len(text) and (
            _TOKEN_CHARS.match(text[end])
            or text[end] == "="  # base64 padding
            or (text[end] == "." and end + 1 < len(text) and text[end + 1].isalnum())
        ):
            end += 1
        spans.append((start, end, mask))
        position = end
    return spans


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


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message (and its arguments) in place.

    For a handler of your own; `redact_logs` covers every logger without one."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record, self.redactor)
        return True


def _redact_record(record: logging.LogRecord, redactor: Redactor) -> None:
    message = record.getMessage()
    redacted = redactor.redact(message)
    if redacted != message:
        record.msg, record.args = redacted, None
    if record.exc_info and not record.exc_text:
        # Formatters reuse exc_text when set: the traceback's messages are masked too.
        record.exc_text = redactor.redact(_FORMATTER.formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redactor.redact(record.stack_info)


_FORMATTER = logging.Formatter()
_log_redactor: Redactor | None = None


def redact_logs(redactor: Redactor) -> None:
    """Every log record made in this process, by any logger, passes `redactor` (idempotent).

    A record factory rather than filters on named loggers: a logger's filter sees only records
    made on that logger (not its children's, not a library we did not list: `aiosqlite` logs
    the SQL parameters of checkpoint writes at DEBUG). Records are made only for enabled
    levels, so a quiet logger costs nothing.
    """
    global _log_redactor
    _log_redactor = redactor
    current = logging.getLogRecordFactory()
    if getattr(current, "podium_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        if _log_redactor is not None:
            # A record whose arguments do not format is left for the handler to report.
            with contextlib.suppress(Exception):
                _redact_record(record, _log_redactor)
        return record

    factory.podium_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
