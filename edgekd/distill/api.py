"""``edgekd.distill``: train a student from a teacher checkpoint with the recipe's weighted losses."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from edgekd.data import Splits, resolve_data
from edgekd.distill.checks import check_outputs, check_resume, distill_options, output_files
from edgekd.distill.config import DistillConfig
from edgekd.distill.ddp import World, barrier, close_world, init_world
from edgekd.distill.loop import evaluate, fit, training_device
from edgekd.distill.losses import Criterion, build_criterion
from edgekd.distill.state import save_weights
from edgekd.distill.teacher import complete_arch
from edgekd.distill.teacher_cache import TeacherSource, cached_outputs, default_cache_dir
from edgekd.errors import EdgekdError
from edgekd.fsutil import write_json
from edgekd.manifest_io import record
from edgekd.models import build_model, count_params, init_from_teacher, load_checkpoint, read_input_shape, scaled_arch
from edgekd.models.checkpoint import read_arch
from edgekd.schemas import DatasetSpec


@dataclass
class DistillResult:
    """What ``distill`` wrote and measured; accuracies in percent, times in seconds."""

    checkpoint: str
    test_accuracy: float
    val_accuracy: float
    teacher_test_accuracy: float
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    params: int
    teacher_params: int
    teacher_outputs: str
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    model: nn.Module | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("model", "history")}


def _student_arch(spec: dict[str, Any] | str, teacher_arch: dict[str, Any]) -> tuple[dict[str, Any], Path | None]:
    """(arch, optional start weights) from a dict, an arch JSON path, a checkpoint or scale factors."""
    if isinstance(spec, dict):
        if "name" in spec:
            return dict(spec), None
        unknown = set(spec) - {"width", "depth"}
        if unknown:
            raise EdgekdError(f"student: give an arch with 'name' or scale factors width/depth; unknown keys {sorted(unknown)}")
        return scaled_arch(teacher_arch, **spec), None
    path = Path(spec)
    if path.suffix == ".safetensors":
        return read_arch(path), path
    if not path.is_file():
        raise EdgekdError(f"student arch file not found: {path}; pass an arch JSON, a .safetensors or a dict")
    try:
        return json.loads(path.read_text()), None
    except ValueError as err:
        raise EdgekdError(f"{path}: not valid JSON: {err}") from None


def _labels(y: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Labels with all but a stratified, seeded ``fraction`` per class set to -1."""
    if fraction >= 1.0:
        return y
    gen, keep = torch.Generator().manual_seed(seed), torch.zeros(len(y), dtype=torch.bool)
    for c in y.unique():
        idx = (y == c).nonzero().flatten()
        keep[idx[torch.randperm(len(idx), generator=gen)[: max(1, round(fraction * len(idx)))]]] = True
    return torch.where(keep, y, torch.full_like(y, -1))


def distill(teacher: str | Path, student: dict[str, Any] | str | None = None, data: str | Path | DatasetSpec | Splits = "digits",
            out: str | Path = "student", config: DistillConfig | None = None, *, loss: dict[str, Any] | None = None,
            epochs: int | None = None, quantize: str | None = None, resume: bool = False, force: bool = False,
            stage: str = "distill") -> DistillResult:
    """Distil ``teacher`` (.safetensors) into ``student`` on ``data``; write the best student to ``out``.

    ``quantize="int8"`` trains the student with int8 fake quantization (QAD) in the QDQ format of ``config.qat.target``
    (default cpu-ort-int8); its checkpoint keeps the learned scales for ``edgekd compile --precision int8``.

    Writes ``<name>.safetensors`` (+ ``.arch.json``, ``.adapters.safetensors`` when losses learn adapters), ``<name>.last.*``,
    ``last.state.pt`` (resume), ``metrics.jsonl``, ``<name>.metrics.json`` and ``<name>.split.json``, recorded in
    ``out/manifest.json``. Under ``torchrun`` every rank trains (DDP) and rank 0 alone writes.
    """
    t0 = time.perf_counter()
    cfg = distill_options(config, student=student, loss=loss, epochs=epochs, quantize=quantize)
    training_device(cfg.device)
    criterion = build_criterion(cfg.loss)
    out = Path(out)
    check_outputs(out, cfg, resume, force)
    world = init_world(cfg.device)
    try:
        return _distill(Path(teacher), data, out, cfg, criterion, output_files(out, cfg.name), world, resume, stage, t0)
    finally:
        close_world(world)


