"""Two-sample statistics for comparing latencies: ratio of medians with a bootstrap CI, and Mann-Whitney U."""

from __future__ import annotations

from typing import Any

import numpy as np


def bootstrap_ratio_ci(a_ms: list[float], b_ms: list[float], level: float = 0.95, resamples: int = 2000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of ``median(b) / median(a)``, resampling each sample set independently."""
    rng = np.random.default_rng(seed)
    a, b = np.asarray(a_ms, dtype=np.float64), np.asarray(b_ms, dtype=np.float64)
    ratios = np.empty(resamples)
    step = max(1, 4_000_000 // max(len(a), len(b)))  # bound the index matrix to ~32 MB
    for lo in range(0, resamples, step):
        n = min(step, resamples - lo)
        med_a = np.median(a[rng.integers(0, len(a), (n, len(a)))], axis=1)
        med_b = np.median(b[rng.integers(0, len(b), (n, len(b)))], axis=1)
        ratios[lo:lo + n] = med_b / med_a
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(low), float(high)


def compare_samples(a_ms: list[float], b_ms: list[float], level: float = 0.95, resamples: int = 2000) -> dict[str, Any]:
    """``ratio_of_medians`` = median(B) / median(A) (below 1: B is faster), its CI, Mann-Whitney U and a verdict."""
    from scipy.stats import mannwhitneyu

    ratio = float(np.median(b_ms) / np.median(a_ms))
    low, high = bootstrap_ratio_ci(a_ms, b_ms, level, resamples)
    test = mannwhitneyu(a_ms, b_ms, alternative="two-sided")
    if high < 1:
        verdict = f"B is faster: {1 / ratio:.2f}x (CI {1 / high:.2f}-{1 / low:.2f}x)"
    elif low > 1:
        verdict = f"B is slower: {ratio:.2f}x the latency of A (CI {low:.2f}-{high:.2f}x)"
    else:
        verdict = f"no significant difference at {level:.0%} (ratio {ratio:.3f}, CI {low:.3f}-{high:.3f})"
    return {"ratio_of_medians": ratio, "ci": [low, high], "ci_level": level, "ci_method": f"bootstrap percentile, {resamples} resamples",
            "mann_whitney_u": float(test.statistic), "p_value": float(test.pvalue), "verdict": verdict}
