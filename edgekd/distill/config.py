"""Options of teachers and students (pydantic only: importing this loads no torch, so the CLI checks them at once)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from edgekd.quant.qad.config import QatOptions
from edgekd.schemas.base import Strict


class TrainConfig(Strict):
    """How to train: optimiser, schedule, augmentation, precision, early stopping."""

    epochs: int = Field(20, ge=1)
    batch_size: int = Field(64, ge=1, description="Samples per step and per process.")
    lr: float = Field(3e-3, gt=0, description="Peak learning rate.")
    weight_decay: float = Field(5e-4, ge=0)
    warmup_epochs: float = Field(1.0, ge=0, description="Linear warm-up, then cosine decay to 0.")
    shift_pixels: int = Field(2, ge=0, description="Random translation augmentation of images, pixels.")
    seed: int = 0
    optimizer: Literal["adamw", "sgd"] = "adamw"
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD (Nesterov) momentum.")
    grad_clip: float | None = Field(None, gt=0, description="Max global gradient L2 norm; None: no clipping.")
    amp: bool = Field(False, description="Mixed precision: bf16 (or fp16 with loss scaling) on CUDA, bf16 on CPU.")
    patience: int | None = Field(None, ge=1, description="Stop after this many epochs without a better val accuracy.")
    device: Literal["auto", "cpu", "cuda"] = "auto"


DEFAULT_ARCH = {"name": "resnet", "widths": [32, 64, 128], "blocks": [1, 1, 1]}


class TeacherConfig(TrainConfig):
    """Options of the ``teacher`` stage: the architecture and how to train it."""

    arch: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_ARCH), description="Arch JSON; see edgekd.models.")
    name: str = Field("teacher", description="File stem of the checkpoint.")


# Best measured on digits (benchmarks/kd_losses.py): DIST's relations close the gap for tiny students, where KD and DKD hurt.
DEFAULT_LOSS: dict[str, Any] = {"ce": 1.0, "dist": {"beta": 2.0, "gamma": 2.0, "temperature": 4.0}}


class DistillConfig(TrainConfig):
    """Options of ``edgekd distill`` and the ``distill`` stage."""

    student: dict[str, Any] | str = Field(
        default_factory=lambda: {"width": 0.33, "depth": 1.0},
        description="Arch JSON (dict or path), a .safetensors checkpoint to start from, or {width, depth} "
                    "factors that scale the teacher's own family.")
    loss: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_LOSS),
                                 description="Loss name -> weight or {weight, **options}; see edgekd.distill.losses.")
    init_from_teacher: bool = Field(True, description="Copy teacher tensors whose shapes match (evenly spaced layers).")
    cache_teacher: bool = Field(True, description="Compute teacher outputs once and reuse them (only when shift_pixels=0).")
    cache_dir: str | None = Field(None, description="Teacher-output cache; default $EDGEKD_CACHE/teacher.")
    label_fraction: float = Field(1.0, gt=0, le=1, description="Keep labels of this stratified share of training samples; "
                                                               "the rest are unlabelled (teacher outputs only).")
    name: str = Field("student", description="File stem of the student checkpoint.")
    quantize: Literal["int8"] | None = Field(None, description="Train the student with int8 fake quantization (QAD); "
                                                              "its checkpoint keeps the learned scales.")
    qat: QatOptions = Field(default_factory=QatOptions, description="Fake-quantization options (with quantize).")
