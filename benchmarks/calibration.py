"""int8 calibration methods on the digits teacher: accuracy, agreement with fp32, int8/fp32 latency ratio.

    python benchmarks/calibration.py --run runs/digits   # a run dir holding teacher.safetensors (trained if absent)

Compiles fp32 and int8 (minmax, entropy, percentile; 256 train samples calibrate, the validation split is where
the fallback may choose float nodes, the test split is held out for every number in the table) with
``edgekd.compile`` for the cpu-ort-int8 target (its int8 types: U8S8), records each method's activation ranges,
then times every model interleaved in one process (ONNX Runtime CPU, medians) at batch 1 and 64.
Writes benchmarks/results/calibration.json and prints a table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import edgekd
from edgekd.data import load_dataset
from edgekd.envinfo import fingerprint
from edgekd.export.runtime import run_outputs, session
from edgekd.fsutil import write_json

METHODS = ("minmax", "entropy", "percentile")
ROOT = Path(__file__).resolve().parents[1]


def latency_ms(models: dict[str, Path], x: np.ndarray, batch: int, runs: int, threads: int) -> dict[str, float]:
    """Median latency per model, ms; one run of each model per round so drift hits all alike."""
    sessions = {k: session(p, threads) for k, p in models.items()}
    feed = np.ascontiguousarray(x[:batch])
    times: dict[str, list[float]] = {k: [] for k in models}
    for s in sessions.values():
        for _ in range(10):
            s.run(None, {"input": feed})
    for _ in range(runs):
        for k, s in sessions.items():
            t = time.perf_counter()
            s.run(None, {"input": feed})
            times[k].append((time.perf_counter() - t) * 1e3)
    return {k: float(np.median(v)) for k, v in times.items()}


def _input_range(out: Path) -> list[float]:
    """[low, high] of the first activation QuantizeLinear (the model input): scale and zero point -> float range."""
    import onnx
    from onnx import numpy_helper

    model = next(out.glob("*.int8.onnx"))
    proto = onnx.load(str(model))
    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    q = next(n for n in proto.graph.node if n.op_type == "QuantizeLinear")
    scale, zp = float(inits[q.input[1]]), int(inits[q.input[2]])
    lo, hi = (0, 255) if inits[q.input[2]].dtype == np.uint8 else (-128, 127)
    return [scale * (lo - zp), scale * (hi - zp)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, default=ROOT / "runs" / "digits")
    ap.add_argument("--runs", type=int, default=300, help="Timed rounds per batch size.")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "calibration.json")
    args = ap.parse_args()
    recipe = edgekd.load_recipe(ROOT / "examples" / "digits" / "recipe.yaml")
    ckpt = args.run / "teacher.safetensors"
    if not ckpt.is_file():
        edgekd.run(recipe.model_copy(update={"stages": recipe.stages[:1]}), args.run)
    data = load_dataset(recipe.dataset)
    x, y, train = data.x["test"].numpy(), data.y["test"].numpy(), data.x["train"].numpy()
    work = args.run / "calibration"
    val_x, val_y = data.x["val"].numpy(), data.y["val"].numpy()
    models = {"fp32": edgekd.compile(ckpt, "cpu-ort-int8", "fp32", work / "fp32", samples=x, num_verify=len(x),
                                     force=True).model}
    rows: dict[str, dict] = {}
    for method in METHODS:
        t = time.perf_counter()
        res = edgekd.compile(ckpt, "cpu-ort-int8", "int8", work / method, samples=x, labels=y, num_verify=len(x),
                             calib=train, calib_samples=256, calib_method=method, validation=val_x,
                             validation_labels=val_y, force=True, measure_speed=False)
        q = res.quantization
        models[method] = res.model
        rows[method] = {"int8_accuracy": q["int8_accuracy"], "fp32_accuracy": q["fp32_accuracy"],
                        "agreement_with_fp32": q["agreement_with_fp32"], "kept_in_float": q["kept_in_float"],
                        "cosine": res.verification["cosine"], "min_sample_cosine": res.verification["min_sample_cosine"],
                        "calibration": q["calibration"], "types": q["types"], "data": res.data,
                        "input_range": _input_range(work / method),
                        "compile_s": time.perf_counter() - t}
    fp32_acc = 100.0 * float((run_outputs(models["fp32"], {"input": x})["logits"].argmax(1) == y).mean())
    for batch in (1, 64):
        lat = latency_ms(models, x, batch, args.runs, args.threads)
        for method in METHODS:
            rows[method][f"latency_ms_b{batch}"] = lat[method]
            rows[method][f"fp32_latency_ms_b{batch}"] = lat["fp32"]
            rows[method][f"int8_over_fp32_latency_b{batch}"] = lat[method] / lat["fp32"]
    result = {"model": "digits teacher (ResNet 32-64-128, 1x32x32)", "test_samples": int(len(y)), "calib_samples": 256,
              "data": "calibration: 256 train rows; fallback choice: validation split; every accuracy: test split",
              "target": "cpu-ort-int8", "fp32_accuracy": fp32_acc, "threads": args.threads, "timed_runs": args.runs,
              "methods": rows, "env": fingerprint(),
              "machine_note": "2-core shared CI machine, other work running at the same time; ratios are interleaved"}
    write_json(args.out, result)
    print(f"fp32 test accuracy {fp32_acc:.2f}% on {len(y)} samples; ORT CPU, {args.threads} threads, medians of {args.runs}")
    print(f"{'method':<11}{'int8 acc %':>11}{'agree %':>9}{'cosine':>10}{'input range':>18}{'int8/fp32 b1':>14}"
          f"{'int8/fp32 b64':>15}{'float nodes':>13}")
    for m, r in rows.items():
        rng = "[{:.2f}, {:.2f}]".format(*r["input_range"])
        print(f"{m:<11}{r['int8_accuracy']:>11.2f}{100 * r['agreement_with_fp32']:>9.2f}{r['cosine']:>10.6f}{rng:>18}"
              f"{r['int8_over_fp32_latency_b1']:>14.2f}{r['int8_over_fp32_latency_b64']:>15.2f}{len(r['kept_in_float']):>13}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
