"""Do training-free proxies rank students like distillation does, over all sizes and within latency bands?
(``python benchmarks/proxy_ranking.py``)

1. Trains a digits teacher (ResNet) at ``--image-size``.
2. Samples ``--pool`` random candidates from each of the cnn and mobile spaces and measures each one's latency on
   ``cpu-ort-fp32`` (median, batch 1; cached by ONNX graph hash, as the search does).
3. Picks ``--bands`` latency budgets, ``--band-factor`` apart around the pool's median, and for each budget up to
   ``--per-band`` candidates of each space whose latency lies within +-``--tolerance`` of it.
4. In ``--workers`` processes (one thread each), every chosen candidate is scored by every proxy (timed; the
   student initialised with the same seed for each) and then distilled from the same teacher with one fixed
   recipe (CE + DIST, ``--epochs`` epochs, no augmentation, not initialised from the teacher), once per seed;
   the checkpoint is chosen on validation accuracy.
5. Kendall tau and Spearman rho (scipy.stats) between each proxy and the students' validation accuracy (mean over
   seeds): over the whole set, within each band (averaged over bands), and within each band and space (averaged
   over those groups). The agreement between two seeds' accuracies is reported as the noise ceiling.
``--reanalyse`` recomputes the statistics and the plot from an existing ``--out`` JSON without running anything.
Writes ``benchmarks/results/proxy_ranking.json`` and ``proxy_ranking.png`` with the options, machine and load.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import statistics
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
SPACES = ("cnn", "mobile")
PROXIES = ("diswot", "naswot", "synflow", "grad_norm", "params", "flops", "random")
EXTRA = ("diswot_semantic", "diswot_relation")  # DisWOT's two terms alone (negated distances)
TARGET = "cpu-ort-fp32"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-size", type=int, default=16)
    ap.add_argument("--pool", type=int, default=60, help="Random candidates measured per space.")
    ap.add_argument("--bands", type=int, default=3)
    ap.add_argument("--band-factor", type=float, default=1.7, help="Ratio between neighbouring budgets.")
    ap.add_argument("--tolerance", type=float, default=0.25, help="Band: latency within +-this share of its budget.")
    ap.add_argument("--per-band", type=int, default=6, help="Candidates per space per band.")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--teacher-epochs", type=int, default=15)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--proxy-batch", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2, help="Processes side by side (one thread each).")
    ap.add_argument("--work", type=Path, default=Path("/tmp/edgekd-proxy-ranking"))
    ap.add_argument("--out", type=Path, default=RESULTS / "proxy_ranking.json")
    ap.add_argument("--reanalyse", action="store_true", help="Only recompute statistics and plot from --out.")
    args = ap.parse_args()
    if args.reanalyse:
        result = json.loads(args.out.read_text())
        opts = result["options"]
        result["correlation"] = _correlations(result["candidates"], result["budgets_ms"], opts["tolerance"], opts["seeds"])
        result["cost"] = _costs(result["candidates"], opts["seeds"])
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        _plot(result["candidates"], result["budgets_ms"], opts["tolerance"], args.out.with_suffix(".png"))
        _print(result)
        return
    t_start, load_start = time.time(), os.getloadavg()
    os.environ.setdefault("EDGEKD_CACHE", str(args.work / "cache"))
    import torch

    torch.set_num_threads(1)
    from digits_teacher import digits_teacher

    splits, teacher, t_metrics = digits_teacher(args.work, args.image_size, args.teacher_epochs)
    t0 = time.time()
    pool = _pool(args, splits)
    pool_s = time.time() - t0
    budgets, chosen = _bands(args, pool)
    jobs = [(str(teacher), c, args.seeds, args.epochs, args.image_size, args.proxy_batch, str(args.work)) for c in chosen]
    done: list[dict[str, Any]] = []
    with mp.get_context("spawn").Pool(args.workers) as workers:
        for i, res in enumerate(workers.imap_unordered(_score_and_distill, jobs), 1):
            done.append(res)
            print(f"[{i}/{len(jobs)}] {res['space']} {res['key']} {res['latency_ms']:.4f} ms val {res['val_mean']:.2f}% "
                  f"({time.time() - t_start:.0f} s)", flush=True)
    done.sort(key=lambda r: r["latency_ms"])
    result = {
        "benchmark": "proxy_ranking",
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "recipe": {"loss": "ce 1.0 + dist (beta 2, gamma 2, T 4)", "epochs": args.epochs, "lr": 3e-3, "shift_pixels": 0,
                   "init_from_teacher": False, "checkpoint": "best validation accuracy",
                   "ranking_target": "validation accuracy, mean over seeds (test accuracy reported alongside)"},
        "teacher": {"test_accuracy": t_metrics["test_accuracy"], "params": t_metrics["params"]},
        "target": TARGET, "pool_size": len(pool), "pool_measure_seconds": pool_s,
        "budgets_ms": budgets, "band_rule": f"latency within +-{args.tolerance:.0%} of the budget",
        "candidates": done,
        "correlation": _correlations(done, budgets, args.tolerance, args.seeds),
        "cost": _costs(done, args.seeds),
        "wall_s": time.time() - t_start,
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "load_average_start": load_start, "load_average_end": os.getloadavg(),
                    "shared": "shared with other helpers' tests and benchmarks; proxy and distillation times measured "
                              "in the same worker processes, interleaved candidate by candidate"},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    _plot(done, budgets, args.tolerance, args.out.with_suffix(".png"))
    _print(result)


def _pool(args: argparse.Namespace, splits: Any) -> list[dict[str, Any]]:
    """``--pool`` distinct random candidates per space with their measured latency (ms), params."""
    import torch

    from edgekd.distill.teacher import complete_arch
    from edgekd.models import build_model, count_params
    from edgekd.search.latency import LatencyCache, default_cache_dir, example_inputs, measure_model
    from edgekd.search.spaces import SPACES as REGISTRY
    from edgekd.search.spaces import arch_key
    from edgekd.targets import get_target

    target = get_target(TARGET)
    cache = LatencyCache(default_cache_dir(), target)
    x = example_inputs(splits.input_shape, target.batch_sizes[0], False)
    rng = random.Random(0)
    out: list[dict[str, Any]] = []
    for name in SPACES:
        space = REGISTRY.get(name)
        extra = {k: v for k, v in complete_arch({"name": space.family}, splits).items() if k != "name"}
        seen: set[str] = set()
        while len(seen) < args.pool:
            arch = {**extra, **space.arch(space.sample(rng))}
            key = arch_key(arch)
            if key in seen:
                continue
            seen.add(key)
            torch.manual_seed(0)
            model = build_model(arch).eval()
            lat = measure_model(model, x, cache, args.work / "export")
            out.append({"key": key, "space": name, "arch": arch, "params": count_params(model),
                        "latency_ms": lat["median_ms"], "latency_p90_ms": lat["p90_ms"]})
    return out


def _in_band(lat: float, budget: float, tol: float) -> bool:
    return (1 - tol) * budget <= lat <= (1 + tol) * budget


def _bands(args: argparse.Namespace, pool: list[dict[str, Any]]) -> tuple[list[float], list[dict[str, Any]]]:
    """Budgets (ms) ``--band-factor`` apart centred on the pool's median latency, and the candidates chosen in them."""
    mid = statistics.median(c["latency_ms"] for c in pool)
    budgets = [mid * args.band_factor ** (i - (args.bands - 1) / 2) for i in range(args.bands)]
    rng = random.Random(1)
    chosen: dict[str, dict[str, Any]] = {}
    for b in budgets:
        for name in SPACES:
            near = [c for c in pool if c["space"] == name and _in_band(c["latency_ms"], b, args.tolerance)]
            for c in rng.sample(near, min(args.per_band, len(near))):
                chosen[c["key"]] = c
    return budgets, list(chosen.values())


