"""``edgekd.search``: a student architecture for a teacher under a latency budget measured on the target."""

from __future__ import annotations

import multiprocessing
import shutil
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from edgekd.data import Splits
from edgekd.data.folders import resolve_data
from edgekd.distill.teacher import complete_arch
from edgekd.errors import EdgekdError
from edgekd.fsutil import write_json
from edgekd.models import load_checkpoint, read_input_shape
from edgekd.schemas import DatasetSpec, Target
from edgekd.search.checks import check_request
from edgekd.search.config import SearchConfig
from edgekd.search.evaluate import Evaluator
from edgekd.search.latency import LatencyCache, default_cache_dir, example_inputs, measure_model
from edgekd.search.proxies import PROXIES, ProxyBatch
from edgekd.search.report import finish
from edgekd.search.spaces import SPACES
from edgekd.search.study import Objective, completed, fail_stale_trials, open_study
from edgekd.ui import progress

OPTIONS_FILE = "search.options.json"
RESUMABLE = {"trials", "workers"}  # may change between a killed search and its resumption


@dataclass
class SearchResult:
    """The chosen student and where everything went; latencies in ms."""

    arch: dict[str, Any]
    arch_path: Path
    key: str
    proxy: float
    latency_ms: float
    budget_ms: float
    params: int
    pareto: Path
    trials: int
    evaluated: int
    top_k: list[Path] = field(default_factory=list)
    plot: Path | None = None
    predictor: dict[str, Any] | None = None
    interleaved: dict[str, Any] | None = None  # with budget_ratio: the pick timed beside the teacher (confirm.py)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: [str(p) for p in v] if k == "top_k" else str(v) if isinstance(v, Path) else v for k, v in d.items()}


def _setup(teacher: Path, data: Any, target: Target, cfg: SearchConfig, out: Path) -> tuple[Objective, Splits]:
    """Teacher, data, proxy batch, latency cache and budget -> the objective a worker runs."""
    space = SPACES.get(cfg.space).with_choices(cfg.choices)
    PROXIES.get(cfg.proxy)
    t_model, _ = load_checkpoint(teacher)
    shape = read_input_shape(teacher)
    splits = resolve_data(data, image_size=shape[-1] if shape and len(shape) == 3 else 32)
    tokens = not splits.x["train"].is_floating_point()
    if tokens != (space.modality == "tokens"):
        raise EdgekdError(f"space {space.name!r} is for {space.modality} but the data holds "
                          f"{'token ids' if tokens else 'images'}; choose --space {'transformer' if tokens else 'mobile'}")
    gen = torch.Generator().manual_seed(cfg.seed)
    idx = torch.randperm(len(splits.y["train"]), generator=gen)[: cfg.batch_size]
    batch = ProxyBatch(splits.x["train"][idx], splits.y["train"][idx], splits.num_classes, t_model.eval())
    cache = LatencyCache(Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir(), target)
    ev = Evaluator(cfg.proxy, batch, cache, splits.input_shape, tokens, cfg.seed, out, blocks=cfg.latency == "predicted")
    extra = {k: v for k, v in complete_arch({"name": space.family}, splits).items() if k != "name"}
    limits = {"latency_ms": _budget(cfg, target, t_model, splits.input_shape, tokens, cache, out),
              "params": cfg.max_params, "peak_memory_bytes": cfg.max_peak_memory_bytes or target.budgets.peak_memory_bytes,
              "onnx_bytes": cfg.max_size_bytes or target.budgets.size_bytes}
    return Objective(space, extra, ev, cfg, limits), splits


def _budget(cfg: SearchConfig, target: Target, teacher: torch.nn.Module, shape: tuple[int, ...], tokens: bool,
            cache: LatencyCache, out: Path) -> float:
    if cfg.budget_ratio is not None:
        lat = measure_model(teacher, example_inputs(shape, target.batch_sizes[0], tokens), cache, out / "work")
        return cfg.budget_ratio * lat[f"{cfg.latency_stat}_ms"]
    budget = cfg.budget_ms or target.budgets.p90_latency_ms
    if budget is None:
        raise EdgekdError(f"no latency budget: pass --budget-ms or set budgets.p90_latency_ms in target {target.name!r}")
    return budget


