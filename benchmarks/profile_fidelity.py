"""Profiler fidelity: edgekd's median latency against a minimal independent timing loop over the same ORT session.

    python benchmarks/profile_fidelity.py [--model M.onnx] [--repeats 5] [--runs 300] [--force]

Both loops time the same ``onnxruntime.InferenceSession`` on the same inputs, in one process, interleaved
(profiler first on even repeats, the plain loop first on odd ones) so machine noise hits both alike.
Pass: the pooled profiler median is within 5% of the plain loop's. Also reports the CV of the median over the
repeats. Writes benchmarks/results/profile_fidelity.json and prints a table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgekd.envinfo import fingerprint
from edgekd.errors import EdgekdError
from edgekd.fsutil import write_json
from edgekd.manifest_io import guard_outputs
from edgekd.profile.api import bar, measure_batch
from edgekd.profile.backends import RuntimeOptions
from edgekd.profile.backends.onnxruntime import OrtSession
from edgekd.profile.inputs import feeds_for
from edgekd.profile.measure import MeasureConfig, timer_resolution_ms
from edgekd.targets import get_target

TOLERANCE = 0.05
RESULTS = Path(__file__).parent / "results" / "profile_fidelity.json"


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


def plain_loop(sess: object, feeds: dict, warmup: int, runs: int) -> list[float]:
    """The minimal independent loop: a few warm-up calls, then ``runs`` calls each timed with perf_counter, ms."""
    for _ in range(warmup):
        sess.run(None, feeds)
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, help="ONNX model (default: a generated small CNN).")
    p.add_argument("--target", default="cpu-ort-fp32")
    p.add_argument("--threads", type=int, default=1, help="Intra-op threads (1 keeps a shared CI machine quieter).")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--runs", type=int, default=300, help="Timed runs per loop per repeat.")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--force", action="store_true", help="Overwrite --out.")
    args = p.parse_args(argv)
    guard_outputs([args.out], args.force)
    target = get_target(args.target)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or build_cnn(Path(tmp) / "cnn.onnx")
        session = OrtSession(model, target, RuntimeOptions(threads=args.threads))
    feeds = feeds_for(session.inputs, 1)
    cfg = MeasureConfig(min_runs=args.runs, min_duration_s=0.0, max_runs=args.runs, warmup_runs=10, warmup_ms=200)
    resolution = timer_resolution_ms()
    rows, prof_all, plain_all = [], [], []
    for r in range(args.repeats):
        for which in (("profiler", "plain") if r % 2 == 0 else ("plain", "profiler")):
            if which == "profiler":
                with bar(True) as b:
                    prof = measure_batch(session, feeds, 1, cfg, b, resolution)["samples_ms"]
            else:
                plain = plain_loop(session.sess, feeds, cfg.warmup_runs, args.runs)
        prof_all += prof
        plain_all += plain
        rows.append({"repeat": r, "profiler_median_ms": float(np.median(prof)), "plain_median_ms": float(np.median(plain)),
                     "ratio": float(np.median(prof) / np.median(plain))})
    pm, lm = np.array([x["profiler_median_ms"] for x in rows]), np.array([x["plain_median_ms"] for x in rows])
    pooled = float(np.median(prof_all) / np.median(plain_all))
    result = {
        "model": str(args.model or "generated 3-conv CNN, 3x32x32"), "target": target.name, "threads": args.threads,
        "batch": 1, "runs_per_loop": args.runs, "repeats": rows, "pooled_ratio": pooled,
        "within_tolerance": abs(pooled - 1) <= TOLERANCE, "tolerance": TOLERANCE,
        "profiler_median_cv": float(pm.std(ddof=1) / pm.mean()), "plain_median_cv": float(lm.std(ddof=1) / lm.mean()),
        "timer_resolution_ms": resolution, "env": fingerprint(),
    }
    write_json(args.out, result)
    print(f"{'repeat':>6} {'profiler ms':>12} {'plain ms':>10} {'ratio':>7}")
    for x in rows:
        print(f"{x['repeat']:>6} {x['profiler_median_ms']:>12.4f} {x['plain_median_ms']:>10.4f} {x['ratio']:>7.3f}")
    print(f"pooled ratio {pooled:.4f} ({'within' if result['within_tolerance'] else 'OUTSIDE'} {TOLERANCE:.0%}); "
          f"CV of the median over {args.repeats} repeats: profiler {result['profiler_median_cv']:.2%}, "
          f"plain {result['plain_median_cv']:.2%}; wrote {args.out}")
    return 0 if result["within_tolerance"] else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except EdgekdError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
