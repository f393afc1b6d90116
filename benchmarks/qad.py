"""Quantization-aware distillation on digits (``python benchmarks/qad.py``).

For the recipe's 10x student (30.7k parameters) and 3 seeds: FP32 distilled (the recipe's distill stage), PTQ
(``edgekd.compile`` int8, minmax, the target's U8S8 types, accuracy-aware fallback choosing on the validation
split), QAT without a teacher (labels only, fake-quantized, from the FP32 student) and QAD (the recipe's loss,
fake-quantized, from the FP32 student). Every int8 accuracy is that of the compiled ONNX model run by ONNX
Runtime on the test split; checkpoints are chosen on the validation split. Then, in one run and interleaved,
ONNX Runtime CPU speed of each int8 model against its fp32 model at batch 1 and 64 (``edgekd.compare``, 2 threads,
as the target), for the student
and for the teacher-sized model (the teacher's architecture, QAD from its own weights; seed 0), the count of
QuantizeLinear nodes, ops left in float, the per-op-type times from ONNX Runtime's profiler, and QDQ-vs-fake-quant
parity; and what ``edgekd compile`` deploys for each QAD model when the precision is left to the target (int8, or fp32
where int8 measured slower). Writes ``benchmarks/results/qad.json``. Finished runs in ``--work`` are reused.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results"
STUDENT = {"name": "resnet", "widths": [10, 20, 40], "blocks": [1, 1, 1]}
TEACHER = {"name": "resnet", "widths": [32, 64, 128], "blocks": [1, 1, 1]}
RECIPE_LOSS = {"ce": 1.0, "dist": {"beta": 2.0, "gamma": 2.0, "temperature": 4.0}}
FP32 = {"epochs": 15, "batch_size": 64, "lr": 3e-3, "shift_pixels": 0}
QAT = {"epochs": 3, "batch_size": 64, "lr": 5e-4, "warmup_epochs": 0.0, "shift_pixels": 0}
TARGET = "cpu-ort-int8"


@functools.lru_cache(maxsize=1)
def splits() -> Any:
    from edgekd.data import load_dataset
    from edgekd.schemas import DatasetSpec

    return load_dataset(DatasetSpec(name="digits", image_size=32, split={"val": 0.1, "test": 0.2, "seed": 0}))


def teacher(work: Path) -> Path:
    path = work / "teacher" / "teacher.safetensors"
    if not path.is_file():
        from edgekd.distill import TeacherConfig, train_teacher

        train_teacher(splits(), TeacherConfig(arch=TEACHER, epochs=15, batch_size=64, lr=3e-3), path.parent, force=True)
    return path


def ort_accuracy(model: Path, x: np.ndarray, y: np.ndarray) -> float:
    from edgekd.export.runtime import ort_run

    return 100.0 * float((ort_run(model, x).argmax(1) == y).mean())


def distilled(t: Path, out: Path, seed: int, student: Any, loss: dict[str, Any], opts: dict[str, Any],
              quantize: str | None) -> dict[str, Any]:
    """One distillation run (reused when done); its metrics."""
    done = out / "student.metrics.json"
    if not done.is_file():
        import edgekd
        from edgekd.distill import DistillConfig

        cfg = DistillConfig(**opts, seed=seed, loss=loss, cache_dir=str(out.parent.parent / "cache"),
                            qat={"target": TARGET})
        edgekd.distill(t, student, splits(), out, cfg, quantize=quantize, force=True)
    return json.loads(done.read_text())


def compiled(ckpt: Path, out: Path, precision: str) -> Path:
    """``edgekd compile`` of ``ckpt`` for the int8 target (calibration: train, fallback: val, verification: test)."""
    model = out / f"{ckpt.stem}.{precision}.onnx"
    if not model.is_file():
        import edgekd

        sp = splits()
        edgekd.compile(ckpt, TARGET, precision, out, samples=sp.x["test"].numpy(), labels=sp.y["test"].numpy(),
                       num_verify=len(sp.y["test"]), calib=sp.x["train"].numpy(), validation=sp.x["val"].numpy(),
                       validation_labels=sp.y["val"].numpy(), measure_speed=False, force=True)
    return model


def seed_row(work: Path, t: Path, seed: int, methods: tuple[str, ...] = ("fp32", "ptq", "qat", "qad")) -> dict[str, Any]:
    sp = splits()
    x, y = sp.x["test"].numpy(), sp.y["test"].numpy()
    base = work / f"seed{seed}"
    fp = distilled(t, base / "fp32", seed, STUDENT, RECIPE_LOSS, FP32, None)
    start = str(base / "fp32" / "student.safetensors")
    row: dict[str, Any] = {"seed": seed, "fp32": {"test": fp["test_accuracy"], "val": fp["val_accuracy"]}}
    if methods == ("qat",) or methods == ("qad",):
        return _int8_rows(work, t, seed, row, start, x, y, methods)
    fp32_onnx = compiled(base / "fp32" / "student.safetensors", base / "fp32", "fp32")
    row["fp32"]["onnx_test"] = ort_accuracy(fp32_onnx, x, y)
    ptq = compiled(base / "fp32" / "student.safetensors", base / "ptq", "int8")
    row["ptq"] = {"test": ort_accuracy(ptq, x, y),
                  "kept_in_float": json.loads((base / "ptq" / "student.int8.verify.json").read_text())
                  .get("quantization", {}).get("kept_in_float", [])}
    if "qat" not in methods:
        return row
    return _int8_rows(work, t, seed, row, start, x, y, ("qat", "qad"))


def _int8_rows(work: Path, t: Path, seed: int, row: dict[str, Any], start: str, x: np.ndarray, y: np.ndarray,
               methods: tuple[str, ...]) -> dict[str, Any]:
    """QAT (labels only) and QAD (recipe loss) from the FP32 student, each compiled with its learned scales."""
    base = work / f"seed{seed}"
    for name, loss in (("qat", {"ce": 1.0}), ("qad", RECIPE_LOSS)):
        if name not in methods:
            continue
        m = distilled(t, base / name, seed, start, loss, QAT, "int8")
        onnx_model = compiled(base / name / "student.safetensors", base / name, "int8")
        row[name] = {"test": ort_accuracy(onnx_model, x, y), "fake_quant_test": m["test_accuracy"], "val": m["val_accuracy"]}
    return row


def teacher_sized(work: Path, t: Path) -> dict[str, Any]:
    """The teacher's own architecture at int8: QAD from the teacher's weights against the fp32 teacher (seed 0),
    beside the teacher at fp32 and PTQ int8; test accuracies of the compiled ONNX models."""
    sp = splits()
    x, y = sp.x["test"].numpy(), sp.y["test"].numpy()
    base = work / "teacher_int8"
    m = distilled(t, base / "qad", 0, str(t), RECIPE_LOSS, QAT, "int8")
    models = {"teacher_fp32": compiled(t, base / "fp32", "fp32"), "teacher_ptq_int8": compiled(t, base / "ptq", "int8"),
              "teacher_qad_int8": compiled(base / "qad" / "student.safetensors", base / "qad", "int8")}
    return {"models": models, "fake_quant_test": m["test_accuracy"],
            "test": {k: ort_accuracy(p, x, y) for k, p in models.items()}}


def target_choice(ckpt: Path, out: Path) -> dict[str, Any]:
    """What ``edgekd compile`` deploys for a QAD checkpoint when the precision is left to the target (``[int8,
    fp32]``): int8, or its float twin where int8 measured slower at one of the target's batch sizes."""
    import edgekd

    sp = splits()
    res = edgekd.compile(ckpt, TARGET, None, out, samples=sp.x["test"].numpy(), labels=sp.y["test"].numpy(),
                         num_verify=256, force=True)
    q = res.quantization or {}
    return {"deployed": res.precision, "kept": q.get("kept"),
            "int8_speedup": {k: v["int8_speedup"] for k, v in q.get("speed", {}).items() if k.startswith("batch_")}}


