"""The training loop behind teachers and students: one step function, checkpoints that resume exactly, DDP."""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from edgekd.distill.config import TrainConfig
from edgekd.distill.ddp import World, broadcast_flag, sync_buffers
from edgekd.distill.losses import Criterion, LossInputs
from edgekd.distill.losses.base import token_mask
from edgekd.distill.state import append_metrics, load_state, rewrite_metrics, rng_state, save_state, set_rng_state
from edgekd.distill.taps import Taps
from edgekd.distill.teacher_cache import TeacherSource
from edgekd.errors import EdgekdError
from edgekd.ui import progress


def training_device(name: str) -> torch.device:
    """``device`` option -> torch device: "auto" (CUDA when available), "cpu" or "cuda" (an error without CUDA)."""
    if name == "cuda" and not torch.cuda.is_available():
        raise EdgekdError("device 'cuda' was asked for but torch sees no CUDA GPU (torch.cuda.is_available() is False); "
                          "set device: cpu or auto, or install a CUDA build of torch")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


@dataclass
class TrainResult:
    best_epoch: int
    best_val_accuracy: float
    history: list[dict[str, float]] = field(default_factory=list)
    epochs_run: int = 0
    stopped_early: bool = False


def random_shift(x: torch.Tensor, pixels: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image (N, C, H, W) by up to ``pixels`` in x and y, zero-padded (background -1)."""
    if pixels == 0 or x.dim() != 4:
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
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256,
             device: torch.device | None = None) -> float:
    """Top-1 accuracy in percent."""
    model.eval()
    device = device or next(model.parameters()).device
    correct = sum(int((model(x[i : i + batch_size].to(device)).argmax(1).cpu() == y[i : i + batch_size]).sum())
                  for i in range(0, len(x), batch_size))
    return 100.0 * correct / max(len(x), 1)


class DistillModule(nn.Module):
    """Student + criterion in one module, so DDP synchronises the adapters' gradients too."""

    def __init__(self, student: nn.Module, criterion: Criterion, taps: Taps, amp_dtype: torch.dtype | None) -> None:
        super().__init__()
        self.student, self.criterion, self.taps, self.amp_dtype = student, criterion, taps, amp_dtype

    def forward(self, x: torch.Tensor, labels: torch.Tensor, t_logits: torch.Tensor | None,
                t_feats: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        with torch.autocast(x.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None):
            logits = self.student(x)
        s_feats = {k: v.float() for k, v in self.taps.take().items()}
        return self.criterion(LossInputs(logits.float(), labels, t_logits, s_feats, t_feats, token_mask(x)))


class Schedule(Protocol):
    """What ``lr_lambda`` reads from a training config (TrainConfig, SentenceDistillConfig)."""

    epochs: int
    warmup_epochs: float


def lr_lambda(cfg: Schedule, steps_per_epoch: int) -> Callable[[int], float]:
    """Multiplier of the peak lr at a step: linear warm-up, then cosine to 0."""
    total, warm = cfg.epochs * steps_per_epoch, cfg.warmup_epochs * steps_per_epoch

    def at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(total - warm, 1)))

    return at


