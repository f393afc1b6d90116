"""Which proxy picks the student that distils best under a latency budget? (``python benchmarks/search_proxies.py``)

1. Trains a digits teacher (ResNet) at ``--image-size``.
2. Runs ``edgekd.search`` once per proxy over the same ``--trials`` random candidates of ``--space`` (random sampler,
   same seed, so every proxy sees the same candidates; latency is measured once per graph and then cached).
3. For each of three budgets (the 25th/50th/75th percentiles of the candidates' measured latency), each proxy's
   pick is its best-scoring candidate within the budget: what ``edgekd search --sampler random`` returns.
4. Every distinct pick is distilled with the same recipe (CE + DIST, ``--epochs`` epochs, ``--shift-pixels`` as
   the digits search recipe), one run per seed; the checkpoint is chosen on validation accuracy and its test
   accuracy reported.
Writes ``benchmarks/results/search_proxies.json`` with the options run, the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-size", type=int, default=16)
    ap.add_argument("--space", default="mobile")
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--proxies", nargs="+", default=["diswot", "naswot", "params", "random"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--teacher-epochs", type=int, default=15)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--shift-pixels", type=int, default=0, help="Augmentation while distilling (the recipe: 0).")
    ap.add_argument("--workers", type=int, default=2, help="Distillations side by side (one thread each).")
    ap.add_argument("--work", type=Path, default=Path("/tmp/edgekd-search-bench"))
    ap.add_argument("--out", type=Path, default=RESULTS / "search_proxies.json")
    args = ap.parse_args()
    t_start, load_start = time.time(), os.getloadavg()
    os.environ.setdefault("EDGEKD_CACHE", str(args.work / "cache"))
    import torch

    torch.set_num_threads(1)
    from digits_teacher import digits_teacher

    from edgekd.search.api import search

    splits, teacher, t_metrics = digits_teacher(args.work, args.image_size, args.teacher_epochs)
    pools: dict[str, list[dict[str, Any]]] = {}
    search_s: dict[str, float] = {}
    for proxy in args.proxies:
        t0 = time.time()
        sdir = args.work / f"search-{proxy}"
        search(teacher, splits, "cpu-ort-fp32", sdir, space=args.space, proxy=proxy, sampler="random", trials=args.trials,
               budget_ms=1e6, seed=0, batch_size=64, top_k=1)
        search_s[proxy] = time.time() - t0
        pools[proxy] = json.loads((sdir / "pareto.json").read_text())["candidates"]
    lat = {r["key"]: r["latency_ms"] for r in pools[args.proxies[0]]}
    ordered = sorted(lat.values())
    budgets = [ordered[int(q * (len(ordered) - 1))] for q in (0.25, 0.5, 0.75)]
    picks: dict[str, dict[str, Any]] = {}
    table = []
    for budget in budgets:
        row: dict[str, Any] = {"budget_ms": budget, "picks": {}}
        for proxy in args.proxies:
            ok = [r for r in pools[proxy] if lat[r["key"]] <= budget]
            best = max(ok, key=lambda r: (r["proxy"], -lat[r["key"]]))
            picks[best["key"]] = best["arch"]
            row["picks"][proxy] = {"key": best["key"], "params": best["params"], "latency_ms": lat[best["key"]]}
        table.append(row)
    jobs = [(str(teacher), arch, key, seed, args.epochs, str(args.work), args.image_size, args.shift_pixels)
            for key, arch in picks.items() for seed in args.seeds]
    with mp.get_context("spawn").Pool(args.workers) as pool:
        done = pool.map(_distill_one, jobs)
    runs: dict[str, list[dict[str, float]]] = {key: [] for key in picks}
    for (_, _, key, *_), res in zip(jobs, done):
        runs[key].append(res)
    summary: dict[str, list[float]] = {p: [] for p in args.proxies}
    for row in table:
        for proxy, pick in row["picks"].items():
            tests = [r["test_accuracy"] for r in runs[pick["key"]]]
            pick.update(val_mean=statistics.mean(r["val_accuracy"] for r in runs[pick["key"]]),
                        test_mean=statistics.mean(tests), test_std=statistics.stdev(tests) if len(tests) > 1 else 0.0)
            summary[proxy].append(pick["test_mean"])
    mean_test = {p: statistics.mean(v) for p, v in summary.items()}
    result = {
        "benchmark": "search_proxies", "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "recipe": {"loss": "ce 1.0 + dist (beta 2, gamma 2, T 4)", "epochs": args.epochs, "lr": 3e-3,
                   "shift_pixels": args.shift_pixels, "init_from_teacher": True, "checkpoint": "best validation accuracy"},
        "teacher": {"test_accuracy": t_metrics["test_accuracy"], "params": t_metrics["params"]},
        "budgets": table, "runs": runs, "mean_test_accuracy_over_budgets": mean_test,
        "best_proxy": max(mean_test, key=mean_test.get), "search_seconds": search_s,
        "proxy_seconds_per_candidate": {p: statistics.mean(r.get("proxy_seconds", 0.0) for r in _records(args.work, p))
                                        for p in args.proxies},
        "wall_s": time.time() - t_start,
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "load_average_start": load_start,
                    "load_average_end": os.getloadavg(), "shared": "shared with other helpers' tests and benchmarks"},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"teacher {t_metrics['test_accuracy']:.2f}% test")
    for row in table:
        print(f"budget {row['budget_ms']:.4f} ms: " + "; ".join(
            f"{p} {v['test_mean']:.2f}±{v['test_std']:.2f} ({v['params']} params)" for p, v in row["picks"].items()))
    print("mean over budgets:", {p: round(v, 2) for p, v in mean_test.items()}, "->", result["best_proxy"])


def _distill_one(job: tuple[str, dict[str, Any], str, int, int, str, int, int]) -> dict[str, float]:
    """Distil one pick with one seed (one thread); a finished run in the work directory is reused."""
    teacher, arch, key, seed, epochs, work, image_size, shift = job
    import torch

    torch.set_num_threads(1)
    from edgekd.data import resolve_data
    from edgekd.distill.api import DistillConfig, distill

    out = Path(work) / "distill" / f"{key}-s{seed}"
    done = out / "student.metrics.json"
    if not done.is_file():
        splits = resolve_data("digits", image_size=image_size)
        cfg = DistillConfig(student=arch, epochs=epochs, lr=3e-3, seed=seed, name="student", shift_pixels=shift,
                            cache_dir=str(Path(work) / f"teacher-cache-{os.getpid()}"))
        distill(teacher, data=splits, out=out, config=cfg, force=True)
    m = json.loads(done.read_text())
    return {"seed": seed, "val_accuracy": m["val_accuracy"], "test_accuracy": m["test_accuracy"], "seconds": m["seconds"]}


def _records(work: Path, proxy: str) -> list[dict[str, Any]]:
    return [json.loads(f.read_text()) for f in (work / f"search-{proxy}" / "candidates").glob("*.json")]


if __name__ == "__main__":
    main()