def timings(models: dict[str, Path], pairs: int = 8) -> dict[str, Any]:
    """Each int8 model against its fp32 model (the student's, or the teacher's for the teacher-sized ones) and QAD
    against PTQ, with ``edgekd.compare`` on the int8 target (2 threads) at batch 1 and 64: interleaved runs over
    ``pairs`` fresh session pairs opened in alternating order, ratio of medians with its bootstrap CI.

    Pairs, not one run of all six models: with six sessions open and run in turn, each QAD model measured 1.2x
    slower than its PTQ twin (also with the order rotated), while the two alone, interleaved, ran at the same speed."""
    from edgekd.profile.compare import compare
    from edgekd.profile.config import MeasureConfig

    cfg = MeasureConfig(warmup_runs=5, warmup_ms=50.0, min_runs=160, min_duration_s=2.0, session_pairs=pairs)
    out: dict[str, Any] = {"method": f"edgekd.compare, {pairs} fresh session pairs, 2 threads", "pairs": {}}
    for a, b in (("fp32", "ptq_int8"), ("fp32", "qad_int8"), ("ptq_int8", "qad_int8"), ("teacher_fp32", "teacher_ptq_int8"),
                 ("teacher_fp32", "teacher_qad_int8"), ("teacher_ptq_int8", "teacher_qad_int8")):
        rep = compare(models[a], models[b], TARGET, [1, 64], cfg, quiet=True)
        rows = {}
        for row in [rep, *rep["batches"]]:
            low, high = row["ci"]
            rows[f"batch_{row['batch']}"] = {"a_median_ms": row["a"]["latency_ms"]["median"],
                                             "b_median_ms": row["b"]["latency_ms"]["median"],
                                             "speedup": 1 / row["ratio_of_medians"], "ci": [1 / high, 1 / low],
                                             "runs": row["runs"], "verdict": row["verdict"]}
        out["pairs"][f"{b}_vs_{a}"] = rows
    return out