def _score_and_distill(job: tuple[Any, ...]) -> dict[str, Any]:
    """Every proxy's score (and its seconds) for one candidate, then its distillation per seed; reused when done."""
    teacher, cand, seeds, epochs, image_size, proxy_batch, work = job
    done = Path(work) / "results" / f"{cand['key']}.json"
    if done.is_file():
        return json.loads(done.read_text())
    import torch

    torch.set_num_threads(1)
    from edgekd.data import resolve_data
    from edgekd.distill.api import DistillConfig, distill
    from edgekd.models import build_model, load_checkpoint
    from edgekd.search.proxies import PROXIES as REGISTRY
    from edgekd.search.proxies import ProxyBatch
    from edgekd.search.proxies.diswot import diswot_terms

    splits = resolve_data("digits", image_size=image_size)
    t_model, _ = load_checkpoint(teacher)
    idx = torch.randperm(len(splits.y["train"]), generator=torch.Generator().manual_seed(0))[:proxy_batch]
    batch = ProxyBatch(splits.x["train"][idx], splits.y["train"][idx], splits.num_classes, t_model.eval())
    for name in PROXIES:  # one-off costs (the teacher's side of DisWOT, the FLOP counter's set-up) stay out of the timings
        REGISTRY.get(name)(build_model(cand["arch"]), batch)
    scores: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for name in PROXIES:
        torch.manual_seed(0)
        model = build_model(cand["arch"])
        t0 = time.perf_counter()
        scores[name] = float(REGISTRY.get(name)(model, batch))
        seconds[name] = time.perf_counter() - t0
    torch.manual_seed(0)
    semantic, relation = diswot_terms(build_model(cand["arch"]), batch)
    scores.update(diswot_semantic=-semantic, diswot_relation=-relation)
    runs = []
    for seed in seeds:
        cfg = DistillConfig(student=cand["arch"], epochs=epochs, lr=3e-3, seed=seed, shift_pixels=0,
                            init_from_teacher=False, cache_dir=str(Path(work) / f"teacher-cache-{os.getpid()}"))
        t0 = time.perf_counter()
        res = distill(teacher, data=splits, out=Path(work) / "distill" / f"{cand['key']}-s{seed}", config=cfg, force=True)
        runs.append({"seed": seed, "val_accuracy": res.val_accuracy, "test_accuracy": res.test_accuracy,
                     "best_epoch": res.best_epoch, "seconds": time.perf_counter() - t0})
    rec = {**cand, "scores": scores, "proxy_seconds": seconds, "runs": runs,
           "val_mean": statistics.mean(r["val_accuracy"] for r in runs),
           "test_mean": statistics.mean(r["test_accuracy"] for r in runs)}
    done.parent.mkdir(parents=True, exist_ok=True)
    done.write_text(json.dumps(rec, indent=2))
    return rec


