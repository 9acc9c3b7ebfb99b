"""Text folded for matching: case, width, accents, invisible characters and lookalike letters undone.

Guards that look for a phrase (an order to an agent, a copy of a prompt) must not be beaten by
writing it in capitals, in full-width or mathematical letters, with a zero-width space inside a
word, with Cyrillic letters that pass for Latin ones, or across a line break. `fold` gives the
text they match against, and for every folded character the index of the character it came
from, so that a finding still names a span of the original text.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

# Letters of other scripts drawn like Latin ones, as injection text uses them ("system"
# spelled with Cyrillic dze, u and ie).
# Unicode's confusables table (the `confusable-homoglyphs` package) has thousands of pairs, most
# of them symbols and rare scripts; a guard needs these few Cyrillic and Greek letters, so they
# are listed here rather than adding a dependency and a megabyte of data. Upper and lower case
# are listed apart: casefold merges Greek Eta (looks like H) with eta (looks like n).
_LOOKALIKES = str.maketrans(
    {
        char: latin
        for latin, chars in {
            "a": "\u0410\u0430\u2c80\u2c81",  # Cyr A, cyr A, Coptic Alfa, coptic Alfa
            "b": "\u0412\u0432\u0392\u03b2",  # Cyr Ve, cyr Ve, Gr Beta, gr Beta
            "c": "\u0421\u0441\u03f9\u03f2",  # Cyr Es, cyr Es, Gr Lunate Sigma, gr lunate sigma
            "d": "\u0501",  # cyr Komi De
            "e": "\u0415\u0435\u0401\u0451\u0395\u03b5",  # Cyr Ie, cyr Ie, Cyr Io, cyr Io, Gr Epsilon, gr Epsilon
            "g": "\u050d",  # cyr Komi Sje
            "h": "\u041d\u043d\u04ba\u04bb\u0397",  # Cyr En, cyr En, Cyr Shha, cyr Shha, Gr Eta
            "i": "\u0406\u0456\u0407\u0457\u0399\u03b9\u04c0\u04cf\u0131",  # Cyr I, cyr I, Cyr Yi, cyr Yi, Gr Iota, gr Iota, Cyr Palochka, cyr Palochka, dotless i
            "j": "\u0408\u0458",  # Cyr Je, cyr Je
            "k": "\u041a\u043a\u039a\u03ba",  # Cyr Ka, cyr Ka, Gr Kappa, gr Kappa
            "m": "\u041c\u043c\u039c",  # Cyr Em, cyr Em, Gr Mu
            "n": "\u039d\u03b7",  # Gr Nu, gr Eta
            "o": "\u041e\u043e\u039f\u03bf",  # Cyr O, cyr O, Gr Omicron, gr Omicron
            "p": "\u0420\u0440\u03a1\u03c1",  # Cyr Er, cyr Er, Gr Rho, gr Rho
            "q": "\u051a\u051b",  # Cyr Qa, cyr Qa
            "s": "\u0405\u0455",  # Cyr Dze, cyr Dze
            "t": "\u0422\u0442\u03a4\u03c4",  # Cyr Te, cyr Te, Gr Tau, gr Tau
            "u": "\u03c5",  # gr Upsilon
            "v": "\u03bd",  # gr Nu
            "w": "\u051c\u051d",  # Cyr We, cyr We
            "x": "\u0425\u0445\u03a7\u03c7",  # Cyr Ha, cyr Ha, Gr Chi, gr Chi
            "y": "\u0423\u0443\u03a5",  # Cyr U, cyr U, Gr Upsilon
            "z": "\u0396",  # Gr Zeta
        }.items()
        for char in chars
    }
)
_LINE_BREAKS = "\r\x0b\x0c\x85\u2028\u2029"
_ASCII_BREAKS = str.maketrans(dict.fromkeys("\r\x0b\x0c", "\n"))


@dataclass(frozen=True)
class Folded:
    """A folded text and, per folded character, the index in the original it came from."""

    text: str
    origin: tuple[int, ...] | None
    """None when folding kept every index (ASCII text)."""
    length: int
    """The original text's length."""

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the folded span [start, end)."""
        if self.origin is None:
            return start, end
        if start >= len(self.origin):
            return self.length, self.length
        last = self.origin[end - 1] + 1 if end > start else self.origin[start]
        return self.origin[start], last


def fold(text: str) -> Folded:
    """`text` casefolded, compatibility-decomposed (NFKD: full-width, mathematical and ligature
    letters become plain ones), stripped of accents and of invisible format characters (zero-width
    spaces and joiners, soft hyphens, direction marks), Cyrillic and Greek lookalikes read as the
    Latin letters they imitate, and every line break a newline."""
    if text.isascii():
        return Folded(text.lower().translate(_ASCII_BREAKS), None, len(text))
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = _fold_char(char)
        chars.append(folded)
        origin.extend([index] * len(folded))
    return Folded("".join(chars), tuple(origin), len(text))


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    if char in _LINE_BREAKS:
        return "\n"
    out = []
    for part in unicodedata.normalize("NFKD", char.translate(_LOOKALIKES)):
        category = unicodedata.category(part)
        if category == "Cf" or category.startswith("M"):
            continue  # invisible format characters and combining marks (accents)
        out.append(part)
    folded = "".join(out).casefold()
    return unicodedata.normalize("NFKC", folded).translate(_LOOKALIKES)


_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[tuple[str, int, int]]:
    """The folded words of `text` (letters and digits; punctuation, spacing and line breaks only
    separate them), each with its span in the original text."""
    folded = fold(text)
    return [(m.group(), *folded.span(m.start(), m.end())) for m in _WORD.finditer(folded.text)]
