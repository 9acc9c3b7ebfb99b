"""Podium's own validators, registered with guardrails-ai, and the catalogue of every validator by name.

Imported lazily (it imports guardrails-ai, ~2 s): `podium.policies.build_guard` pulls it in.
Each validator reads what it needs from the guard's metadata, which the runtime fills per
output: `system_prompt`, `sources` (texts the output may cite), `agents` (names of the other
agents), `schema` (JSON schema), `fences` (labels the prompt wraps data in), `siblings` (other
tasks' outputs by task id). Messages never quote the offending secret or prompt: they
end up in events and the audit log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jsonschema

from ._debris import find_debris
from ._directives import find_directives
from ._fold import words
from ._guardrails import quiet_guardrails
from ._guards import VALIDATOR_NAMES
from ._redact import PII_PATTERNS, Redactor

quiet_guardrails()

from guardrails.validators import (  # noqa: E402  (after the telemetry switch-off)
    ErrorSpan,
    FailResult,
    PassResult,
    ValidationResult,
    Validator,
    register_validator,
)


def _fail(message: str, fix: str | None, spans: Iterable[tuple[int, int, str]] = ()) -> FailResult:
    return FailResult(
        error_message=message,
        fix_value=fix,
        error_spans=[ErrorSpan(start=s, end=e, reason=r) for s, e, r in spans],
    )


def _remove_spans(text: str, spans: list[tuple[int, int]], placeholder: str = "") -> str:
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        out.append(text[last:start] + placeholder)
        last = end
    out.append(text[last:])
    return re.sub(r"\n{3,}", "\n\n", "".join(out)).strip()


# -- secrets -------------------------------------------------------------------------------


@register_validator(name="podium/no_secrets", data_type="string")
class NoSecrets(Validator):
    """API keys, tokens, private keys and secret environment values; fix masks them."""

    def __init__(self, on_fail: Any = None, **kwargs: Any) -> None:
        super().__init__(on_fail=on_fail, **kwargs)
        self._redactor = Redactor()

    def validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        text = str(value)
        redacted = self._redactor.redact(text)
        if redacted == text:
            return PassResult()
        kinds = sorted(set(re.findall(r"\[REDACTED:([a-z_]+)\]", redacted)))
        return _fail(
            f"the output contains secrets ({', '.join(kinds)}): never repeat credentials",
            redacted,
        )


@register_validator(name="podium/no_pii", data_type="string")
class NoPII(Validator):
    """Personal data of the configured kinds (email, phone, credit_card, iban); fix masks it."""

    def __init__(self, kinds: list[str] | None = None, on_fail: Any = None, **kwargs: Any) -> None:
        super().__init__(on_fail=on_fail, kinds=kinds, **kwargs)
        self._redactor = Redactor(
            pii=frozenset(kinds or PII_PATTERNS), include_env=False, secrets=False
        )

    def validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        text = str(value)
        redacted = self._redactor.redact(text)
        if redacted == text:
            return PassResult()
        kinds = sorted(set(re.findall(r"\[REDACTED:([a-z_]+)\]", redacted)))
        return _fail(f"the output contains personal data ({', '.join(kinds)})", redacted)


# -- injection: orders to other agents, leaked prompts ------------------------------------


@register_validator(name="podium/no_agent_directives", data_type="string")
class NoAgentDirectives(Validator):
    """Instructions aimed at other agents or the runtime ("ignore previous instructions",
    "New task for the writer agent: ...", "@planner: ...", fake delimiter tags), however they are
    cased, spaced or spelled (see `podium.policies._directives`); fix removes those lines."""

    def validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        text = str(value)
        spans = find_directives(text, tuple(metadata.get("agents", ())))
        if not spans:
            return PassResult()
        quoted = sorted({text[s:e].strip()[:60] for s, e in spans})
        return _fail(
            "the output gives instructions to other agents or the runtime "
            f"({'; '.join(repr(q) for q in quoted[:3])}): report results, never orders",
            _remove_spans(text, spans),
            [(s, e, "instruction aimed at another agent") for s, e in spans],
        )


@register_validator(name="podium/no_prompt_leak", data_type="string")
class NoPromptLeak(Validator):
    """The output repeats the agent's system prompt (a run of `min_words` words or more, compared
    folded: case, spacing, punctuation, line breaks, full-width or lookalike letters and
    zero-width characters do not hide a copy); fix removes the repeated passages."""

    def __init__(self, min_words: int = 8, on_fail: Any = None, **kwargs: Any) -> None:
        super().__init__(on_fail=on_fail, min_words=min_words, **kwargs)
        self._n = max(3, int(min_words))

    def validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        text = str(value)
        prompts = metadata.get("system_prompts") or [metadata.get("system_prompt") or ""]
        grams: set[tuple[str, ...]] = set()
        for prompt in prompts:
            prompt_words = [w for w, _, _ in words(str(prompt))]
            grams.update(
                tuple(prompt_words[i : i + self._n]) for i in range(len(prompt_words) - self._n + 1)
            )
        if not grams:
            return PassResult()
        tokens = words(text)
        leaked = [False] * len(tokens)
        for i in range(len(tokens) - self._n + 1):
            if tuple(t for t, _, _ in tokens[i : i + self._n]) in grams:
                for j in range(i, i + self._n):
                    leaked[j] = True
        spans = _runs(tokens, leaked)
        if not spans:
            return PassResult()
        return _fail(
            "the output repeats the agent's instructions (system prompt): answer the task without quoting them",
            _remove_spans(text, spans, "[withheld]"),
            [(s, e, "system prompt text") for s, e in spans],
        )


def _runs(tokens: list[tuple[str, int, int]], flags: list[bool]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for (_, start, end), flagged in zip(tokens, flags, strict=True):
        if not flagged:
            continue
        if spans and not _gap_has_words(spans[-1][1], start, tokens):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _gap_has_words(a: int, b: int, tokens: list[tuple[str, int, int]]) -> bool:
    return any(a <= s < b for _, s, _ in tokens)


# -- sources -------------------------------------------------------------------------------

_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.I)
_CITATION = re.compile(r"\[(?:source|src|ref)\s*:\s*([^\]]{1,120})\]", re.I)


@register_validator(name="podium/cites_given_sources", data_type="string")
class CitesGivenSources(Validator):
    """Every URL and `[source: X]` citation in the output appears in what the agent was given
    (its inputs, tool results, memory, goal); fix removes invented ones."""

    def validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        text = str(value)
        given = "\n".join(str(s) for s in metadata.get("sources", ())).lower()
        bad: list[tuple[int, int, str]] = []
        for match in _URL.finditer(text):
            url = match.group().rstrip(".,;:")
            if url.lower() not in given:
                bad.append((match.start(), match.start() + len(url), url))
        for match in _CITATION.finditer(text):
            source = match.group(1).strip()
            if source.lower() not in given:
                bad.append((match.start(), match.end(), source))
        if not bad:
            return PassResult()
        return _fail(
            f"the output cites sources it was not given ({', '.join(sorted({b[2] for b in bad})[:5])}): "
            "cite only the inputs, tool results and memory you were shown",
            _remove_spans(text, [(s, e) for s, e, _ in bad]),
            [(s, e, "source not given") for s, e, _ in bad],
        )


# -- structure and content -----------------------------------------------------------------


@register_validator(name="podium/output_schema", data_type="string")
class OutputSchema(Validator):
    """The output is JSON matching a JSON schema (the `schema` argument, else metadata['schema'])."""

    def __init__(
        self, schema: dict[str, Any] | None = None, on_fail: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(on_fail=on_fail, schema=schema, **kwargs)
        self._schema = schema

    def validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        schema = self._schema or metadata.get("schema")
        if not schema:
            return PassResult()
        try:
            data = json.loads(str(value))
        except json.JSONDecodeError as exc:
            return _fail(f"the output is not JSON ({exc.msg} at position {exc.pos})", None)
        try:
            jsonschema.validate(data, schema)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            return _fail(f"the output does not match its schema at {where}: {exc.message}", None)
        return PassResult()


@register_validator(name="podium/ban_list", data_type="string")
class BanList(Validator):
    """Whole words or phrases that must not appear (case-insensitive, on word boundaries:
    banning "kill" does not flag "skill"); fix masks them."""

    def __init__(self, banned_words: list[str], on_fail: Any = None, **kwargs: Any) -> None:
        super().__init__(on_fail=on_fail, banned_words=banned_words, **kwargs)
        words = sorted((w.strip() for w in banned_words if w.strip()), key=len, reverse=True)
        self._pattern = (
            re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.I)
            if words
            else None
        )

    def validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        text = str(value)
        if self._pattern is None:
            return PassResult()
        found = list(self._pattern.finditer(text))
        if not found:
            return PassResult()
        return _fail(
            f"the output uses banned words ({', '.join(sorted({m.group().lower() for m in found}))})",
            self._pattern.sub(lambda m: "*" * len(m.group()), text),
            [(m.start(), m.end(), "banned word") for m in found],
        )


_UNSAFE_HTML = re.compile(
    r"<\s*(script|iframe|object|embed|style)\b[\s\S]*?(?:<\s*/\s*\1\s*>|$)"
    r"|<[^>]*\son[a-z]+\s*=[^>]*>"
    r"|<[^>]*(?:href|src)\s*=\s*[\"']?\s*(?:javascript|vbscript|data):[^>]*>",
    re.I,
)


@register_validator(name="podium/safe_html", data_type="string")
class SafeHtml(Validator):
    """No active web content (script/iframe/object tags, on* handlers, javascript: links).
    Unlike guardrails-ai-web-sanitization it does not flag every `<`; fix removes the markup."""

    def validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        text = str(value)
        found = list(_UNSAFE_HTML.finditer(text))
        if not found:
            return PassResult()
        return _fail(
            "the output contains active web content (scripts, event handlers or javascript: links)",
            _remove_spans(text, [(m.start(), m.end()) for m in found]),
            [(m.start(), m.end(), "active web content") for m in found],
        )


# -- debris --------------------------------------------------------------------------------


@register_validator(name="podium/no_debris", data_type="string")
class NoDebris(Validator):
    """The output is an answer, not debris: not empty, not a tool call written as text, no
    chat-template or prompt-fence fragments, no echo of the prompt's data labels (metadata
    `fences`), not the same text as another task's output (metadata `siblings`). No fix: the
    runtime's failure ladder asks again, escalates, or re-plans."""

    def validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        text = str(value)
        problem = find_debris(text, metadata)
        return PassResult() if problem is None else _fail(problem, None)