def _work(teacher: Path, data: Any, target: Target, cfg: SearchConfig, out: Path, worker: int, show: bool,
          objective: Objective | None = None) -> None:
    """One worker: trials until the study holds ``cfg.trials`` complete ones."""
    import optuna

    objective = objective or _setup(teacher, data, target, cfg, out)[0]
    study = open_study(cfg, out, worker)
    stop = optuna.study.MaxTrialsCallback(cfg.trials, states=(optuna.trial.TrialState.COMPLETE,))
    left = cfg.trials - completed(study)
    if left <= 0:
        return
    if not show:
        study.optimize(objective, n_trials=left, callbacks=[stop])
        return
    with progress() as bar:
        task = bar.add_task(f"search ({cfg.proxy})", total=cfg.trials, completed=completed(study), info="")

        def tick(st: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            done = [t for t in st.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
                    if max(t.user_attrs.get("constraints", [0.0])) <= 0]
            best = max(done, key=lambda t: t.values[0], default=None)
            info = f"best {best.values[0]:.4g} at {best.values[1]:.3f} ms" if best else "no feasible yet"
            bar.update(task, completed=completed(st), info=info)

        study.optimize(objective, n_trials=left, callbacks=[stop, tick])


def _worker_main(args: tuple[Any, ...]) -> None:
    out, worker = args[4], args[5]
    try:
        _work(*args, show=False)
    except BaseException as err:  # reported to the parent, which raises it as one line
        (out / f"worker-{worker}.error").write_text(f"{err}\n{traceback.format_exc()}")
        raise


def _guard(out: Path, cfg: SearchConfig, force: bool) -> None:
    """Same options (bar trials/workers): resume. Other options: an error, or with ``force`` a fresh search."""
    now = cfg.model_dump(mode="json")
    f = out / OPTIONS_FILE
    if f.is_file():
        import json

        before = json.loads(f.read_text())
        changed = [k for k in now if k not in RESUMABLE and before.get(k) != now[k]]
        if changed and not force:
            raise EdgekdError(f"{out} holds a search with other options ({changed[0]}: {before.get(changed[0])!r} -> "
                              f"{now[changed[0]]!r}); pass --force to start over or choose another --out")
        if force:
            for name in ("candidates", "work"):
                shutil.rmtree(out / name, ignore_errors=True)
            for name in ("study.db", "evaluations.jsonl"):
                (out / name).unlink(missing_ok=True)
    write_json(f, now)


def search(teacher: str | Path, data: str | Path | DatasetSpec | Splits = "digits", target: str | Path | Target = "cpu-ort-fp32",
           out: str | Path = "search", config: SearchConfig | None = None, *, force: bool = False, stage: str = "search",
           manifest_dir: str | Path | None = None, **options: Any) -> SearchResult:
    """Search ``config.space`` for the student of ``teacher`` (.safetensors) that ``config.proxy`` scores best
    within the latency budget (and params / memory / size limits) on ``target``; ``options`` override ``config``.

    Trials run in ``config.workers`` processes sharing one Optuna study (``config.storage``, default SQLite in
    ``out``); a search killed mid-way resumes from its storage when run again with the same options. Writes
    ``out/pareto.json``, ``student.arch.json`` (the pick), ``top<i>.arch.json``, ``pareto.png`` and
    ``candidates/`` and records them in ``manifest_dir/manifest.json`` (default: ``out``). Raises EdgekdError
    naming the fastest candidate when none meets the budget.
    """
    teacher, tgt, cfg = check_request(teacher, target, config, options)
    out = Path(out)
    objective, _ = _setup(teacher, data, tgt, cfg, out)  # checks teacher, data, space and proxy before any write
    out.mkdir(parents=True, exist_ok=True)
    _guard(out, cfg, force)
    for stale in out.glob("worker-*.error"):
        stale.unlink()
    study = open_study(cfg, out)
    fail_stale_trials(study)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker_main, args=((teacher, data, tgt, cfg, out, i),)) for i in range(1, cfg.workers)]
    for p in procs:
        p.start()
    try:
        _work(teacher, data, tgt, cfg, out, 0, show=True, objective=objective)
    finally:
        for p in procs:
            p.join()
    errors = sorted(out.glob("worker-*.error"))
    if errors:
        raise EdgekdError(f"search worker failed: {errors[0].read_text().splitlines()[0]} (details in {errors[0]})")
    return finish(study, objective, cfg, out, Path(manifest_dir or out), stage, force)
