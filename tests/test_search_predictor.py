"""Latency predictor: the lookup-table sum and its learned correction, held-out accuracy, refits, round trip."""

import random

import numpy as np
import pytest

from edgekd.search.predictor import MIN_FIT, LatencyPredictor


def _synthetic(n, seed=0):
    rng = random.Random(seed)
    table = {f"b{i}": rng.uniform(0.01, 0.2) for i in range(12)}
    cands = [[rng.choice(list(table)) for _ in range(rng.randint(3, 9))] for _ in range(n)]
    truth = lambda sigs: 0.8 * sum(table[s] for s in sigs) + 0.02 * len(sigs) + 0.05  # noqa: E731
    return table, cands, truth


def test_correction_is_learned_and_held_out_accuracy_reported():
    table, cands, truth = _synthetic(30)
    pred = LatencyPredictor("cpu-ort-fp32")
    pred.add_blocks([{"block": k, "median_ms": v} for k, v in table.items()])
    for sigs in cands[: MIN_FIT - 1]:
        pred.add(sigs, truth(sigs))
    assert pred.coef == [1.0, 0.0, 0.0] and pred.cross_validate() is None  # too few: the plain table sum
    assert pred.predict(cands[0]) == pytest.approx(sum(table[s] for s in cands[0]))
    for sigs in cands[MIN_FIT - 1: 20]:
        pred.add(sigs, truth(sigs))  # refits on every measurement
    assert pred.coef == pytest.approx([0.8, 0.02, 0.05], abs=1e-9)
    held = pred.cross_validate()
    assert held["within_10pct"] == 1.0 and held["rmse_ms"] < 1e-9 and held["n"] == 20
    fresh = pred.evaluate([(s, truth(s)) for s in cands[20:]])
    assert fresh["within_10pct"] == 1.0 and fresh["n"] == 10


def test_held_out_metrics_match_their_definitions():
    pred = LatencyPredictor("t", table={"a": 1.0}, coef=[1.0, 0.0, 0.0])
    got = pred.evaluate([(["a"], 1.05), (["a"], 1.25), (["a", "a"], 2.0)])
    assert got["within_10pct"] == pytest.approx(2 / 3)
    assert got["rmse_ms"] == pytest.approx(np.sqrt((0.05**2 + 0.25**2 + 0) / 3))


def test_predictor_round_trips(tmp_path):
    table, cands, truth = _synthetic(12, seed=3)
    pred = LatencyPredictor("cpu-ort-fp32", "p90", dict(table))
    for sigs in cands:
        pred.add(sigs, truth(sigs) * 1.1)
    back = LatencyPredictor.load(pred.save(tmp_path / "p.json"))
    assert back.stat == "p90" and back.predict(cands[0]) == pytest.approx(pred.predict(cands[0]))
    assert back.to_json()["held_out"] == pred.to_json()["held_out"]
