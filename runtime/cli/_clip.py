"""Long text cut to fit a terminal view, at a word, the cut always marked with what was left out."""

from __future__ import annotations

MARK = "…"
"""Starts every cut's marker: "… (+412 chars)"."""
WORD_ROOM = 0.7
"""A cut goes back to the last space only within the last 30% of the room: one long word (a
URL, a JSON blob) is cut inside rather than dropped whole."""


def clip(text: str, limit: int, *, lines: int | None = None, flat: bool = False) -> str:
    """`text` within `limit` characters (and `lines` lines), cut at a word, marked when cut.

    `flat` joins the text into one line first (a table cell, a tree label)."""
    if flat:
        text = " ".join(text.split())
    kept = text
    if lines is not None and kept.count("\n") >= lines:
        kept = "\n".join(kept.split("\n")[:lines])
    if len(kept) > limit:
        kept = kept[:limit]
        space = kept.rfind(" ")
        if space >= limit * WORD_ROOM:
            kept = kept[:space]
    kept = kept.rstrip()
    if kept == text.rstrip():
        return text
    return f"{kept} {MARK} (+{len(text) - len(kept)} chars)"
