"""int8 against fp32 speed and accuracy on this CPU for each int8 type choice, digits teacher and student.

    python benchmarks/int8_speed.py --run runs/digits   # a digits run holding teacher.safetensors and student.safetensors

Compiles each network to fp32 and to int8 QDQ with every type choice a target can make (S8S8 asymmetric: edgekd's
old default; S8S8 symmetric: the TensorRT targets'; U8S8: the x86 ORT targets' default; U8S8 with reduce_range),
calibrated on 256 train rows, fallback choices on the validation split, accuracy on the test split. Then times
all models of a network interleaved in one process (ONNX Runtime CPU, 2 threads, one run of each per round,
medians) at batch 1 and 64. Writes benchmarks/results/int8_speed.json and prints a table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import edgekd
from edgekd.data import load_dataset
from edgekd.envinfo import fingerprint
from edgekd.export.runtime import ort_run, session
from edgekd.fsutil import write_json

ROOT = Path(__file__).resolve().parents[1]
CHOICES = {
    "s8s8_asym": "{activation_type: int8, symmetric_activations: false}",
    "s8s8_sym": "{activation_type: int8, symmetric_activations: true}",
    "u8s8": "{activation_type: uint8, symmetric_activations: false}",
    "u8s8_reduce_range": "{activation_type: uint8, symmetric_activations: false, reduce_range: true}",
}


def interleaved(models: dict[str, Path], x: np.ndarray, batch: int, runs: int, threads: int) -> dict[str, float]:
    """Median latency per model, ms; one run of each model per round so drift hits all alike."""
    sessions = {k: session(p, threads) for k, p in models.items()}
    feed = {"input": np.ascontiguousarray(x[np.arange(batch) % len(x)])}
    for s in sessions.values():
        for _ in range(10):
            s.run(None, feed)
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(runs):
        for k, s in sessions.items():
            t = time.perf_counter()
            s.run(None, feed)
            times[k].append((time.perf_counter() - t) * 1e3)
    return {k: float(np.median(v)) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, default=ROOT / "runs" / "digits")
    ap.add_argument("--runs", type=int, default=300, help="Timed rounds at batch 1 (a third of them at batch 64).")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--student-epochs", type=int, default=None, help="Distil the student this many epochs when the "
                    "run has none (default: the recipe's); speed does not depend on it, accuracy does.")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "int8_speed.json")
    args = ap.parse_args()
    recipe = edgekd.load_recipe(ROOT / "examples" / "digits" / "recipe.yaml")
    stages = recipe.stages[:2]
    if args.student_epochs:
        stages = [stages[0], stages[1].model_copy(update={"options": {**stages[1].options, "epochs": args.student_epochs}})]
    if not (args.run / "student.safetensors").is_file():
        edgekd.run(recipe.model_copy(update={"stages": stages}), args.run)
    data = load_dataset(recipe.dataset)
    x, y = data.x["test"].numpy(), data.y["test"].numpy()
    result: dict = {"data": "calibration: 256 train rows; fallback choice: validation split; accuracy: test split",
                    "student_epochs": stages[1].options.get("epochs"),
                    "threads": args.threads, "timed_runs": {"batch_1": args.runs, "batch_64": max(30, args.runs // 3)},
                    "machine_note": "2-core shared CI machine, other work running at the same time; ratios are interleaved",
                    "networks": {}, "env": fingerprint()}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for net in ("teacher", "student"):
            ckpt = args.run / f"{net}.safetensors"
            models = {"fp32": edgekd.compile(ckpt, "cpu-ort-fp32", "fp32", work / net / "fp32", samples=x).model}
            rows: dict[str, dict] = {"fp32": {"accuracy": 100.0 * float((ort_run(models["fp32"], x).argmax(1) == y).mean())}}
            for name, block in CHOICES.items():
                tgt = work / f"{name}.yaml"
                tgt.write_text(f"name: {name}\nprecisions: [int8, fp32]\nthreads: {args.threads}\nbatch_sizes: [1, 64]\n"
                               f"budgets: {{accuracy_drop_pts: 1.0}}\nquantization: {block}\n")
                res = edgekd.compile(ckpt, tgt, "int8", work / net / name, samples=x, labels=y, num_verify=len(x),
                                     calib=data.x["train"].numpy(), validation=data.x["val"].numpy(),
                                     validation_labels=data.y["val"].numpy(), measure_speed=False)
                models[name] = res.model
                q = res.quantization
                rows[name] = {"accuracy": q["int8_accuracy"], "agreement_with_fp32": q["agreement_with_fp32"],
                              "kept_in_float": len(q["kept_in_float"]), "types": q["types"]}
            for batch, runs in ((1, args.runs), (64, max(30, args.runs // 3))):
                lat = interleaved(models, x, batch, runs, args.threads)
                for name in models:
                    rows[name][f"ms_b{batch}"] = lat[name]
                    rows[name][f"speedup_vs_fp32_b{batch}"] = lat["fp32"] / lat[name]
            result["networks"][net] = rows
    write_json(args.out, result)
    print(f"ONNX Runtime CPU, {args.threads} threads, interleaved medians; speed-up = fp32 median / int8 median")
    print(f"{'network':<9}{'types':<19}{'test acc %':>11}{'agree %':>9}{'x fp32 b1':>11}{'x fp32 b64':>12}")
    for net, rows in result["networks"].items():
        for name, r in rows.items():
            agree = f"{100 * r['agreement_with_fp32']:.2f}" if "agreement_with_fp32" in r else "-"
            print(f"{net:<9}{name:<19}{r['accuracy']:>11.2f}{agree:>9}{r['speedup_vs_fp32_b1']:>11.2f}"
                  f"{r['speedup_vs_fp32_b64']:>12.2f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
