"""A/B statistics: the bootstrap keeps interleaved pairs together, and a model compared with itself is no faster."""

import numpy as np
import pytest

import edgekd
from edgekd.profile import MeasureConfig
from edgekd.profile.stats import bootstrap_ratio_ci, compare_samples


def _drifting_pairs(effect: float, seed: int = 0) -> tuple[list[float], list[float]]:
    """400 rounds on a machine whose speed drifts by +-40% between rounds; B costs ``effect`` times A in each round."""
    rng = np.random.default_rng(seed)
    machine = np.exp(rng.normal(0, 0.4, 400))
    a = machine * (1 + rng.normal(0, 0.002, 400))
    b = machine * effect * (1 + rng.normal(0, 0.002, 400))
    return list(a), list(b)


def test_paired_bootstrap_sees_through_shared_drift():
    a, b = _drifting_pairs(1.05)
    low, high = bootstrap_ratio_ci(a, b)
    # Resampling A and B independently gives about 0.97-1.14 here; kept in pairs the 5% effect is resolved.
    assert 1.03 < low < 1.05 < high < 1.07
    assert compare_samples(a, b)["verdict"].startswith("B is slower: 1.05x")
    assert compare_samples(a, b)["ci_method"].startswith("paired bootstrap")


def test_pairs_must_have_equal_lengths():
    with pytest.raises(ValueError, match="equal lengths"):
        bootstrap_ratio_ci([1.0, 2.0], [1.0])


def test_identical_work_is_never_a_significant_speedup():
    for seed in range(20):
        a, b = _drifting_pairs(1.0, seed)
        assert compare_samples(a, b, resamples=500)["verdict"].startswith("no "), seed
    a, b = _drifting_pairs(0.99)  # a resolved but tiny difference is not called a speed-up
    r = compare_samples(a, b)
    assert r["ci"][1] < 1 and r["verdict"].startswith("no meaningful difference: ratio 0.99")


def test_session_pairs_widen_the_interval_to_the_spread_between_instances():
    # Four session pairs whose B instance is 6% faster or slower by placement luck: pooled rounds give a narrow CI
    # that excludes 1; drawn by pair first, the interval spans the spread.
    rng = np.random.default_rng(1)
    a = list(np.exp(rng.normal(0, 0.01, 400)))
    b = [x * f for x, f in zip(a, np.repeat([0.94, 0.95, 1.05, 0.93], 100) * np.exp(rng.normal(0, 0.01, 400)))]
    groups = list(np.repeat(range(4), 100))
    assert compare_samples(a, b)["verdict"].startswith("B is faster")
    r = compare_samples(a, b, groups=groups)
    assert r["ci"][0] < 0.95 and r["ci"][1] >= 1.0 and r["verdict"].startswith("no "), r["verdict"]
    assert r["ci_method"].startswith("paired bootstrap percentile over session pairs")


def test_a_model_compared_with_itself_shows_no_difference(tiny_onnx):
    m = tiny_onnx()
    cfg = MeasureConfig(warmup_runs=5, warmup_ms=20, min_runs=200, min_duration_s=0.2, session_pairs=4)
    # Real timings on a shared machine: the verdict logic is checked on synthetic data above; here a wrong pairing
    # or a pooled CI would be far off (two sessions of one 30 us model differ by up to ~8% from placement alone).
    # Another test worker shares the cores, and a burst of its load can land on one side (a ratio of 1.17 was seen
    # once), so three attempts are allowed: a wrong pairing would miss in all of them.
    seen = []
    for _ in range(3):
        r = edgekd.compare(m, m, "cpu-ort-fp32", [1], cfg, quiet=True)
        assert sorted(set(r["session_pair"])) == [0, 1, 2, 3] and len(r["session_pair"]) == r["runs"] >= 200
        seen.append((round(r["ratio_of_medians"], 3), r["verdict"]))
        if (r["verdict"].startswith("no ") or abs(r["ratio_of_medians"] - 1) < 0.1) and 0.85 < r["ratio_of_medians"] < 1.15:
            break
    else:
        pytest.fail(f"a model compared with itself differed in every attempt: {seen}")
