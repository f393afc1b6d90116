"""Which distillation losses close the teacher-student capacity gap on digits? (``python benchmarks/kd_losses.py``)

Trains (or reuses) the recipe's ResNet teacher, then students ~10x and ~100x smaller with labels only, KD, DKD, DIST,
RKD + KD and FitNets + KD, 3 seeds each, same epochs and schedule; then a sweep of settings on the 100x student
(temperature, learning rate, epochs, augmentation with a live teacher, a teacher assistant), and the cost of a KD
step against a plain step with cached teacher outputs. Writes ``benchmarks/results/kd_losses.json``.
Each run is one process with one thread; ``--workers`` runs them side by side. Finished runs are reused.
``--methods DKD KD --merge`` re-measures only those rows of the main table and keeps the others of the results file
(the JSON's ``reruns`` says which rows, when, why and with which teacher).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
SIZES = {"10x": {"name": "resnet", "widths": [10, 20, 40], "blocks": [1, 1, 1]},
         "100x": {"name": "resnet", "widths": [3, 6, 12], "blocks": [1, 1, 1]}}
KD = {"weight": 0.9, "temperature": 4.0}
METHODS: dict[str, dict[str, Any]] = {
    "labels only": {"ce": 1.0},
    "KD": {"ce": 1.0, "kd": KD},
    "DKD": {"ce": 1.0, "dkd": {"alpha": 1.0, "beta": 8.0, "temperature": 4.0, "warmup": 20}},
    "DKD, no warm-up": {"ce": 1.0, "dkd": {"alpha": 1.0, "beta": 8.0, "temperature": 4.0, "warmup": 0}},
    "DIST": {"ce": 1.0, "dist": {"beta": 2.0, "gamma": 2.0, "temperature": 4.0}},
    "RKD + KD": {"ce": 1.0, "kd": KD, "rkd": {"weight": 1.0, "student": "pool", "teacher": "pool"}},
    "FitNets + KD": {"ce": 1.0, "kd": KD, "fitnet": {"weight": 1.0, "student": "layers.1", "teacher": "layers.1"}},
}
BASE = {"epochs": 30, "batch_size": 64, "lr": 3e-3, "shift_pixels": 0}


def job_id(job: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(job, sort_keys=True).encode()).hexdigest()[:16]


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """One distillation run in this process (1 thread); reuses a finished run with the same job."""
    import torch

    torch.set_num_threads(1)
    import edgekd
    from edgekd.distill import DistillConfig

    out = Path(job["work"]) / "runs" / job_id({k: v for k, v in job.items() if k != "work"})
    done = out / "student.metrics.json"
    if not done.is_file():
        cfg = DistillConfig(**{**BASE, **job.get("overrides", {})}, seed=job["seed"], loss=job["loss"])
        edgekd.distill(job["teacher"], job["student"], "digits", out, cfg, force=True)
    m = json.loads(done.read_text())
    return {"test_accuracy": m["test_accuracy"], "val_accuracy": m["val_accuracy"], "params": m["params"],
            "teacher_params": m["teacher_params"], "seconds": m["seconds"], "run": str(out)}


def run_all(jobs: list[dict[str, Any]], workers: int) -> list[dict[str, Any]]:
    if workers <= 1:
        return [run_job(j) for j in jobs]
    with mp.get_context("spawn").Pool(workers) as pool:
        return pool.map(run_job, jobs, chunksize=1)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    acc = [r["test_accuracy"] for r in rows]
    return {"mean": statistics.mean(acc), "std": statistics.stdev(acc) if len(acc) > 1 else 0.0, "runs": acc,
            "params": rows[0]["params"], "seconds_mean": statistics.mean(r["seconds"] for r in rows)}


def ensure_teacher(work: Path, teacher: str | None) -> Path:
    """The given teacher, or the recipe's teacher trained once into ``work/teacher``."""
    if teacher:
        return Path(teacher)
    path = work / "teacher" / "teacher.safetensors"
    if not path.is_file():
        from edgekd.distill import TeacherConfig, train_teacher
        from edgekd.schemas import DatasetSpec

        cfg = TeacherConfig(arch={"name": "resnet", "widths": [32, 64, 128], "blocks": [1, 1, 1]}, epochs=15, lr=3e-3)
        train_teacher(DatasetSpec(name="digits", image_size=32), cfg, path.parent, force=True)
    return path


