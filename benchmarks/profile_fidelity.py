"""Profiler fidelity: edgekd's median latency against an independent process that times its own ORT session.

    python benchmarks/profile_fidelity.py [--model M.onnx] [--repeats 20] [--runs 200] [--force]

The reference is a separate plain Python process (onnxruntime and numpy only, no edgekd code) that opens its own
``InferenceSession`` with the same threads and graph optimisation, warms up and times ``runs`` calls with
``perf_counter`` on the same inputs (ONNX Runtime's ``onnxruntime_perf_test`` is not in the pip wheel; the result
records whether it was installed). Each repeat runs ``edgekd.profile`` (a fresh
session in this process) and the reference process in turn, alternating which goes first, so machine noise hits
both alike. Pass: the pooled profiler median is within 5% of the reference's. Also reports the CV of the median
over the repeats. Writes benchmarks/results/profile_fidelity.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import edgekd
from edgekd.envinfo import fingerprint
from edgekd.errors import EdgekdError
from edgekd.fsutil import write_json
from edgekd.manifest_io import guard_outputs
from edgekd.profile import MeasureConfig, RuntimeOptions

TOLERANCE = 0.05
RESULTS = Path(__file__).parent / "results" / "profile_fidelity.json"

# The reference process: reads "RUNS\n" on stdin, answers one JSON line of RUNS timings (ms); no edgekd imports.
REFERENCE = """
import json, sys, time
import numpy as np, onnxruntime as ort
model, npz, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
opts = ort.SessionOptions()
opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
feeds = dict(np.load(npz))
print("ready", flush=True)
for line in sys.stdin:
    runs = int(line)
    t_end = time.perf_counter() + 0.2
    for i in range(10):
        sess.run(None, feeds)
    while time.perf_counter() < t_end:
        sess.run(None, feeds)
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        out.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps(out), flush=True)
"""


def build_cnn(path: Path) -> Path:
    """A small CNN (3x32x32 -> 3 conv+relu -> global pool -> 10 logits), about 30 M multiply-adds per image."""
    rng = np.random.default_rng(0)
    inits, nodes, prev, cin = [], [], "x", 3
    for i, cout in enumerate((32, 64, 64)):
        inits.append(numpy_helper.from_array((rng.standard_normal((cout, cin, 3, 3)) * 0.1).astype(np.float32), f"w{i}"))
        nodes += [helper.make_node("Conv", [prev, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1], strides=[1 + (i == 2)] * 2),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        prev, cin = f"r{i}", cout
    inits.append(numpy_helper.from_array((rng.standard_normal((cin, 10)) * 0.1).astype(np.float32), "fc"))
    nodes += [helper.make_node("GlobalAveragePool", [prev], ["g"]), helper.make_node("Flatten", ["g"], ["f"]),
              helper.make_node("MatMul", ["f", "fc"], ["y"])]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


class Reference:
    """The independent process; ``time(runs)`` asks it for ``runs`` timings, ms."""

    def __init__(self, model: Path, npz: Path, threads: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", REFERENCE, str(model), str(npz), str(threads)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise EdgekdError("the reference process did not start; run it by hand to see why")

    def time(self, runs: int) -> list[float]:
        self.proc.stdin.write(f"{runs}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, help="ONNX model with one float input (default: a generated small CNN).")
    p.add_argument("--threads", type=int, default=1, help="Intra-op threads (1 keeps a shared CI machine quieter).")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--runs", type=int, default=200, help="Timed runs per side per repeat.")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--force", action="store_true", help="Overwrite --out.")
    args = p.parse_args(argv)
    guard_outputs([args.out], args.force)
    cfg = MeasureConfig(min_runs=args.runs, min_duration_s=0.0, max_runs=args.runs, warmup_runs=10, warmup_ms=200)
    options = RuntimeOptions(threads=args.threads, graph_optimization="all")
    rows, prof_all, ref_all = [], [], []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or build_cnn(Path(tmp) / "cnn.onnx")
        npz = Path(tmp) / "inputs.npz"
        np.savez(npz, x=np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32))
        reference = Reference(model, npz, args.threads)
        try:
            for r in range(args.repeats):
                for which in (("profiler", "reference") if r % 2 == 0 else ("reference", "profiler")):
                    if which == "profiler":
                        prof = edgekd.profile(model, "cpu-ort-fp32", [1], cfg, inputs=npz, options=options, quiet=True)["samples_ms"]
                    else:
                        ref = reference.time(args.runs)
                prof_all += prof
                ref_all += ref
                rows.append({"repeat": r, "profiler_median_ms": float(np.median(prof)),
                             "reference_median_ms": float(np.median(ref)), "ratio": float(np.median(prof) / np.median(ref))})
        finally:
            reference.close()
    pm, rm = np.array([x["profiler_median_ms"] for x in rows]), np.array([x["reference_median_ms"] for x in rows])
    pooled = float(np.median(prof_all) / np.median(ref_all))
    result = {
        "model": str(args.model or "generated 3-conv CNN, 3x32x32"), "target": "cpu-ort-fp32", "threads": args.threads,
        "batch": 1, "runs_per_side": args.runs,
        "reference": "separate Python process with its own onnxruntime InferenceSession and perf_counter loop",
        "onnxruntime_perf_test_installed": shutil.which("onnxruntime_perf_test") is not None,
        "profiler": "edgekd.profile (public API, fresh session per repeat)",
        "order": "alternating per repeat (profiler first on even repeats)",
        "repeats": rows, "pooled_ratio": pooled, "median_repeat_ratio": float(np.median([x["ratio"] for x in rows])),
        "within_tolerance": abs(pooled - 1) <= TOLERANCE, "tolerance": TOLERANCE,
        "profiler_median_cv": float(pm.std(ddof=1) / pm.mean()) if len(rows) > 1 else 0.0,
        "reference_median_cv": float(rm.std(ddof=1) / rm.mean()) if len(rows) > 1 else 0.0,
        "machine_note": "shared machine: other work ran on it at the same time",
        "load_average_1m": {"before": load_before[0], "after": os.getloadavg()[0]}, "env": fingerprint(),
    }
    write_json(args.out, result)
    print(f"{'repeat':>6} {'profiler ms':>12} {'reference ms':>13} {'ratio':>7}")
    for x in rows:
        print(f"{x['repeat']:>6} {x['profiler_median_ms']:>12.4f} {x['reference_median_ms']:>13.4f} {x['ratio']:>7.3f}")
    print(f"pooled ratio {pooled:.4f} ({'within' if result['within_tolerance'] else 'OUTSIDE'} {TOLERANCE:.0%}), "
          f"median of the repeats' ratios {result['median_repeat_ratio']:.4f}; "
          f"CV of the median over {args.repeats} repeats: profiler {result['profiler_median_cv']:.2%}, "
          f"reference {result['reference_median_cv']:.2%}; wrote {args.out}")
    return 0 if result["within_tolerance"] else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except EdgekdError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
