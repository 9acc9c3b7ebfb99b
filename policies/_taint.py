"""Where data came from: text from tools and memory is untrusted, and so is anything derived from it.

The runtime keeps, per task, the untrusted texts its agent has seen (external tool results,
memory entries, outputs of upstream tasks that saw untrusted data) and the trusted ones (the
goal, the task's instruction, the agent's own prompt). An argument carries untrusted data
when it shares with an untrusted text, and not with a trusted one, an address (email, URL,
host), a long number, or a run of words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus, urlsplit

_EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"
_URL = r"https?://[^\s<>\"')\]]+"
_MARKERS = re.compile(
    rf"{_EMAIL}|{_URL}"
    r"|\b(?:[a-z0-9\-]+\.)+(?:com|net|org|io|dev|co|ai|example|info|biz|xyz|ru|cn)\b"  # host
    r"|\b\d[\d\-]{5,}\d\b",  # account, card or phone numbers
    re.I,
)
_WORD = re.compile(r"[a-z0-9]+")
RUN_WORDS = 6
"""Words in a row that, shared with an untrusted text, mark data carried from it."""
SINK_RUN_WORDS = 3
"""The same for a sink argument (a recipient, a URL, a path): short, and never meant to hold
text from a tool, so a shorter run is enough (a clause URL-encoded into a query string)."""


@dataclass
class Taint:
    trusted: list[str] = field(default_factory=list)
    untrusted: list[str] = field(default_factory=list)
    _derived: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    """Markers and word runs of the texts above, built once per change of them: a tool call
    is judged argument by argument, and a tool result can be hundreds of kilobytes."""

    def add_trusted(self, *texts: str) -> None:
        self.trusted += [_plain(t) for t in texts if t]
        self._derived.clear()

    def add_untrusted(self, *texts: str) -> None:
        self.untrusted += [_plain(t) for t in texts if t]
        self._derived.clear()

    def _memo(self, key: Any, build: Any) -> Any:
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]

    @property
    def tainted(self) -> bool:
        return bool(self.untrusted)

    def carried_by_argument(
        self, arguments: Mapping[str, Any] | str, content: Iterable[str] = ()
    ) -> dict[str, list[str]]:
        """`carried`, per top-level argument (a nested value counts for its top-level name);
        arguments that could not be parsed as an object are judged whole, under "". Arguments
        not in `content` are sinks, judged on shorter runs of words (SINK_RUN_WORDS)."""
        if not isinstance(arguments, Mapping):
            found = self.carried(arguments, run_words=SINK_RUN_WORDS) + self.unvouched(arguments)
            return {"": found} if found else {}
        content = frozenset(content)
        found_by_name = {}
        for name, value in arguments.items():
            if name in content:
                found = self.carried(value)
            else:
                found = self.carried(value, run_words=SINK_RUN_WORDS) + self.unvouched(value)
            if found:
                found_by_name[str(name)] = found
        return found_by_name

    def unvouched(self, value: Any) -> list[str]:
        """In a task that has read untrusted data, the addresses, URLs and numbers of a sink
        value that no trusted text gives: a recipient spelt out in words ("audit (at) exfil dot
        example"), a bare amount, a URL with data in its query would otherwise pass `carried`,
        which only finds what was copied. A sink must be vouched for, not merely not copied."""
        if not self.untrusted:
            return []
        text = _flatten(value)
        trusted_markers = self._memo(
            "trusted", lambda: {m for t in self.trusted for m in _markers(t)}
        )
        trusted_urls = [m for m in trusted_markers if m.startswith(("http://", "https://"))]
        found = []
        for match in _ADDRESS.findall(text):
            marker = match.lower().rstrip("\\.,;:!?")
            if marker.startswith(("http://", "https://")):
                if not _under_trusted_url(marker, trusted_urls):
                    found.append(f"URL {marker!r} is not one the goal or instruction gives")
            elif marker not in trusted_markers:
                found.append(f"address {marker!r} is not one the goal or instruction gives")
        numbers = self._memo(
            "numbers", lambda: {_digits(n) for t in self.trusted for n in _NUMBER.findall(t)}
        )
        for number in _NUMBER.findall(_ADDRESS.sub(" ", text)):
            if _digits(number) not in numbers:
                found.append(f"number {number!r} is not one the goal or instruction gives")
        return found

    def carried(
        self, arguments: Mapping[str, Any] | str, *, run_words: int = RUN_WORDS
    ) -> list[str]:
        """What in `arguments` came from untrusted data (short descriptions, for messages)."""
        if not self.untrusted:
            return []
        text = _flatten(arguments)
        decoded = unquote_plus(text)
        if decoded != text:  # data URL-encoded into a link or a query is still that data
            text = f"{text}\n{decoded}"
        trusted_markers = self._memo(
            "trusted", lambda: {m for t in self.trusted for m in _markers(t)}
        )
        untrusted_markers = self._memo(
            "untrusted", lambda: {m for t in self.untrusted for m in _markers(t)}
        )
        found = [
            f"{m!r} from a tool or memory"
            for m in _markers(text)
            if m in untrusted_markers and m not in trusted_markers
        ]
        runs = self._memo(
            ("runs", run_words),
            lambda: _grams(self.untrusted, run_words) - _grams(self.trusted, run_words),
        )
        words = _WORD.findall(text.lower())
        for i in range(len(words) - run_words + 1):
            if tuple(words[i : i + run_words]) in runs:
                found.append(
                    f"text copied from a tool or memory ({' '.join(words[i : i + run_words])!r}...)"
                )
                break
        return found


_ADDRESS = re.compile(f"{_EMAIL}|{_URL}", re.I)
_NUMBER = re.compile(r"\d[\d,. ]*\d")
"""Numbers of two digits or more (thousands separators and decimals kept together)."""


def _digits(number: str) -> str:
    return re.sub(r"[,. ]", "", number)


def _under_trusted_url(url: str, trusted: Iterable[str]) -> bool:
    """`url` is a trusted URL, or a path under one with no query or fragment of its own."""
    for base in trusted:
        if url == base:
            return True
        stem = base.split("?", 1)[0].split("#", 1)[0].rstrip("/")
        rest = url[len(stem) :] if url.startswith(stem) else None
        if rest is not None and rest.startswith("/") and not any(c in rest for c in "?#"):
            return True
    return False


def _markers(text: str) -> list[str]:
    """Addresses, URLs (and each URL's host), hosts and long numbers in `text`, normalised."""
    found: dict[str, None] = {}
    for match in _MARKERS.findall(text):
        marker = match.lower().rstrip("\\.,;:!?")
        found[marker] = None
        if marker.startswith(("http://", "https://")):
            host = urlsplit(marker).hostname
            if host:
                found[host] = None  # another path on the same host still goes to that host
    return list(found)


def _plain(text: str) -> str:
    """`text`, plus the strings inside it when it is JSON (a tool result): escapes (`\\"`,
    `\\n`) would otherwise glue quotes and letters to the data they wrap."""
    if text[:1] not in '[{"':
        return text
    try:
        data = json.loads(text)
    except ValueError:
        return text
    return f"{text}\n{_flatten(data)}"


def _flatten(value: Any) -> str:
    if isinstance(value, Mapping):
        return "\n".join(_flatten(v) for v in value.values())
    if isinstance(value, list | tuple):
        return "\n".join(_flatten(v) for v in value)
    return str(value)


def _grams(texts: Iterable[str], n: int) -> set[tuple[str, ...]]:
    grams: set[tuple[str, ...]] = set()
    for text in texts:
        words = _WORD.findall(text.lower())
        grams.update(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return grams
