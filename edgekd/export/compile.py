"""``edgekd.compile``: a model in the form a user has -> a verified ONNX model (and TensorRT engine) for a target."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import onnx
import torch

from edgekd.errors import EdgekdError
from edgekd.export import trt_engine
from edgekd.export.onnx_export import export_onnx, io_signature, save_onnx
from edgekd.export.precision import to_fp16, to_int8
from edgekd.export.runtime import ort_run, run_outputs
from edgekd.export.sources import Source, SourceOptions, load_source
from edgekd.export.trt_lint import lint
from edgekd.export.verify import TOLERANCES, Tolerance, tolerance_for, verify_outputs
from edgekd.fsutil import write_json
from edgekd.manifest_io import guard_outputs, record
from edgekd.onnx_files import model_files
from edgekd.quant.calibration import Arrays, as_arrays, take
from edgekd.quant.ptq import PTQConfig
from edgekd.schemas import Target
from edgekd.targets import get_target
from edgekd.trt_sidecar import tensorrt_version

__all__ = ["CompileResult", "compile", "ort_run"]


@dataclass
class CompileResult:
    """What ``compile`` wrote: the model, its verification report, and the numbers in it."""

    model: Path
    report: Path
    precision: str
    target: str
    verification: dict[str, Any] = field(default_factory=dict)
    quantization: dict[str, Any] | None = None
    files: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"model": str(self.model), "report": str(self.report), "precision": self.precision, "target": self.target,
                "verification": self.verification, "quantization": self.quantization, "files": [str(f) for f in self.files]}


def _export(src: Source, work: Path, opset: int, static: bool, example: Arrays) -> Path:
    if src.onnx is not None:
        return src.onnx
    dst = work / f"{src.stem}.fp32.onnx"
    tensors = [torch.from_numpy(v[:2]) for v in example.values()]
    export_onnx(src.module, tensors, dst, opset=opset, dynamic_batch=not static,
                input_names=[s.name for s in src.inputs], output_names=src.output_names)
    return dst


def _tensorrt(tgt: Target, model: Path, precision: str, inputs: Arrays, work: Path) -> tuple[dict[str, Any], list[Path]]:
    """Lint for TensorRT (raising on errors), then build the engine where tensorrt is installed."""
    ins, _ = io_signature(model)
    profiles = trt_engine.default_profiles([(t.name, t.shape) for t in ins], tgt.batch_sizes,
                                           {k: v.shape for k, v in inputs.items()})
    findings = [f.to_dict() for f in lint(model, profiles)]
    errors = [f for f in findings if f["severity"] == "error"]
    if errors:
        raise EdgekdError(f"{model.name} will not build with TensorRT: {errors[0]['message']}"
                          + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))
    info: dict[str, Any] = {"lint": findings, "profiles": {k: [list(s) for s in v] for k, v in profiles.items()}}
    version = tensorrt_version()
    if version is None:
        info["engine"] = "not built: tensorrt is not installed here; run edgekd compile on the GPU machine with edgekd[trt]"
        return info, []
    engine = work / model.name.replace(".onnx", ".engine")
    files = trt_engine.build_engine(model, engine, precision, profiles, tgt.workspace_bytes, work / "timing.cache")
    info["engine"] = engine.name
    return info, files


def compile(
    model: str | Path,
    target: str | Path | Target = "cpu-ort-fp32",
    precision: str | None = None,
    out: str | Path = "compiled",
    samples: np.ndarray | Mapping[str, np.ndarray] | None = None,
    num_verify: int = 64,
    tolerance: Tolerance | Mapping[str, Any] | None = None,
    force: bool = False,
    stage: str = "compile",
    *,
    labels: np.ndarray | None = None,
    calib: np.ndarray | Mapping[str, np.ndarray] | None = None,
    calib_samples: int = 256,
    calib_method: str = "minmax",
    task: str | None = None,
    static: bool = False,
    factory: str | None = None,
    trust_code: bool = False,
) -> CompileResult:
    """Compile ``model`` for ``target`` at ``precision`` (fp32, fp16 or int8; default: the target's) into ``out``.

    ``model``: an edgekd ``.safetensors`` checkpoint, a ``.pt2`` torch.export program, a Hugging Face directory, an
    ``.onnx`` file, or (with ``factory="module:function"`` and ``trust_code``) a ``.safetensors`` state dict or "-".
    ``samples`` (N, ...) or {input: (N, ...)} are real inputs for verification (random without them), ``labels``
    (N,) their classes; ``calib`` calibrates int8 (default: ``samples``), first ``calib_samples`` rows.
    Writes ``<stem>.<precision>.onnx`` and ``<stem>.<precision>.verify.json`` (plus the TensorRT lint, engine and
    sidecar for TensorRT targets) and records them in ``out/manifest.json``. Raises VerificationError past
    ``tolerance`` (per-precision defaults in ``TOLERANCES``; a dict overrides single fields).
    """
    tgt = get_target(target)
    precision = precision or tgt.precision
    if precision not in TOLERANCES:
        raise EdgekdError(f"precision {precision!r} is not supported; use one of {', '.join(TOLERANCES)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".edgekd-compile-", dir=out))
    try:
        opts = SourceOptions(task, factory, trust_code, tgt.opset, static,
                             tuple(samples.shape[1:]) if isinstance(samples, np.ndarray) else None)
        src = load_source(model, opts, work)
        stem = src.stem.removesuffix(f".{precision}")
        dst, report = out / f"{stem}.{precision}.onnx", out / f"{stem}.{precision}.verify.json"
        guard_outputs([dst, report], force)
        names = [s.name for s in src.inputs]
        inputs = take(as_arrays(samples, names), 0, num_verify) if samples is not None else src.random_inputs(num_verify)
        fp32 = _export(src, work, tgt.opset, static, inputs)
        reference = src.reference(inputs)
        got = run_outputs(fp32, inputs)
        count = len(next(iter(got.values())))
        inputs, reference = take(inputs, 0, count), {k: v[:count] for k, v in reference.items()}
        checked = {"against": src.against, "inputs": "samples" if samples is not None else "random", "source": src.kind}
        fp32_stats = verify_outputs(reference, got, tolerance_for("fp32", tolerance if precision == "fp32" else None),
                                    f"{stem} fp32 export", src.classifier)
        quant = None
        work_dst = work / dst.name
        if precision == "fp16":
            to_fp16(fp32, work_dst)
        elif precision == "int8":
            cal = calib if calib is not None else samples
            if cal is None:
                raise EdgekdError("int8 needs calibration data: pass --calib FILE.npz (real inputs), or samples/calib")
            cal_arrays = take(as_arrays(cal, names), 0, calib_samples)
            cfg = PTQConfig(method=calib_method, symmetric_activations=tgt.runtime == "tensorrt", op_types=src.quantize_ops)
            _, quant = to_int8(fp32, work_dst, cal_arrays, inputs, labels, cfg, tgt.budgets.accuracy_drop_pts, work,
                               src.classifier, tolerance_for("int8", tolerance).min_cosine)
        elif fp32 != work_dst:
            save_onnx(onnx.load(str(fp32)), work_dst)
        stats = fp32_stats if precision == "fp32" else verify_outputs(
            reference, run_outputs(work_dst, inputs), tolerance_for(precision, tolerance), f"{stem} {precision}",
            src.classifier)
        verification = {**checked, **stats}
        notes = list(src.notes)
        if precision not in tgt.precisions:
            notes.append(f"target {tgt.name} lists precisions {tgt.precisions}; {precision} is not among them")
        body: dict[str, Any] = {"model": dst.name, "source": str(model), "target": tgt.name, "precision": precision,
                                "verification": verification, "notes": notes}
        if precision != "fp32":
            body["fp32_export"] = {k: v for k, v in fp32_stats.items() if k != "outputs"}
        if quant is not None:
            body["quantization"] = quant
        extra: list[Path] = []
        if tgt.runtime == "tensorrt":
            body["tensorrt"], extra = _tensorrt(tgt, work_dst, precision, inputs, work)
        write_json(work / report.name, body)
        written = [*model_files(work_dst), work / report.name, *extra]
        guard_outputs([out / f.name for f in written], force)
        for f in written:
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    final = [out / f.name for f in written]
    kinds = {".onnx": "onnx", ".data": "onnx-data", ".engine": "engine"}
    ins, outs = io_signature(dst)
    meta = {"precision": precision, "target": tgt.name, "source": src.kind}
    record(out, stage, [(f, "verification" if f == report else kinds.get(f.suffix, "report"),
                         {"inputs": ins, "outputs": outs, "meta": meta} if f == dst else {}) for f in final],
           options={"precision": precision, "target": tgt.name, "calib_method": calib_method if precision == "int8" else None})
    return CompileResult(dst, report, precision, tgt.name, verification, quant, final)