def _tau_rho(xs: list[float], ys: list[float]) -> dict[str, float | int | None]:
    from scipy.stats import kendalltau, spearmanr

    if len(xs) < 3:
        return {"n": len(xs), "kendall_tau": None, "spearman_rho": None}
    tau, rho = kendalltau(xs, ys).statistic, spearmanr(xs, ys).statistic
    return {"n": len(xs), "kendall_tau": None if tau != tau else float(tau), "spearman_rho": None if rho != rho else float(rho)}


def _correlations(done: list[dict[str, Any]], budgets: list[float], tol: float, seeds: list[int]) -> dict[str, Any]:
    """Per proxy: tau/rho with mean validation accuracy over the whole set, per band and averaged over bands; also
    with test accuracy (whole set), and the seed-to-seed agreement (noise ceiling)."""
    bands = [[c for c in done if _in_band(c["latency_ms"], b, tol)] for b in budgets]
    groups = [[c for c in band if c["space"] == name] for band in bands for name in SPACES]
    out: dict[str, Any] = {}
    for name in (*PROXIES, *EXTRA):
        row: dict[str, Any] = {
            "whole_set": _tau_rho([c["scores"][name] for c in done], [c["val_mean"] for c in done]),
            "whole_set_vs_test": _tau_rho([c["scores"][name] for c in done], [c["test_mean"] for c in done]),
            "bands": [_tau_rho([c["scores"][name] for c in band], [c["val_mean"] for c in band]) for band in bands]}
        row["bands_mean"] = {k: _mean([b[k] for b in row["bands"]]) for k in ("kendall_tau", "spearman_rho")}
        by_space = [_tau_rho([c["scores"][name] for c in g], [c["val_mean"] for c in g]) for g in groups]
        row["bands_by_space_mean"] = {k: _mean([b[k] for b in by_space]) for k in ("kendall_tau", "spearman_rho")}
        out[name] = row
    if len(seeds) >= 2:
        def seed_acc(c: dict[str, Any], i: int) -> float:
            return c["runs"][i]["val_accuracy"]

        ceiling: dict[str, Any] = {"whole_set": _tau_rho([seed_acc(c, 0) for c in done], [seed_acc(c, 1) for c in done]),
                                   "bands": [_tau_rho([seed_acc(c, 0) for c in b], [seed_acc(c, 1) for c in b]) for b in bands]}
        ceiling["bands_mean"] = {k: _mean([b[k] for b in ceiling["bands"]]) for k in ("kendall_tau", "spearman_rho")}
        by_space = [_tau_rho([seed_acc(c, 0) for c in g], [seed_acc(c, 1) for c in g]) for g in groups]
        ceiling["bands_by_space_mean"] = {k: _mean([b[k] for b in by_space]) for k in ("kendall_tau", "spearman_rho")}
        out["seed_vs_seed (noise ceiling)"] = ceiling
    return out


