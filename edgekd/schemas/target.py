"""Target: a named device with its runtime, precision, threads, connection and budgets."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

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


class Quantization(Strict):
    """int8 types and options for this target's runtime and CPU; unset fields take the runtime's default.

    Defaults: ONNX Runtime on CPU uses uint8 activations with int8 weights (U8S8), the fast kernels on x86-64
    without VNNI, with 7-bit weights (reduce_range) so that AVX2's pairwise u8*s8 sums cannot saturate; TensorRT
    uses int8 activations symmetric about 0 (S8S8, zero-point 0), which it requires.
    """

    activation_type: Literal["uint8", "int8"] | None = Field(None, description="Activation integer type.")
    weight_type: Literal["int8", "uint8"] = Field("int8", description="Weight integer type.")
    symmetric_activations: bool | None = Field(None, description="Activation ranges symmetric about 0 (zero-point 0).")
    per_channel: bool = Field(True, description="One weight scale per output channel.")
    reduce_range: bool | None = Field(None, description="7-bit weights, against u8*s8 overflow on x86 CPUs without "
                                                       "VNNI (default: on with uint8 activations).")


class Target(Strict):
    """A device edgekd compiles for and profiles on."""

    name: str
    description: str = ""
    runtime: Literal["onnxruntime", "tensorrt"] = "onnxruntime"
    device: Literal["cpu", "cuda"] = "cpu"
    precisions: list[Precision] = Field(default_factory=lambda: ["fp32"], min_length=1)
    threads: int | None = Field(None, ge=1, le=1024, description="Intra-op threads (at most 1024); None lets the runtime choose.")
    batch_sizes: list[Annotated[int, Field(ge=1, le=65536)]] = Field(default_factory=lambda: [1], min_length=1)
    opset: int = Field(18, ge=18, description="ONNX opset to export with (torch.onnx writes 18 or newer).")
    workspace_bytes: int | None = Field(None, gt=0, description="TensorRT builder workspace limit, bytes.")
    connection: Connection = Field(default_factory=Connection)
    budgets: Budgets = Field(default_factory=Budgets)
    quantization: Quantization = Field(default_factory=Quantization)
    notes: str = ""

    @field_validator("opset")
    @classmethod
    def _known_opset(cls, opset: int) -> int:
        if opset <= 18:
            return opset
        import onnx

        newest = onnx.defs.onnx_opset_version()
        if opset > newest:
            raise ValueError(f"opset {opset} is newer than the installed onnx supports ({newest})")
        return opset

    @property
    def precision(self) -> Precision:
        """The default precision: the first listed."""
        return self.precisions[0]

    def int8_options(self) -> dict[str, object]:
        """The int8 types and options to quantize with: ``quantization`` with the runtime's defaults filled in."""
        q = self.quantization.model_dump()
        trt = self.runtime == "tensorrt"
        if q["activation_type"] is None:
            q["activation_type"] = "int8" if trt else "uint8"
        if q["symmetric_activations"] is None:
            q["symmetric_activations"] = trt
        if q["reduce_range"] is None:  # ONNX Runtime's advice for U8S8 on x86-64 without VNNI: AVX2 sums saturate
            q["reduce_range"] = q["activation_type"] == "uint8" and q["weight_type"] == "int8"
        return q

    @model_validator(mode="after")
    def _tensorrt_needs_s8s8(self) -> "Target":
        q = self.quantization
        if self.runtime == "tensorrt" and (q.activation_type == "uint8" or q.symmetric_activations is False
                                           or q.weight_type != "int8"):
            raise ValueError("TensorRT runs only symmetric int8 Q/DQ: set quantization to activation_type int8, "
                             "symmetric_activations true, weight_type int8 (or leave it out)")
        return self
