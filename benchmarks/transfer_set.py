"""Transfer set: labels for only 10% of the training images, the teacher's outputs on all of them.

Labels-only training on the labelled 10% (same epochs, and same number of steps) against distillation on all images
with the same student (~10x smaller than the teacher), 3 seeds each. Writes ``benchmarks/results/kd_transfer_set.json``.
Run ``python benchmarks/transfer_set.py`` (reuses the teacher and runs of ``kd_losses.py``'s work directory).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from kd_losses import BASE, METHODS, RESULTS, SIZES, ensure_teacher, run_all, summarise  # noqa: E402

FRACTION = 0.1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/edgekd-bench")
    ap.add_argument("--teacher", default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    work = Path(args.work)
    os.environ.setdefault("EDGEKD_CACHE", str(work / "cache"))
    t0 = time.perf_counter()
    teacher = ensure_teacher(work, args.teacher)
    same_steps = round(BASE["epochs"] / FRACTION)
    settings = {
        "labels only (10% labelled), same epochs": (METHODS["labels only"], {}),
        f"labels only (10% labelled), same steps ({same_steps} epochs)": (METHODS["labels only"], {"epochs": same_steps}),
        "KD on all images (CE on the 10%)": (METHODS["KD"], {}),
        "DIST on all images (CE on the 10%)": (METHODS["DIST"], {}),
    }
    jobs = {name: [{"work": str(work), "teacher": str(teacher), "student": SIZES["10x"], "loss": loss, "seed": s,
                    "overrides": {**o, "label_fraction": FRACTION}} for s in args.seeds]
            for name, (loss, o) in settings.items()}
    flat = [j for js in jobs.values() for j in js]
    done = dict(zip(map(json.dumps, flat), run_all(flat, args.workers)))
    table = {name: summarise([done[json.dumps(j)] for j in js]) for name, js in jobs.items()}
    base = table["labels only (10% labelled), same epochs"]["mean"]
    best_labels = max(v["mean"] for k, v in table.items() if k.startswith("labels only"))
    kd = table["KD on all images (CE on the 10%)"]["mean"]
    result = {"teacher": str(teacher), "student": SIZES["10x"], "label_fraction": FRACTION, "schedule": BASE,
              "seeds": args.seeds, "table": table, "kd_gain_pts_vs_same_epochs": kd - base,
              "kd_gain_pts_vs_best_labels_only": kd - best_labels, "goal_pts": 3.0,
              "goal_met": kd - best_labels > 3.0, "wall_seconds": time.perf_counter() - t0}
    from edgekd.fsutil import write_json

    write_json(RESULTS / "kd_transfer_set.json", result)
    print("| setting | test acc % (mean ± std, 3 seeds) |\n|---|---|")
    for k, v in table.items():
        print(f"| {k} | {v['mean']:.2f} ± {v['std']:.2f} |")
    print(f"\nKD - best labels-only: {kd - best_labels:+.2f} pt (goal > 3 pt: {'met' if result['goal_met'] else 'NOT met'})")


if __name__ == "__main__":
    main()
