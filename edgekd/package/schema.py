"""The bundle's ``manifest.json`` (format ``edgekd.bundle``, versioned): what a CI job ships and gates on."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from edgekd.schemas.base import Strict
from edgekd.schemas.manifest import TensorSpec

BUNDLE_FORMAT = "edgekd.bundle"
BUNDLE_VERSION = 1
MANIFEST = "manifest.json"
CARD = "MODEL_CARD.md"


class FileEntry(Strict):
    """A file in the bundle (every file but ``manifest.json``). ``path`` is relative to the bundle root."""

    path: str
    sha256: str
    bytes: int = Field(ge=0, description="File size, bytes.")
    kind: str = Field(description="onnx, onnx-data, engine, verification, profile, profile-html, model-card, ...")


class Latency(Strict):
    """The headline of a profile report at batch 1 (ms unless named otherwise)."""

    report: str = Field(description="Bundle path of the JSON report.")
    target: str
    batch: int
    runs: int
    median_ms: float
    p90_ms: float
    p99_ms: float
    cv: float = Field(description="Coefficient of variation of the timed runs, fraction.")
    throughput_per_s: float = Field(description="Items per second at this batch size.")
    peak_rss_bytes: int | None = None
    cpu: str = ""
    warnings: list[str] = Field(default_factory=list)


class ModelEntry(Strict):
    """One compiled model with its I/O signature, accuracy, verification and latency."""

    path: str = Field(description="Bundle path of the model file.")
    files: list[str] = Field(description="The model and its external-data files.")
    bytes: int = Field(description="Size of all its files, bytes.")
    role: Literal["student", "teacher", "model"] = "model"
    precision: str
    target: str
    source: str = Field("", description="What it was compiled from: checkpoint, onnx, huggingface, ...")
    inputs: list[TensorSpec] = Field(default_factory=list)
    outputs: list[TensorSpec] = Field(default_factory=list)
    test_accuracy: float | None = Field(None, description="Top-1 accuracy, %.")
    accuracy_on: str = Field("", description="Which samples test_accuracy counts.")
    verification: dict[str, Any] = Field(default_factory=dict)
    quantization: dict[str, Any] | None = None
    data_roles: dict[str, Any] = Field(default_factory=dict, description="Which data calibrated and verified it.")
    latency: Latency | None = None


class AccuracyDrop(Strict):
    """Accuracy lost by the primary model against a reference, points (positive = worse)."""

    pts: float
    against: Literal["teacher", "fp32"]
    reference_accuracy: float
    model_accuracy: float
    note: str = ""


class BundleManifest(Strict):
    """Everything a reader of the bundle needs without the run directory."""

    format: Literal["edgekd.bundle"] = BUNDLE_FORMAT
    version: Literal[1] = BUNDLE_VERSION
    name: str
    edgekd_version: str
    run_created_at: str = Field(description="When the run began (the bundle itself carries no packing time).")
    target: dict[str, Any] = Field(description="The target the run compiled for, with its budgets.")
    primary: str = Field(description="Bundle path of the model to ship: the run's latest ONNX model.")
    models: list[ModelEntry]
    teacher: dict[str, Any] | None = None
    student: dict[str, Any] | None = None
    accuracy_drop: AccuracyDrop | None = None
    search: dict[str, Any] | None = Field(None, description="Search trail: trials, proxy, budget, best and top candidates.")
    data: dict[str, Any] = Field(default_factory=dict, description="Dataset spec and split sizes/hashes.")
    stages: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Each stage's options and metrics.")
    recipe: dict[str, Any] = Field(default_factory=dict)
    env: dict[str, Any] = Field(default_factory=dict, description="Fingerprint of the machine the run used.")
    budgets: list[dict[str, Any]] = Field(default_factory=list, description="Gates against the target at packing.")
    files: list[FileEntry]

    def model(self, path: str | None = None) -> ModelEntry:
        """The entry for ``path`` (default: the primary model)."""
        want = path or self.primary
        return next(m for m in self.models if m.path == want)
