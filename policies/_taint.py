"""Where data came from: text from tools and memory is untrusted, and so is anything derived from it.

The runtime keeps, per task, the untrusted texts its agent has seen (external tool results,
memory entries, outputs of upstream tasks that saw untrusted data) and the trusted ones (the
goal, the task's instruction, the agent's own prompt). An argument carries untrusted data
when it shares with an untrusted text, and not with a trusted one, an address (email, URL,
host), a long number, or a run of words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_MARKERS = re.compile(
    r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"  # email
    r"|https?://[^\s<>\"')\]]+"  # URL
    r"|\b(?:[a-z0-9\-]+\.)+(?:com|net|org|io|dev|co|ai|example|info|biz|xyz|ru|cn)\b"  # host
    r"|\b\d[\d\-]{5,}\d\b",  # account, card or phone numbers
    re.I,
)
_WORD = re.compile(r"[a-z0-9]+")
RUN_WORDS = 6
"""Words in a row that, shared with an untrusted text, mark data carried from it."""


@dataclass
class Taint:
    trusted: list[str] = field(default_factory=list)
    untrusted: list[str] = field(default_factory=list)

    def add_trusted(self, *texts: str) -> None:
        self.trusted += [t for t in texts if t]

    def add_untrusted(self, *texts: str) -> None:
        self.untrusted += [t for t in texts if t]

    @property
    def tainted(self) -> bool:
        return bool(self.untrusted)

    def carried(self, arguments: Mapping[str, Any] | str) -> list[str]:
        """What in `arguments` came from untrusted data (short descriptions, for messages)."""
        if not self.untrusted:
            return []
        text = _flatten(arguments)
        trusted_markers = {m.lower() for t in self.trusted for m in _MARKERS.findall(t)}
        untrusted_markers = {m.lower() for t in self.untrusted for m in _MARKERS.findall(t)}
        found = [
            f"{m!r} from a tool or memory"
            for m in dict.fromkeys(x.lower() for x in _MARKERS.findall(text))
            if m in untrusted_markers and m not in trusted_markers
        ]
        runs = _grams(self.untrusted) - _grams(self.trusted)
        words = _WORD.findall(text.lower())
        for i in range(len(words) - RUN_WORDS + 1):
            if tuple(words[i : i + RUN_WORDS]) in runs:
                found.append(
                    f"text copied from a tool or memory ({' '.join(words[i : i + RUN_WORDS])!r}...)"
                )
                break
        return found


def _flatten(value: Any) -> str:
    if isinstance(value, Mapping):
        return "\n".join(_flatten(v) for v in value.values())
    if isinstance(value, list | tuple):
        return "\n".join(_flatten(v) for v in value)
    return str(value)


def _grams(texts: Iterable[str]) -> set[tuple[str, ...]]:
    grams: set[tuple[str, ...]] = set()
    for text in texts:
        words = _WORD.findall(text.lower())
        grams.update(tuple(words[i : i + RUN_WORDS]) for i in range(len(words) - RUN_WORDS + 1))
    return grams
