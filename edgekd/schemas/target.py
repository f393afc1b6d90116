"""Target: a named device with its runtime, precision, threads, connection and budgets."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edgekd.schemas.base import Strict

Precision = Literal["fp32", "fp16", "int8"]


class Connection(Strict):
    """How to reach the device: this machine, or SSH with a checked host key."""

    kind: Literal["local", "ssh"] = "local"
    host: str | None = None
    port: int = Field(22, ge=1, le=65535)
    user: str | None = None
    key: str | None = Field(None, description="Path to the private key file.")
    known_hosts: str | None = Field(None, description="Path to a known_hosts file that holds the device's host key.")
    accept_new_host_key: bool = Field(False, description="Trust an unknown host key on first contact (off by default).")
    python: str = Field("python3", description="Python on the device that has edgekd's profiler installed.")
    workdir: str = Field("~/.cache/edgekd", description="Remote directory for copied models.")

    @model_validator(mode="after")
    def _ssh_needs_host(self) -> "Connection":
        if self.kind == "ssh" and not (self.host and self.user):
            raise ValueError("an ssh connection needs host and user")
        return self


class Budgets(Strict):
    """Limits a model must meet on this target; None means no limit."""

    p90_latency_ms: float | None = Field(None, gt=0, description="p90 latency at batch 1, ms.")
    accuracy_drop_pts: float | None = Field(None, ge=0, description="Allowed accuracy drop vs the teacher, points.")
    size_bytes: int | None = Field(None, gt=0, description="Model file size, bytes.")
    peak_memory_bytes: int | None = Field(None, gt=0, description="Peak resident memory while running, bytes.")


class Target(Strict):
    """A device edgekd compiles for and profiles on."""

    name: str
    description: str = ""
    runtime: Literal["onnxruntime", "tensorrt"] = "onnxruntime"
    device: Literal["cpu", "cuda"] = "cpu"
    precisions: list[Precision] = Field(default_factory=lambda: ["fp32"], min_length=1)
    threads: int | None = Field(None, ge=1, description="Intra-op threads; None lets the runtime choose.")
    batch_sizes: list[int] = Field(default_factory=lambda: [1], min_length=1)
    opset: int = Field(18, ge=18, description="ONNX opset to export with (torch.onnx writes 18 or newer).")
    workspace_bytes: int | None = Field(None, gt=0, description="TensorRT builder workspace limit, bytes.")
    connection: Connection = Field(default_factory=Connection)
    budgets: Budgets = Field(default_factory=Budgets)
    notes: str = ""

    @property
    def precision(self) -> Precision:
        """The default precision: the first listed."""
        return self.precisions[0]
