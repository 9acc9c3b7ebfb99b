"""Load the embedded model and decode a few grammar-constrained tokens; print what happened as JSON.

Run as `python -m podium.runtime.models._model_probe` by `podium doctor` (and so by `make run` and
`make test` before anything long): in its own process, so a llama.cpp build that crashes on the
first decode (llama-cpp-python 0.3.36 with SmolLM2 does, with SIGSEGV) is reported as a failed
check naming the version, instead of killing the command that asked.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

SCHEMA = {
    "type": "object",
    "properties": {"agent": {"type": "string"}, "instruction": {"type": "string"}},
    "required": ["agent", "instruction"],
}
PROMPT = "Plan one task to look up the lead Maya Chen. Reply with JSON."
MAX_TOKENS = 24


def main() -> int:
    from llama_cpp import Llama

    from ._local_model import CONTEXT_TOKENS, gguf_path, grammar_for

    started = time.perf_counter()
    llama = Llama(model_path=str(gguf_path()), n_ctx=CONTEXT_TOKENS, n_threads=None, verbose=False)
    loaded = time.perf_counter()
    out: Any = llama.create_chat_completion(
        messages=[{"role": "user", "content": PROMPT}],
        grammar=grammar_for(SCHEMA),
        max_tokens=MAX_TOKENS,
        temperature=0.0,
    )
    done = time.perf_counter()
    text = out["choices"][0]["message"].get("content") or ""
    tokens = int(out.get("usage", {}).get("completion_tokens", 0))
    json.dump(
        {
            "load_s": round(loaded - started, 3),
            "decode_s": round(done - loaded, 3),
            "tokens": tokens,
            "tokens_per_s": round(tokens / max(done - loaded, 1e-9), 1),
            "text": text,
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
