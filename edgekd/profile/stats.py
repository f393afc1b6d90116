"""Statistics for comparing interleaved latencies: ratio of medians with a paired bootstrap CI, and Mann-Whitney U."""

from __future__ import annotations

from typing import Any

import numpy as np

# Below this relative change a significant ratio is reported as "no meaningful difference": two sessions of the
# same model differ by about this much from memory placement alone.
MIN_EFFECT = 0.02


def bootstrap_ratio_ci(a_ms: list[float], b_ms: list[float], level: float = 0.95, resamples: int = 2000,
                       seed: int = 0, groups: list[int] | None = None) -> tuple[float, float]:
    """Percentile bootstrap CI of ``median(b) / median(a)`` over pairs: ``a[i]`` and ``b[i]`` ran in the same
    interleaved round, so each resample draws round indices and keeps both sides of a round together (a slow
    stretch of the machine then slows A and B alike instead of widening the interval).

    ``groups[i]`` names the session pair round ``i`` ran on; with several, each resample first draws pairs, then
    rounds within them, so the spread between session instances widens the interval as it should.
    """
    a, b = np.asarray(a_ms, dtype=np.float64), np.asarray(b_ms, dtype=np.float64)
    if len(a) != len(b) or (groups is not None and len(groups) != len(a)):
        raise ValueError(f"paired samples need equal lengths, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(np.asarray(groups) == g) for g in np.unique(groups)] if groups is not None else []
    ratios = np.empty(resamples)
    if len(members) > 1:
        for r in range(resamples):
            idx = np.concatenate([rng.choice(members[g], len(members[g])) for g in rng.integers(0, len(members), len(members))])
            ratios[r] = np.median(b[idx]) / np.median(a[idx])
    else:
        step = max(1, 4_000_000 // len(a))  # bound the index matrix to ~32 MB
        for lo in range(0, resamples, step):
            n = min(step, resamples - lo)
            idx = rng.integers(0, len(a), (n, len(a)))
            ratios[lo:lo + n] = np.median(b[idx], axis=1) / np.median(a[idx], axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(low), float(high)


def verdict(ratio: float, low: float, high: float, level: float, min_effect: float = MIN_EFFECT) -> str:
    """One line: B faster or slower when the CI excludes 1 and the ratio moves more than ``min_effect``."""
    if high < 1 and ratio < 1 - min_effect:
        return f"B is faster: {1 / ratio:.2f}x (CI {1 / high:.2f}-{1 / low:.2f}x)"
    if low > 1 and ratio > 1 + min_effect:
        return f"B is slower: {ratio:.2f}x the latency of A (CI {low:.2f}-{high:.2f}x)"
    if high < 1 or low > 1:
        return (f"no meaningful difference: ratio {ratio:.3f} (CI {low:.3f}-{high:.3f}) is within "
                f"{min_effect:.0%} of 1")
    return f"no significant difference at {level:.0%} (ratio {ratio:.3f}, CI {low:.3f}-{high:.3f})"


def compare_samples(a_ms: list[float], b_ms: list[float], level: float = 0.95, resamples: int = 2000,
                    groups: list[int] | None = None) -> dict[str, Any]:
    """``ratio_of_medians`` = median(B) / median(A) (below 1: B is faster), its paired CI (over session pairs, then
    rounds, when ``groups`` names several), Mann-Whitney U and a verdict."""
    from scipy.stats import mannwhitneyu

    ratio = float(np.median(b_ms) / np.median(a_ms))
    low, high = bootstrap_ratio_ci(a_ms, b_ms, level, resamples, groups=groups)
    test = mannwhitneyu(a_ms, b_ms, alternative="two-sided")
    return {"ratio_of_medians": ratio, "ci": [low, high], "ci_level": level,
            "ci_method": (f"paired bootstrap percentile over {'session pairs, then ' if groups and len(set(groups)) > 1 else ''}"
                          f"interleaved rounds, {resamples} resamples"),
            "min_effect": MIN_EFFECT, "mann_whitney_u": float(test.statistic), "p_value": float(test.pvalue),
            "verdict": verdict(ratio, low, high, level)}