def step_cost(teacher: Path, steps: int = 40, repeats: int = 7) -> dict[str, Any]:
    """Median seconds per training step (forward, backward, AdamW) of the 10x student: CE alone vs CE + KD reading
    cached teacher logits; interleaved repeats, one thread."""
    import torch

    from edgekd.data import resolve_data
    from edgekd.distill.losses import build_criterion
    from edgekd.distill.loop import DistillModule
    from edgekd.distill.taps import Taps
    from edgekd.distill.teacher_cache import TeacherSource, run_teacher
    from edgekd.models import build_model, load_checkpoint

    torch.set_num_threads(1)
    splits = resolve_data("digits")
    t_model, _ = load_checkpoint(teacher)
    x, y = splits.x["train"], splits.y["train"]
    source = TeacherSource(t_model, [], run_teacher(t_model, x, [], torch.device("cpu")))
    setups = {}
    for name, spec in (("plain", {"ce": 1.0}), ("kd", METHODS["KD"])):
        torch.manual_seed(0)
        student = build_model({**SIZES["10x"], "in_channels": 1, "num_classes": 10})
        crit = build_criterion(spec)
        module = DistillModule(student, crit, Taps(student, []), None).train()
        setups[name] = (module, torch.optim.AdamW(module.parameters(), lr=1e-3), crit.needs_teacher)
    times: dict[str, list[float]] = {k: [] for k in setups}
    gen = torch.Generator().manual_seed(0)
    for _ in range(repeats):
        for name, (module, opt, needs) in setups.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                idx = torch.randint(0, len(x), (64,), generator=gen)
                t_logits = source(idx, x[idx])[0] if needs else None
                loss, _ = module(x[idx], y[idx], t_logits, {})
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            times[name].append((time.perf_counter() - t0) / steps)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"plain_step_ms": 1e3 * med["plain"], "kd_step_ms": 1e3 * med["kd"], "ratio": med["kd"] / med["plain"],
            "batch": 64, "steps": steps, "repeats": repeats}


def sweep_jobs(teacher: Path, ta: Path, seeds: list[int], work: Path) -> dict[str, list[dict[str, Any]]]:
    """Settings tried on the 100x student, each with every seed."""
    s = SIZES["100x"]
    settings: dict[str, tuple[str | Path, dict[str, Any], dict[str, Any]]] = {
        "KD T=1": (teacher, {"ce": 1.0, "kd": {"weight": 0.9, "temperature": 1.0}}, {}),
        "KD T=2": (teacher, {"ce": 1.0, "kd": {"weight": 0.9, "temperature": 2.0}}, {}),
        "KD T=8": (teacher, {"ce": 1.0, "kd": {"weight": 0.9, "temperature": 8.0}}, {}),
        "labels only, lr 1e-2": (teacher, METHODS["labels only"], {"lr": 1e-2}),
        "KD T=4, lr 1e-2": (teacher, METHODS["KD"], {"lr": 1e-2}),
        "DIST, lr 1e-2": (teacher, METHODS["DIST"], {"lr": 1e-2}),
        "labels only, lr 1e-2, 90 ep": (teacher, METHODS["labels only"], {"lr": 1e-2, "epochs": 90}),
        "KD T=4, lr 1e-2, 90 ep": (teacher, METHODS["KD"], {"lr": 1e-2, "epochs": 90}),
        "DIST, lr 1e-2, 90 ep": (teacher, METHODS["DIST"], {"lr": 1e-2, "epochs": 90}),
        "labels only, shift 2": (teacher, METHODS["labels only"], {"lr": 1e-2, "shift_pixels": 2}),
        "KD T=4, shift 2 (live teacher), lr 1e-2": (teacher, METHODS["KD"], {"lr": 1e-2, "shift_pixels": 2}),
        "KD T=4 via 10x teacher assistant, lr 1e-2": (ta, METHODS["KD"], {"lr": 1e-2}),
    }
    return {name: [{"work": str(work), "teacher": str(t), "student": s, "loss": loss, "seed": seed, "overrides": o}
                   for seed in seeds] for name, (t, loss, o) in settings.items()}


def teacher_info(teacher: Path) -> dict[str, Any]:
    return {"path": str(teacher), "sha256": hashlib.sha256(teacher.read_bytes()).hexdigest()}


def machine(workers: int) -> dict[str, Any]:
    import torch

    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "threads_per_run": 1,
            "workers": workers, "torch": torch.__version__,
            "shared": "a 2-core machine shared with other work; accuracies do not depend on it, run seconds do"}