def _amp(cfg: TrainConfig, device: torch.device) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, whether to scale the loss)."""
    if not cfg.amp:
        return None, False
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16, True
    return torch.bfloat16, False


def _setup_adapters(student: nn.Module, criterion: Criterion, taps: Taps, teacher: TeacherSource | None,
                    x: torch.Tensor, device: torch.device) -> None:
    """One no-grad forward on two samples tells the losses the feature shapes they adapt between."""
    s_paths, t_paths = criterion.taps()
    if not (s_paths or t_paths):
        return
    student.eval()
    with torch.no_grad():
        xb = x[:2].to(device)
        student(xb)
        t_feats = teacher(torch.arange(2), xb)[1] if teacher is not None else {}
    criterion.setup(taps.take(), t_feats)
    criterion.to(device)


class _Silent:
    """Stands in for the progress bar on ranks other than 0."""

    def __enter__(self) -> "_Silent":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None


SaveFn = Callable[[str, nn.Module, nn.Module], Any]


def fit(student: nn.Module, criterion: Criterion, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor,
        y_val: torch.Tensor, cfg: TrainConfig, *, teacher: TeacherSource | None = None, world: World | None = None,
        run_dir: Path | None = None, resume: bool = False, save: SaveFn | None = None, desc: str = "train") -> TrainResult:
    """Train ``student`` on x (N, ...) / y (N,) (label -1: unlabelled) with ``criterion``; pick the best val epoch.

    With ``run_dir``, rank 0 writes ``metrics.jsonl`` and ``last.state.pt`` every epoch and calls
    ``save("best"|"last", student, adapters)``; ``resume`` continues from ``last.state.pt`` exactly.
    ``student`` ends holding its best-on-val weights.
    """
    world = world or World(device=training_device(cfg.device))
    device = world.device
    torch.manual_seed(cfg.seed)
    student.to(device)
    criterion.to(device)
    taps = Taps(student, criterion.taps()[0])
    _setup_adapters(student, criterion, taps, teacher, x, device)
    amp_dtype, scale = _amp(cfg, device)
    module = DistillModule(student, criterion, taps, amp_dtype)
    wrapped: nn.Module = module
    if world.distributed:
        wrapped = DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)
    params = [p for p in module.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=True,
                                                     weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sampler = DistributedSampler(range(len(x)), num_replicas=world.size, rank=world.rank, shuffle=True, seed=cfg.seed)
    steps = math.ceil(len(sampler) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg, steps))
    scaler = torch.amp.GradScaler(device.type, enabled=scale)
    res = TrainResult(best_epoch=-1, best_val_accuracy=-1.0)
    best_state: dict[str, torch.Tensor] | None = None
    start, bad = 0, 0
    metrics_file = run_dir / "metrics.jsonl" if run_dir is not None else None
    if resume and run_dir is not None:
        st = load_state(run_dir)
        module.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        scaler.load_state_dict(st["scaler"])
        set_rng_state(st["rng"])
        start, bad, best_state = st["epoch"] + 1, st["bad_epochs"], st["best_model"]
        res.best_epoch, res.best_val_accuracy, res.history = st["best_epoch"], st["best_val_accuracy"], st["history"]
        res.epochs_run = start
        if world.main and metrics_file is not None:
            rewrite_metrics(metrics_file, start)
    elif world.main and metrics_file is not None:
        metrics_file.unlink(missing_ok=True)
    with progress() if world.main else _Silent() as bar:
        task = bar.add_task(desc, total=max(cfg.epochs - start, 0) * steps, info="")
        for epoch in range(start, cfg.epochs):
            t0 = time.perf_counter()
            module.train()
            sampler.set_epoch(epoch)
            criterion.set_epoch(epoch)
            order = torch.tensor(list(sampler), dtype=torch.long)
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch * 7919 + world.rank)
            sums: dict[str, float] = {}
            for i in range(0, len(order), cfg.batch_size):
                idx = order[i : i + cfg.batch_size]
                xb = random_shift(x[idx], cfg.shift_pixels, gen).to(device, non_blocking=True)
                yb = y[idx].to(device, non_blocking=True)
                t_logits, t_feats = teacher(idx, xb) if teacher is not None else (None, {})
                loss, parts = wrapped(xb, yb, t_logits, t_feats)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if cfg.grad_clip is not None:
                    scaler.unscale_(opt)
                    nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                scaler.step(opt)
                scaler.update()
                sched.step()
                for k, v in {"loss": loss.detach(), **parts}.items():
                    sums[k] = sums.get(k, 0.0) + float(v) * len(idx)
                bar.update(task, advance=1, info=f"epoch {epoch + 1}/{cfg.epochs} loss {float(loss.detach()):.4f}")
            sync_buffers(module, world)
            val = evaluate(student, x_val, y_val, device=device)
            row = {"epoch": epoch, **{k: v / len(order) for k, v in sums.items()}, "val_accuracy": val,
                   "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - t0}
            res.history.append(row)
            improved = val > res.best_val_accuracy
            if improved:
                res.best_epoch, res.best_val_accuracy, bad = epoch, val, 0
                best_state = copy.deepcopy(student.state_dict())
            else:
                bad += 1
            stop = broadcast_flag(cfg.patience is not None and bad >= cfg.patience, world)
            if world.main and run_dir is not None:
                if improved and save is not None:
                    save("best", student, criterion)
                if save is not None:
                    save("last", student, criterion)
                save_state(run_dir, {
                    "model": module.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "scaler": scaler.state_dict(), "rng": rng_state(), "epoch": epoch, "bad_epochs": bad,
                    "best_epoch": res.best_epoch, "best_val_accuracy": res.best_val_accuracy, "best_model": best_state,
                    "history": res.history,
                })
                append_metrics(metrics_file, row)
            res.epochs_run = epoch + 1
            bar.update(task, info=f"epoch {epoch + 1}/{cfg.epochs} loss {row['loss']:.4f} val {val:.2f}% "
                                  f"best {res.best_val_accuracy:.2f}%")
            if stop:
                res.stopped_early = True
                break
    taps.close()
    if best_state is not None:
        student.load_state_dict(best_state)
    return res
