"""Test doubles for memory: an embedder that needs no model, so tests of code using memory stay fast."""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence

_WORD = re.compile(r"\w+")


class HashEmbedder:
    """Bag-of-words vectors: each lower-cased word hashed into one of `dimension` signed slots.

    Deterministic across processes, instant, and meaningful for word overlap (texts sharing
    words score higher), which is all a test of ranking, scoping or persistence needs.
    Its name ("hash-<dimension>") is recorded like any embedder's, so a store written with it
    cannot be opened with MiniLM by mistake.
    """

    def __init__(self, dimension: int = 64) -> None:
        self.dimension = dimension
        self.name = f"hash-{dimension}"
        self.calls = 0
        """How many times `embed` was called (for tests that count model work)."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        return [self._vector(text) for text in texts]

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        for word in _WORD.findall(text.lower()):
            digest = zlib.crc32(word.encode())
            vector[digest % self.dimension] += 1.0 if digest & 0x80000000 else -1.0
        norm = math.sqrt(sum(x * x for x in vector))
        if not norm:  # no words: a fixed unit vector, so empty texts still store and compare
            vector[0], norm = 1.0, 1.0
        return [x / norm for x in vector]