def merge(table: dict[str, Any], teacher: Path, args: argparse.Namespace, wall: float) -> None:
    """Replace the re-measured rows of ``kd_losses.json`` and say so in its ``reruns`` list."""
    from edgekd.data import resolve_data
    from edgekd.distill.loop import evaluate
    from edgekd.fsutil import write_json
    from edgekd.models import load_checkpoint

    path = RESULTS / "kd_losses.json"
    result = json.loads(path.read_text())
    result["table"].update(table)
    for m in args.methods:
        result["methods"][m] = METHODS[m]
    t_model, _ = load_checkpoint(teacher)
    splits = resolve_data("digits")
    result.setdefault("reruns", []).append({
        "rows": sorted(table), "reason": args.reason, "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "teacher": {**teacher_info(teacher), "test_accuracy": evaluate(t_model, splits.x["test"], splits.y["test"])},
        "seeds": args.seeds, "machine": machine(args.workers), "wall_seconds": wall,
    })
    write_json(path, result)
    for k, v in table.items():
        print(f"| {k} | {v['params']} | {v['mean']:.2f} ± {v['std']:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/edgekd-bench", help="Where runs and the teacher go.")
    ap.add_argument("--teacher", default=None, help="Teacher .safetensors (default: train the recipe's teacher).")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-sweep", action="store_true", help="Only the main table and the step cost.")
    ap.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS), help="Rows of the main table.")
    ap.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES), help="Students of the main table.")
    ap.add_argument("--merge", action="store_true", help="Re-measure only --methods (no sweep, no step cost) and merge "
                                                         "them into the existing results file.")
    ap.add_argument("--reason", default="", help="With --merge: why these rows were re-measured.")
    args = ap.parse_args()
    work = Path(args.work)
    os.environ.setdefault("EDGEKD_CACHE", str(work / "cache"))
    t0 = time.perf_counter()
    teacher = ensure_teacher(work, args.teacher)
    jobs = {(size, m): [{"work": str(work), "teacher": str(teacher), "student": arch, "loss": loss, "seed": s}
                        for s in args.seeds]
            for size, arch in SIZES.items() if size in args.sizes for m, loss in METHODS.items() if m in args.methods}
    flat = [j for js in jobs.values() for j in js]
    done = dict(zip(map(json.dumps, flat), run_all(flat, args.workers)))
    table = {f"{size} | {m}": summarise([done[json.dumps(j)] for j in js]) for (size, m), js in jobs.items()}
    sweep: dict[str, Any] = {}
    if args.merge:
        merge(table, teacher, args, time.perf_counter() - t0)
        return
    if not args.no_sweep:
        ta = Path(done[json.dumps(jobs[("10x", "KD")][0])]["run"]) / "student.safetensors"
        sj = sweep_jobs(teacher, ta, args.seeds, work)
        flat = [j for js in sj.values() for j in js]
        res = dict(zip(map(json.dumps, flat), run_all(flat, args.workers)))
        sweep = {name: summarise([res[json.dumps(j)] for j in js]) for name, js in sj.items()}
    from edgekd.models import load_checkpoint
    from edgekd.distill.loop import evaluate
    from edgekd.data import resolve_data

    t_model, _ = load_checkpoint(teacher)
    splits = resolve_data("digits")

    result = {
        "teacher": {**teacher_info(teacher), "params": sum(p.numel() for p in t_model.parameters()),
                    "test_accuracy": evaluate(t_model, splits.x["test"], splits.y["test"])},
        "schedule": {**BASE, "optimizer": "adamw", "warmup_epochs": 1.0, "weight_decay": 5e-4},
        "students": {k: v for k, v in SIZES.items()}, "methods": METHODS, "seeds": args.seeds,
        "table": table, "sweep": sweep, "step_cost": step_cost(teacher),
        "machine": machine(args.workers),
        "wall_seconds": time.perf_counter() - t0,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    from edgekd.fsutil import write_json

    write_json(RESULTS / "kd_losses.json", result)
    print(f"teacher: {result['teacher']['params']} params, {result['teacher']['test_accuracy']:.2f}% test\n")
    print("| student | method | params | test acc % (mean ± std, 3 seeds) |\n|---|---|---|---|")
    for k, v in table.items():
        size, m = k.split(" | ")
        print(f"| {size} | {m} | {v['params']} | {v['mean']:.2f} ± {v['std']:.2f} |")
    if sweep:
        print("\n| 100x student setting | test acc % (mean ± std) |\n|---|---|")
        for k, v in sweep.items():
            print(f"| {k} | {v['mean']:.2f} ± {v['std']:.2f} |")
    sc = result["step_cost"]
    print(f"\nKD step / plain step (cached teacher logits): {sc['ratio']:.2f}x "
          f"({sc['kd_step_ms']:.2f} vs {sc['plain_step_ms']:.2f} ms)")


if __name__ == "__main__":
    main()