def _mean(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.mean(vals) if vals else None


def _costs(done: list[dict[str, Any]], seeds: list[int]) -> dict[str, Any]:
    """Seconds to score every candidate with each proxy against seconds to distil every candidate once (one seed)."""
    distill_s = statistics.mean(sum(c["runs"][i]["seconds"] for c in done) for i in range(len(seeds)))
    proxy_s = {p: sum(c["proxy_seconds"][p] for c in done) for p in PROXIES}
    return {"distilled_ranking_seconds_one_seed": distill_s, "proxy_seconds": proxy_s,
            "distill_over_proxy": {p: distill_s / s if s > 0 else None for p, s in proxy_s.items()},
            "note": "per candidate, one worker process with one thread; the latency measurement every candidate needs "
                    "anyway is counted in neither"}


def _plot(done: list[dict[str, Any]], budgets: list[float], tol: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = (*PROXIES, *EXTRA)
    fig, axes = plt.subplots(3, 3, figsize=(13, 11))
    for ax, name in zip(axes.flat, names):
        for i, b in enumerate(budgets):
            band = [c for c in done if _in_band(c["latency_ms"], b, tol)]
            ax.scatter([c["scores"][name] for c in band], [c["val_mean"] for c in band], s=18, label=f"{b:.3f} ms +-{tol:.0%}")
        if name in ("params", "flops", "synflow"):
            ax.set_xscale("log" if name != "synflow" else "linear")
        ax.set_title(name)
        ax.set_xlabel("proxy score")
        ax.set_ylabel("distilled val accuracy, %")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _print(result: dict[str, Any]) -> None:
    print(f"teacher {result['teacher']['test_accuracy']:.2f}% test; budgets {[round(b, 4) for b in result['budgets_ms']]} ms; "
          f"{len(result['candidates'])} candidates")
    print(f"{'proxy':28s} {'tau all':>8s} {'rho all':>8s} {'tau bands':>9s} {'rho bands':>9s} {'tau b+s':>8s}  "
          f"per-band tau  cost x")
    for name, row in result["correlation"].items():
        def f(v: float | None) -> str:
            return "   -   " if v is None else f"{v:+.3f}"

        bands = " ".join(f(b["kendall_tau"]) for b in row["bands"])
        ratio = result["cost"]["distill_over_proxy"].get(name)
        print(f"{name:28s} {f(row['whole_set']['kendall_tau']):>8s} {f(row['whole_set']['spearman_rho']):>8s} "
              f"{f(row['bands_mean']['kendall_tau']):>9s} {f(row['bands_mean']['spearman_rho']):>9s} "
              f"{f(row['bands_by_space_mean']['kendall_tau']):>8s}  {bands}  "
              f"{'' if ratio is None else f'{ratio:.0f}'}")


if __name__ == "__main__":
    main()
