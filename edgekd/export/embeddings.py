"""Sentence embeddings of a compiled ONNX sentence encoder, for agreement checks against the PyTorch teacher."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekd.errors import EdgekdError


def onnx_sentence_embeddings(model: str | Path, model_dir: str | Path, texts: list[str], max_length: int = 128,
                             batch: int = 32) -> np.ndarray:
    """Sentence embeddings (N, D) float32 of an ONNX sentence encoder with a ``sentence_embedding`` output (what
    ``edgekd compile`` writes for a sentence-transformers directory), tokenized with ``model_dir``'s tokenizer;
    batches padded to their longest sentence, rows in input order."""
    from transformers import AutoTokenizer

    from edgekd.export.runtime import session

    sess = session(model)
    names = [o.name for o in sess.get_outputs()]
    if "sentence_embedding" not in names:
        raise EdgekdError(f"{model}: no 'sentence_embedding' output (it has {names}); compile a sentence-transformers directory")
    wanted = [i.name for i in sess.get_inputs()]
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    parts = []
    for i in range(0, len(texts), batch):
        enc = tok(texts[i:i + batch], padding=True, truncation=True, max_length=max_length, return_tensors="np")
        parts.append(sess.run(["sentence_embedding"], {k: enc[k].astype(np.int64) for k in wanted})[0])
    return np.concatenate(parts).astype(np.float32)