def per_op(model: Path, x: np.ndarray, runs: int = 50) -> list[dict[str, Any]]:
    """Op types after ONNX Runtime's optimizations, ms per run at batch 64, from its profiler."""
    import tempfile

    import onnxruntime as ort

    from edgekd.profile.backends.onnxruntime import parse_ort_profile
    from edgekd.profile.perop import aggregate

    feed = {"input": np.ascontiguousarray(x[np.arange(64) % len(x)])}
    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.enable_profiling, opts.profile_file_prefix = 2, True, f"{tmp}/p"
        sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        for _ in range(5 + runs):
            sess.run(None, feed)
        events = json.loads(Path(sess.end_profiling()).read_text())
    agg = aggregate(parse_ort_profile(events, skip_runs=5))
    return [{k: r[k] for k in ("op_type", "nodes", "ms_per_run", "share")} for r in agg["op_types"]]


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def stat(vals: list[float]) -> dict[str, float]:
        return {"mean": statistics.mean(vals), "std": statistics.stdev(vals) if len(vals) > 1 else 0.0}

    return {m: stat([r[m]["test"] for r in rows]) for m in ("fp32", "ptq", "qat", "qad")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default=os.environ.get("EDGEKD_BENCH", "/tmp/edgekd-qad-bench"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--methods", nargs="+", default=["fp32", "ptq", "qat", "qad"],
                    help="With --rows-only: 'fp32 ptq', 'qat' or 'qad' (run side by side after fp32).")
    ap.add_argument("--rows-only", action="store_true", help="Train and compile these seeds' runs, then stop "
                                                             "(run seeds side by side; a last run without it reports).")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)  # training; ONNX Runtime timings below use the target's 2 threads
    work = Path(args.work)
    t0 = time.perf_counter()
    t = teacher(work)
    rows = []
    for s in args.seeds:
        rows.append(seed_row(work, t, s, tuple(args.methods)))
        print(json.dumps(rows[-1]), flush=True)
    if args.rows_only:
        return
    sp = splits()
    x = sp.x["test"].numpy()
    first = work / f"seed{args.seeds[0]}"
    models = {"fp32": first / "fp32" / "student.fp32.onnx", "ptq_int8": first / "ptq" / "student.int8.onnx",
              "qad_int8": first / "qad" / "student.int8.onnx"}
    from edgekd.envinfo import fingerprint
    from edgekd.quant.qad.checkpoint import load_qad
    from edgekd.quant.qad.export import parity

    net = load_qad(first / "qad" / "student.safetensors")[0]
    par = parity(net, models["qad_int8"], x)
    big = teacher_sized(work, t)
    speed = timings({**models, **big["models"]})
    ops = {k: per_op(p, x) for k, p in {**models, **big["models"]}.items()}
    choice = {"student_qad": target_choice(first / "qad" / "student.safetensors", work / "choice" / "student"),
              "teacher_qad": target_choice(work / "teacher_int8" / "qad" / "student.safetensors", work / "choice" / "teacher")}
    result = {
        "what": "digits, recipe's 10x student: FP32 distilled vs PTQ vs QAT (no teacher) vs QAD (recipe loss); "
                "int8 = compiled ONNX run by ONNX Runtime on the test split",
        "settings": {"fp32": FP32, "qat_qad": QAT, "target": TARGET, "teacher": TEACHER, "student": STUDENT,
                     "loss": RECIPE_LOSS, "seeds": args.seeds},
        "rows": rows, "summary": summary(rows), "parity_seed0": {k: v for k, v in par.items() if k != "layers"},
        "parity_layers_seed0": par["layers"], "teacher_sized": {k: v for k, v in big.items() if k != "models"},
        "latency": speed, "per_op_batch64": ops, "deployed_by_target": choice,
        "machine": {"cpu": platform.processor() or platform.machine(), "fingerprint": fingerprint(),
                    "load_average_at_report": os.getloadavg(),
                    "note": "2-core machine; the timings ran with a helper's niced jobs at most beside them; ratios are "
                            "interleaved medians over fresh session sets"},
        "seconds": time.perf_counter() - t0,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "qad.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(json.dumps({"summary": result["summary"], "latency": speed}, indent=1))


if __name__ == "__main__":
    main()
