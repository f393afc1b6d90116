"""``edgekd.compile``: a model in the form a user has -> a verified ONNX model (and TensorRT engine) for a target."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import onnx
import torch

from edgekd.budgets import budget_report
from edgekd.errors import EdgekdError
from edgekd.export import trt_engine
from edgekd.export.checks import check_request
from edgekd.export.onnx_export import export_onnx, io_signature, save_onnx
from edgekd.export.precision import to_fp16, to_int8
from edgekd.export.roles import assign
from edgekd.export.runtime import ort_run, run_outputs
from edgekd.export.sources import Source, SourceOptions, find_loader
from edgekd.export.speed import int8_speed
from edgekd.export.trt_lint import lint
from edgekd.export.verify import Tolerance, tolerance_for, verify_outputs
from edgekd.fsutil import write_json
from edgekd.fsutil import scratch_dir
from edgekd.inputs import check_samples
from edgekd.manifest_io import guard_outputs, publish
from edgekd.onnx_files import model_files
from edgekd.quant.calibration import Arrays, as_arrays, calibration_method, take
from edgekd.quant.ptq import PTQConfig
from edgekd.schemas import Target
from edgekd.trt_sidecar import tensorrt_version

__all__ = ["CompileResult", "compile", "ort_run"]


@dataclass
class CompileResult:
    """What ``compile`` wrote: the model, its verification report, the numbers in it and the data behind them."""

    model: Path
    report: Path
    precision: str
    target: str
    verification: dict[str, Any] = field(default_factory=dict)
    quantization: dict[str, Any] | None = None
    files: list[Path] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"model": str(self.model), "report": str(self.report), "precision": self.precision, "target": self.target,
                "data": self.data, "verification": self.verification, "quantization": self.quantization,
                "notes": self.notes, "files": [str(f) for f in self.files]}


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
    files = trt_engine.build_engine(model, engine, precision, profiles, tgt.workspace_bytes, verify_inputs=inputs)
    info["engine"] = engine.name
    return info, files


def _arrays(data: Any, names: list[str], src: Source, what: str) -> Arrays | None:
    """Arrays, a dict of arrays, or sentences (tokenized with the model's tokenizer) -> named arrays."""
    if data is None:
        return None
    if isinstance(data, (list, tuple)) and data and all(isinstance(t, str) for t in data):
        if src.encode is None:
            raise EdgekdError(f"{what} is text, but {src.stem} has no tokenizer; give real inputs as .npz arrays")
        return src.encode(list(data))
    onnx_specs = io_signature(src.onnx)[0] if src.onnx else None
    return check_samples(as_arrays(data, names), onnx_specs or src.inputs, what, batch_axis=onnx_specs is not None)


def _slower(speed: dict[str, Any]) -> dict[int, float]:
    """{batch size: int8 speed-up} for every batch size where int8 ran slower than fp32."""
    return {int(k.removeprefix("batch_")): v["int8_speedup"] for k, v in speed.items()
            if k.startswith("batch_") and v["int8_speedup"] < 1.0}


def _speed_notes(tgt: Target, slower: dict[int, float], kept_fp32: bool) -> list[str]:
    """A note for every batch size where int8 ran slower than fp32 (``_slower``), with the measured ratio."""
    keep = (" (fp32 kept: the target's precision was not given and the target lists fp32; --precision int8 keeps int8)"
            if kept_fp32 else " (the target lists fp32: use it there)" if "fp32" in tgt.precisions else "")
    return [f"int8 is slower than fp32 at batch {b} on this machine: {r:.2f}x of fp32 speed (interleaved medians){keep}"
            for b, r in slower.items()]


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
    calib: np.ndarray | Mapping[str, np.ndarray] | Sequence[str] | None = None,
    calib_labels: np.ndarray | None = None,
    validation: np.ndarray | Mapping[str, np.ndarray] | None = None,
    validation_labels: np.ndarray | None = None,
    calib_samples: int = 256,
    calib_method: str = "minmax",
    task: str | None = None,
    static: bool = False,
    factory: str | None = None,
    trust_code: bool = False,
    measure_speed: bool = True,
) -> CompileResult:
    """Compile ``model`` for ``target`` at ``precision`` (fp32, fp16 or int8; default: the target's) into ``out``.

    ``model``: an edgekd ``.safetensors`` checkpoint, a ``.pt2`` torch.export program, a Hugging Face directory, an
    ``.onnx`` file, or (with ``factory="module:function"`` and ``trust_code``) a ``.safetensors`` state dict or "-".
    Data, by role (see ``edgekd.export.roles.assign``): ``samples`` (N, ...) or {input: (N, ...)} with ``labels``
    (N,) are held out: verification and every reported accuracy use them. ``calib`` (arrays, or sentences for
    Hugging Face text models) calibrates int8 (``calib_samples`` rows); ``validation`` (+ labels) is where the
    int8 fallback chooses which nodes stay in float (default: rows of ``calib`` held apart). Without ``samples``
    the data given is split so that no row serves two roles; without any data, inputs come from the source's
    exporter (optimum's dummy inputs for Hugging Face models). int8 types come from the target
    (``Target.int8_options``); Hugging Face models get dynamic int8 after SmoothQuant (``edgekd.export.smooth``) without
    ``calib`` and, on ONNX Runtime CPU targets, with it (its rows then give the smoothing statistics).
    Writes ``<stem>.<precision>.onnx`` and ``<stem>.<precision>.verify.json`` (plus the TensorRT lint, engine and
    sidecar for TensorRT targets) and records them in ``out/manifest.json``. Raises VerificationError past
    ``tolerance`` (per-precision defaults in ``TOLERANCES``; a dict overrides single fields).
    """
    tgt, chosen = check_request(model, target, precision, out, factory, trust_code)
    keep_faster = precision is None and tgt.precision == "int8" and "fp32" in tgt.precisions
    precision = chosen
    calibration_method(calib_method)
    shape_from = samples if isinstance(samples, np.ndarray) else calib if isinstance(calib, np.ndarray) else None
    opts = SourceOptions(task, factory, trust_code, tgt.opset, static,
                         tuple(shape_from.shape[1:]) if shape_from is not None else None)
    loader = find_loader(model, opts)
    transformer = bool(getattr(loader, "transformer", False))
    native = bool(getattr(loader, "quantized", False))  # already int8 QDQ (QAD): keep its scales, calibrate nothing
    if native and precision != "int8":
        raise EdgekdError(f"{model} is an int8 model with learned scales (quantization-aware); compile it with --precision int8")
    # transformers on ONNX Runtime CPU: dynamic int8 after SmoothQuant (calib, if given, supplies its statistics)
    dynamic = precision == "int8" and transformer and (calib is None or (tgt.runtime, tgt.device) == ("onnxruntime", "cpu"))
    if precision == "int8" and calib is None and samples is None and not (dynamic or native):
        raise EdgekdError("int8 needs calibration data: pass --calib FILE.npz of real inputs (or compile fp16)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    work = scratch_dir(out, "compile")
    try:
        src = loader.load(Path(model), opts, work)  # the file was checked once, by check_request
        stem = src.stem.removesuffix(f".{precision}")
        dst, report = out / f"{stem}.{precision}.onnx", out / f"{stem}.{precision}.verify.json"
        guard_outputs([dst, report], force)
        names = [s.name for s in src.inputs]
        roles = assign(_arrays(samples, names, src, "samples"), labels, _arrays(calib, names, src, "calib"), calib_labels,
                       _arrays(validation, names, src, "validation"), validation_labels, src.random_inputs,
                       src.inputs_from, num_verify, calib_samples, precision == "int8" and not native,
                       dynamic)
        inputs = roles.verification.arrays
        fp32 = _export(src, work, tgt.opset, static, inputs)
        reference = src.reference(inputs)
        got = run_outputs(fp32, inputs)
        count = len(next(iter(got.values())))
        inputs, reference = take(inputs, 0, count), {k: v[:count] for k, v in reference.items()}
        checked = {"against": src.against, "inputs": roles.verification.kind, "inputs_from": roles.verification.what,
                   "source": src.kind}
        fp32_stats = verify_outputs(reference, got, tolerance_for("int8" if native else "fp32",
                                                                  tolerance if precision == "fp32" or native else None),
                                    f"{stem} {'int8 QDQ' if native else 'fp32'} export", src.classifier)
        quant = None
        notes = list(src.notes)
        work_dst = work / dst.name
        if precision == "fp16":
            to_fp16(fp32, work_dst)
        elif precision == "int8" and not native:
            cfg = PTQConfig(method=calib_method, op_types=src.quantize_ops, **tgt.int8_options())
            _, quant = to_int8(fp32, work_dst, roles, cfg, tgt.budgets.accuracy_drop_pts, work, src.classifier,
                               tolerance_for("int8", tolerance).min_cosine, dynamic)
        elif fp32 != work_dst:
            save_onnx(onnx.load(str(fp32)), work_dst)
        if native and src.quantization is not None:
            quant = src.quantization(work_dst, inputs)
        local_cpu = tgt.runtime == "onnxruntime" and tgt.device == "cpu" and tgt.connection.kind == "local"
        kept_fp32 = False
        if quant is not None and local_cpu and measure_speed and (not native or src.float_twin is not None):
            base = src.float_twin(work / "float-twin.onnx") if native and src.float_twin else fp32
            quant["speed"] = int8_speed(base, work_dst, inputs, tgt.batch_sizes, tgt.threads)
            slower = _slower(quant["speed"])
            kept_fp32 = keep_faster and bool(slower)
            notes += _speed_notes(tgt, slower, kept_fp32)
        if kept_fp32:  # the target chose int8 but lists fp32, and int8 lost somewhere: deploy the faster float model
            quant["int8_verification"] = fp32_stats if native else verify_outputs(
                reference, run_outputs(work_dst, inputs), tolerance_for("int8", tolerance), f"{stem} int8",
                src.classifier, inputs.get("attention_mask"))
            quant["kept"] = {"precision": "fp32", "int8_slower_at": slower}
            precision, work_dst = "fp32", work / f"{stem}.fp32.onnx"
            dst, report = out / work_dst.name, out / f"{stem}.fp32.verify.json"
            guard_outputs([dst, report], force)
            save_onnx(onnx.load(str(base)), work_dst)
        if kept_fp32 and native:  # the float twin, held to the int8 tolerance against the fake-quant model
            stats = verify_outputs(reference, run_outputs(work_dst, inputs), tolerance_for("int8", tolerance),
                                   f"{stem} float twin", src.classifier, inputs.get("attention_mask"))
        elif precision == "fp32" or native:  # the export itself is what was verified
            stats = fp32_stats
        else:
            stats = verify_outputs(reference, run_outputs(work_dst, inputs), tolerance_for(precision, tolerance),
                                   f"{stem} {precision}", src.classifier, inputs.get("attention_mask"))
        verification = {**checked, **stats}
        if precision not in tgt.precisions:
            notes.append(f"target {tgt.name} lists precisions {tgt.precisions}; {precision} is not among them")
        body: dict[str, Any] = {"model": dst.name, "source": str(model), "target": tgt.name, "precision": precision,
                                "data": roles.to_dict(), "verification": verification, "notes": notes}
        if precision != "fp32":
            body["fp32_export"] = {k: v for k, v in fp32_stats.items() if k != "outputs"}
        if quant is not None:
            body["quantization"] = quant
        extra: list[Path] = []
        if tgt.runtime == "tensorrt":
            body["tensorrt"], extra = _tensorrt(tgt, work_dst, precision, inputs, work)
        body["budgets"] = budget_report(tgt, size_bytes=sum(f.stat().st_size for f in model_files(work_dst)))
        write_json(work / report.name, body)
        written = [*model_files(work_dst), work / report.name, *extra]
        kinds = {".onnx": "onnx", ".data": "onnx-data", ".engine": "engine"}
        ins, outs = io_signature(work_dst)
        meta = {"precision": precision, "target": tgt.name, "source": src.kind}
        publish(out, stage, [(f, "verification" if f.name == report.name else kinds.get(f.suffix, "report"),
                              {"inputs": ins, "outputs": outs, "meta": meta} if f == work_dst else {}) for f in written],
                options={"precision": precision, "target": tgt.name,
                         "calib_method": calib_method if precision == "int8" and not dynamic else None}, force=force)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    final = [out / f.name for f in written]
    return CompileResult(dst, report, precision, tgt.name, verification, quant, final, roles.to_dict(), notes)
