"""The Optuna side of a search: storage, sampler, the objective each worker runs, and stale-trial clean-up."""

from __future__ import annotations

import datetime
import math
import os
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from edgekd.search.config import SearchConfig
from edgekd.search.evaluate import Evaluator
from edgekd.search.predictor import LatencyPredictor
from edgekd.search.spaces import SearchSpace, arch_key
from edgekd.fsutil import pid_alive

optuna.logging.set_verbosity(optuna.logging.WARNING)


def storage_for(url: str | None, out: Path) -> optuna.storages.BaseStorage:
    """``None`` -> SQLite in ``out``; a path ending in ``.log`` -> a journal file; else an RDB URL."""
    if url is None:
        url = f"sqlite:///{(out / 'study.db').resolve()}"
    if url.endswith(".log") and "://" not in url:
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url))
    return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {})


def sampler_for(cfg: SearchConfig) -> optuna.samplers.BaseSampler:
    """NSGA-II over (proxy up, latency down) with the constraints, TPE, or random; seeded (a worker adds its index)."""
    constraints = lambda t: t.user_attrs.get("constraints", [0.0])  # noqa: E731
    with warnings.catch_warnings():  # constraints_func is marked experimental in Optuna 4
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if cfg.sampler == "nsga2":
            return optuna.samplers.NSGAIISampler(population_size=cfg.population, seed=cfg.seed, constraints_func=constraints)
        if cfg.sampler == "tpe":
            return optuna.samplers.TPESampler(seed=cfg.seed, constraints_func=constraints)
    return optuna.samplers.RandomSampler(seed=cfg.seed)


def open_study(cfg: SearchConfig, out: Path, worker: int = 0, attempts: int = 10) -> optuna.Study:
    """Create or load the study; workers starting together race to create the storage's tables, so the loser
    retries (it then finds them)."""
    sampler = sampler_for(cfg.model_copy(update={"seed": cfg.seed + worker}))

    def create() -> optuna.Study:
        return optuna.create_study(storage=storage_for(cfg.storage, out), study_name=cfg.study_name, sampler=sampler,
                                   directions=["maximize", "minimize"], load_if_exists=True)

    for attempt in range(attempts - 1):
        try:
            return create()
        except Exception as err:  # sqlalchemy's OperationalError / IntegrityError while another worker creates tables
            if "sqlalchemy" not in type(err).__module__:
                raise
            time.sleep(0.2 * (attempt + 1))
    return create()


UNTAGGED_GRACE_S = 5.0  # far longer than a live worker takes to tag the trial Optuna just created


def fail_stale_trials(study: optuna.Study, grace_s: float = UNTAGGED_GRACE_S) -> int:
    """Mark RUNNING trials whose worker is gone (a killed search) as FAIL; their count.

    A worker tags its trial ``host:pid`` milliseconds after Optuna creates it; a kill in between leaves a trial
    with no tag. One still untagged ``grace_s`` after it started has no live worker, wherever it ran.
    """
    def running() -> list[optuna.trial.FrozenTrial]:
        return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))

    untagged = [t for t in running() if "worker" not in t.user_attrs and t.datetime_start is not None]
    if untagged:
        youngest = max(t.datetime_start for t in untagged)
        time.sleep(max(0.0, grace_s - (datetime.datetime.now() - youngest).total_seconds()))
    untagged_ids, failed = {t._trial_id for t in untagged}, 0
    for t in running():
        host, _, pid = str(t.user_attrs.get("worker", "")).rpartition(":")  # one write: never half-recorded
        dead = host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid))
        if dead or (t._trial_id in untagged_ids and "worker" not in t.user_attrs):
            study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
            failed += 1
    return failed


def completed(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


def predictor_from(records: list[dict[str, Any]], target: str, stat: str) -> LatencyPredictor:
    """Lookup table from every record's blocks, correction fitted on the records measured whole."""
    pred = LatencyPredictor(target, stat)
    for rec in records:
        sigs = pred.add_blocks(rec.get("blocks", []))
        if rec.get("measured"):
            pred.add(sigs, rec[f"{stat}_ms"], refit=False)
    pred.fit()
    return pred


def latency_of(rec: dict[str, Any], stat: str, predictor: LatencyPredictor | None) -> tuple[float, bool]:
    """(latency ms, predicted?) of a record: measured when it was, else predicted."""
    if rec.get("measured"):
        return float(rec[f"{stat}_ms"]), False
    assert predictor is not None
    return predictor.predict([b["block"] for b in rec["blocks"]]), True


def violations(rec: dict[str, Any], latency_ms: float, limits: dict[str, float | None]) -> list[float]:
    """Optuna constraint values (<= 0 is feasible): latency, params, peak memory, size over their limits."""
    values = {"latency_ms": latency_ms, "params": rec["params"], "peak_memory_bytes": rec["peak_memory_bytes"],
              "onnx_bytes": rec.get("onnx_bytes", 0)}
    return [float(values[k] - v) for k, v in limits.items() if v is not None]


@dataclass
class Objective:
    """What one worker evaluates per trial."""

    space: SearchSpace
    extra: dict[str, Any]
    evaluator: Evaluator
    cfg: SearchConfig
    limits: dict[str, float | None]

    def records(self) -> list[dict[str, Any]]:
        import json

        return [json.loads(f.read_text()) for f in sorted((self.evaluator.directory / "candidates").glob("*.json"))]

    def _measure_now(self) -> bool:
        if self.cfg.latency == "measured":
            return True
        return sum(1 for r in self.records() if r.get("measured")) < self.cfg.calibration

    def __call__(self, trial: optuna.Trial) -> tuple[float, float]:
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        params = self.space.suggest(trial)
        arch = {**self.extra, **self.space.arch(params)}
        key = arch_key(arch)
        trial.set_user_attr("arch_key", key)
        rec = self.evaluator.once(key, arch, self._measure_now)
        predictor = None if rec.get("measured") else predictor_from(self.records(), self.evaluator.cache.target.name,
                                                                     self.cfg.latency_stat)
        lat, predicted = latency_of(rec, self.cfg.latency_stat, predictor)
        trial.set_user_attr("latency_ms", lat)
        trial.set_user_attr("latency_predicted", predicted)
        trial.set_user_attr("constraints", violations(rec, lat, self.limits) or [0.0])
        score = rec["proxy"] if math.isfinite(rec["proxy"]) else -1e30
        return score, lat
