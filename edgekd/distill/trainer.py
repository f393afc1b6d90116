"""Supervised training loop: AdamW, cosine schedule with warm-up, shift augmentation, best-on-val."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from edgekd.schemas.base import Strict
from edgekd.ui import progress


class TrainConfig(Strict):
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-3, gt=0)
    weight_decay: float = Field(5e-4, ge=0)
    warmup_epochs: float = Field(1.0, ge=0)
    shift_pixels: int = Field(2, ge=0, description="Random translation augmentation, pixels.")
    seed: int = 0


@dataclass
class TrainResult:
    best_epoch: int
    best_val_accuracy: float
    history: list[dict[str, float]] = field(default_factory=list)


def random_shift(x: torch.Tensor, pixels: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image (N, C, H, W) by up to ``pixels`` in x and y, zero-padded (background -1)."""
    if pixels == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (pixels,) * 4, value=float(x.min()))
    dx = torch.randint(0, 2 * pixels + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * pixels + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None].expand(n, x.shape[1], h, w + 2 * pixels)
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :].expand(n, x.shape[1], h, w)
    return out.gather(3, cols)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """Top-1 accuracy in percent."""
    model.eval()
    correct = sum(int((model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum()) for i in range(0, len(x), batch_size))
    return 100.0 * correct / max(len(x), 1)


def train_classifier(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, cfg: TrainConfig
) -> TrainResult:
    """Train with cross-entropy; ``model`` ends holding the weights of its best validation epoch."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
    total, warm = cfg.epochs * steps_per_epoch, cfg.warmup_epochs * steps_per_epoch

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(total - warm, 1)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    best = TrainResult(best_epoch=-1, best_val_accuracy=-1.0)
    best_state = None
    with progress() as bar:
        task = bar.add_task("train", total=cfg.epochs, info="")
        for epoch in range(cfg.epochs):
            model.train()
            perm = torch.randperm(len(x), generator=gen)
            loss_sum = 0.0
            for i in range(0, len(x), cfg.batch_size):
                idx = perm[i : i + cfg.batch_size]
                loss = F.cross_entropy(model(random_shift(x[idx], cfg.shift_pixels, gen)), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                loss_sum += float(loss.detach()) * len(idx)
            val = evaluate(model, x_val, y_val)
            best.history.append({"epoch": epoch, "loss": loss_sum / len(x), "val_accuracy": val})
            if val > best.best_val_accuracy:
                best.best_epoch, best.best_val_accuracy = epoch, val
                best_state = copy.deepcopy(model.state_dict())
            bar.update(task, advance=1, info=f"loss {loss_sum / len(x):.4f} val {val:.2f}%")
    if best_state is not None:
        model.load_state_dict(best_state)
    return best
