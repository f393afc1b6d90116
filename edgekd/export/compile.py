"""``edgekd.compile``: a model file -> a verified ONNX model for a target, recorded in a manifest."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from edgekd.errors import EdgekdError
from edgekd.export.onnx_export import export_onnx, io_signature
from edgekd.export.verify import Tolerance, verify_outputs
from edgekd.fsutil import write_json
from edgekd.manifest_io import guard_outputs, record
from edgekd.models import load_checkpoint, read_input_shape
from edgekd.schemas import Target
from edgekd.targets import get_target

TOLERANCES = {"fp32": Tolerance()}


@dataclass
class CompileResult:
    """What ``compile`` wrote: the model, its verification report, and the numbers in it."""

    model: Path
    report: Path
    precision: str
    target: str
    verification: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"model": str(self.model), "report": str(self.report), "precision": self.precision,
                "target": self.target, "verification": self.verification}


def ort_run(path: str | Path, x: np.ndarray, batch: int = 64) -> np.ndarray:
    """Run an ONNX model's first input/output on the CPU in batches of ``batch``."""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i : i + batch]})[0] for i in range(0, len(x), batch)])


def _inputs(shape: tuple[int, ...] | None, samples: np.ndarray | None, n: int, seed: int) -> np.ndarray:
    if samples is not None:
        return np.ascontiguousarray(samples[:n], dtype=np.float32)
    if shape is None:
        raise EdgekdError("no input shape known for this model; pass --calib FILE.npz with real samples")
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)


def compile(
    model: str | Path,
    target: str | Path | Target = "cpu-ort-fp32",
    precision: str | None = None,
    out: str | Path = "compiled",
    samples: np.ndarray | None = None,
    num_verify: int = 64,
    tolerance: Tolerance | None = None,
    force: bool = False,
    stage: str = "compile",
) -> CompileResult:
    """Compile ``model`` (an edgekd ``.safetensors`` checkpoint or an ``.onnx`` file) for ``target``.

    ``samples`` (N, ...) float32 are real inputs for verification; random inputs are used without them.
    Writes ``<stem>.<precision>.onnx`` and ``<stem>.<precision>.verify.json`` into ``out`` and records both
    in ``out/manifest.json``. Raises VerificationError when outputs differ past ``tolerance``.
    """
    src, tgt = Path(model), get_target(target)
    precision = precision or tgt.precision
    if precision not in TOLERANCES:
        raise EdgekdError(f"precision {precision!r} is not supported yet; use one of {sorted(TOLERANCES)}")
    if not src.is_file():
        raise EdgekdError(f"model not found: {src}")
    out = Path(out)
    stem = src.name.removesuffix(".safetensors").removesuffix(".onnx").removesuffix(f".{precision}")
    dst, report = out / f"{stem}.{precision}.onnx", out / f"{stem}.{precision}.verify.json"
    guard_outputs([dst, report], force)

    if src.suffix == ".safetensors":
        net, _ = load_checkpoint(src)
        x = _inputs(read_input_shape(src), samples, num_verify, seed=0)
        export_onnx(net, torch.from_numpy(x[:2]), dst, opset=tgt.opset)
        with torch.no_grad():
            reference = net(torch.from_numpy(x)).numpy()
        against = "pytorch"
    elif src.suffix == ".onnx":
        ins, _ = io_signature(src)
        shape = tuple(d if isinstance(d, int) else 1 for d in ins[0].shape[1:])
        x = _inputs(shape, samples, num_verify, seed=0)
        if src.resolve() != dst.resolve():
            out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
        reference, against = ort_run(src, x), "onnx-fp32"
    else:
        raise EdgekdError(f"{src}: unsupported model file; pass an edgekd .safetensors checkpoint or an .onnx file")

    stats = verify_outputs(reference, ort_run(dst, x), tolerance or TOLERANCES[precision], str(dst))
    verification = {"against": against, "inputs": "samples" if samples is not None else "random", **stats}
    write_json(report, {"model": dst.name, "source": str(src), "target": tgt.name, "precision": precision,
                        "verification": verification})
    ins, outs = io_signature(dst)
    record(out, stage, [
        (dst, "onnx", {"inputs": ins, "outputs": outs, "meta": {"precision": precision, "target": tgt.name}}),
        (report, "verification", {}),
    ])
    return CompileResult(dst, report, precision, tgt.name, verification)