def can_resume(out: str | Path, config: DistillConfig) -> bool:
    """True when ``out`` holds an interrupted run of ``config`` that ``distill(..., resume=True)`` continues."""
    try:
        check_resume(Path(out), Path(out) / f"{config.name}.config.json", config)
    except EdgekdError:
        return False
    return True


def _distill(teacher_path: Path, data: Any, out: Path, cfg: DistillConfig, criterion: Criterion,
             files: dict[str, Path], world: World, resume: bool, stage: str, t0: float) -> DistillResult:
    t_model, t_arch = load_checkpoint(teacher_path)
    shape = read_input_shape(teacher_path)
    splits = resolve_data(data, image_size=shape[-1] if shape and len(shape) == 3 else 32)
    arch, start = _student_arch(cfg.student, t_arch)
    arch = complete_arch(arch, splits)
    torch.manual_seed(cfg.seed)
    model = build_model(arch)
    if start is not None:
        model.load_state_dict(load_file(str(start)))
    elif cfg.init_from_teacher and arch.get("name") == t_arch.get("name"):
        init_from_teacher(model, t_model)
    t_model.to(world.device)
    x, y = splits.x["train"], _labels(splits.y["train"], cfg.label_fraction, cfg.seed)
    source, how = None, "unused"
    if criterion.needs_teacher:
        paths = criterion.taps()[1]
        if cfg.cache_teacher and cfg.shift_pixels == 0:
            cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
            if world.main:
                cached, hit = cached_outputs(t_model, x, paths, world.device, cache_dir)
            barrier(world)
            if not world.main:
                cached, hit = cached_outputs(t_model, x, paths, world.device, cache_dir, write=False)
            source, how = TeacherSource(t_model, paths, cached), "cache hit" if hit else "cached now"
        else:
            source, how = TeacherSource(t_model, paths, None), "live (augmented inputs)"
    else:
        keep = y >= 0
        x, y = x[keep], y[keep]
    save_qad = None
    if cfg.quantize:
        from edgekd.quant.qad.student import qad_saver, quantized_student

        model, scheme = quantized_student(model, criterion.taps()[0], x, cfg.qat, cfg.epochs, cfg.batch_size, world.size,
                                          resume)
        save_qad = qad_saver(scheme, arch, splits.input_shape)

    def save(which: str, student: nn.Module, adapters: nn.Module) -> None:
        stem = cfg.name if which == "best" else f"{cfg.name}.last"
        if save_qad is not None:
            save_qad(student, out / f"{stem}.safetensors")
            return
        save_weights(student, adapters, arch, out / f"{stem}.safetensors", splits.input_shape)

    if world.main and not resume:
        write_json(files["config.json"], cfg.model_dump(mode="json"))
    res = fit(model, criterion, x, y, splits.x["val"], splits.y["val"], cfg, teacher=source, world=world, run_dir=out,
              resume=resume, save=save, desc=cfg.name)
    metrics = {
        "test_accuracy": evaluate(model, splits.x["test"], splits.y["test"], device=world.device),
        "val_accuracy": res.best_val_accuracy,
        "teacher_test_accuracy": evaluate(t_model, splits.x["test"], splits.y["test"], device=world.device),
        "best_epoch": res.best_epoch, "epochs_run": res.epochs_run, "stopped_early": res.stopped_early,
        "params": count_params(model), "teacher_params": count_params(t_model), "teacher_outputs": how,
        "seconds": time.perf_counter() - t0,
    }
    if world.main:
        write_json(files["metrics.json"], {**metrics, "loss": cfg.loss, "arch": arch, "history": res.history})
        write_json(files["split.json"], {**splits.as_json(), "labelled_train": int((y >= 0).sum())})
        adapters = out / f"{cfg.name}.adapters.safetensors"
        entries = [(files["safetensors"], "checkpoint", {"meta": {"role": "student", "params": metrics["params"],
                                                                  "teacher": str(teacher_path),
                                                                  **({"quantize": cfg.quantize} if cfg.quantize else {})}}),
                   (out / f"{cfg.name}.arch.json", "arch", {}),
                   (files["split.json"], "split", {"meta": splits.info()}),
                   (files["metrics.json"], "metrics", {})]
        if adapters.is_file():
            entries.append((adapters, "adapters", {}))
        record(out, stage, entries, options=cfg.model_dump(mode="json"))
    return DistillResult(checkpoint=str(files["safetensors"]), history=res.history, model=model, **metrics)