# -- the catalogue ---------------------------------------------------------------------------


def _valid_length(**args: Any) -> Any:
    from guardrails_ai.valid_length import ValidLength

    return ValidLength(**args)


def _regex_match(**args: Any) -> Any:
    from guardrails_ai.regex_match import RegexMatch

    return RegexMatch(**args)


def _valid_json(**args: Any) -> Any:
    from guardrails_ai.valid_json import ValidJson

    return ValidJson(**args)


def _secrets_present(**args: Any) -> Any:
    from guardrails_ai.secrets_present import SecretsPresent

    return SecretsPresent(**args)


def _web_sanitization(**args: Any) -> Any:
    from guardrails_ai.web_sanitization import WebSanitization

    return WebSanitization(**args)


CATALOGUE: Mapping[str, Callable[..., Any]] = {
    # guardrails-ai's own validator packages (PyPI `guardrails-ai-*`, offline)
    "valid_length": _valid_length,
    "regex_match": _regex_match,
    "valid_json": _valid_json,
    "secrets_present": _secrets_present,
    "web_sanitization": _web_sanitization,
    # Podium's, registered with guardrails-ai
    "no_secrets": NoSecrets,
    "no_pii": NoPII,
    "no_agent_directives": NoAgentDirectives,
    "no_prompt_leak": NoPromptLeak,
    "cites_given_sources": CitesGivenSources,
    "output_schema": OutputSchema,
    "ban_list": BanList,
    "safe_html": SafeHtml,
    "no_debris": NoDebris,
}
"""Validator name -> factory taking the validator's arguments and `on_fail`."""
if set(CATALOGUE) != set(VALIDATOR_NAMES):  # pragma: no cover - a developer's slip
    raise RuntimeError("policies: CATALOGUE and VALIDATOR_NAMES disagree")
