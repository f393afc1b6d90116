"""``edgekd.train_teacher``: a classifier trained on a recorded split, saved as safetensors + arch JSON."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from edgekd.data import Splits, load_dataset
from edgekd.distill.config import TeacherConfig
from edgekd.distill.ddp import World
from edgekd.distill.trainer import evaluate, train_classifier, training_device
from edgekd.fsutil import write_json
from edgekd.manifest_io import guard_outputs, record
from edgekd.models import build_model, count_params, save_checkpoint
from edgekd.schemas import DatasetSpec, validate


def complete_arch(arch: dict[str, Any], splits: Splits) -> dict[str, Any]:
    """Fill in the data-dependent sizes: classes, and input channels (images) or vocabulary and length (tokens)."""
    if arch.get("name") == "bert":
        extra = {"vocab_size": int(max(int(x.max()) for x in splits.x.values())) + 1, "max_len": splits.input_shape[0]}
    else:
        extra = {"in_channels": splits.input_shape[0]}
    return {**extra, **arch, "num_classes": splits.num_classes}


def train_teacher(
    dataset: DatasetSpec | Splits, cfg: TeacherConfig, out: str | Path, force: bool = False, stage: str = "teacher"
) -> dict[str, Any]:
    """Train ``cfg.arch`` on the train split on ``cfg.device``, keep the best-on-val epoch, report test accuracy (%).

    Every random draw (initial weights, shuffling, augmentation, dropout) follows ``cfg.seed``: the same options,
    data, torch version, thread count and machine give byte-identical weights.

    Writes ``<name>.safetensors``, ``<name>.arch.json``, ``split.json`` and ``<name>.metrics.json`` into ``out``.
    """
    cfg = validate(TeacherConfig, cfg.model_dump(), "teacher options")
    device = training_device(cfg.device)
    out = Path(out)
    files = {k: out / f"{cfg.name}.{k}" for k in ("safetensors", "arch.json", "metrics.json")}
    split_file = out / "split.json"
    guard_outputs([*files.values(), split_file], force)
    splits = dataset if isinstance(dataset, Splits) else load_dataset(dataset)
    arch = complete_arch(cfg.arch, splits)
    t0 = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)  # the initial weights are the first random draw of the run
        model = build_model(arch)
        result = train_classifier(model, splits.x["train"], splits.y["train"], splits.x["val"], splits.y["val"], cfg,
                                  world=World(device=device))
    metrics = {
        "test_accuracy": evaluate(model, splits.x["test"], splits.y["test"]),
        "val_accuracy": result.best_val_accuracy, "best_epoch": result.best_epoch,
        "params": count_params(model), "train_seconds": time.perf_counter() - t0, "history": result.history,
    }
    save_checkpoint(model, arch, files["safetensors"], input_shape=splits.input_shape)
    write_json(split_file, splits.as_json())
    write_json(files["metrics.json"], metrics)
    record(out, stage, [
        (files["safetensors"], "checkpoint", {"meta": {"role": "teacher", "params": metrics["params"]}}),
        (files["arch.json"], "arch", {}),
        (split_file, "split", {"meta": splits.info()}),
        (files["metrics.json"], "metrics", {}),
    ], options=cfg.model_dump(mode="json"))
    return {"checkpoint": str(files["safetensors"]), **{k: v for k, v in metrics.items() if k != "history"}}
