"""int8 against fp32 on this machine: interleaved median latencies at the target's batch sizes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgekd.export.runtime import fixed_batch, session
from edgekd.quant.calibration import Arrays, num_samples


def _batch(inputs: Arrays, size: int) -> Arrays:
    """``size`` rows, cycling through ``inputs`` when it has fewer."""
    idx = np.arange(size) % num_samples(inputs)
    return {k: np.ascontiguousarray(v[idx]) for k, v in inputs.items()}


def int8_speed(
    fp32: Path, int8: Path, inputs: Arrays, batch_sizes: Sequence[int], threads: int | None,
    rounds: int = 30, max_s: float = 4.0, pairs: int = 3,
) -> dict[str, Any]:
    """Median latency (ms) of both models per batch size, one run of each per round (so drift hits both alike).

    The rounds are split over ``pairs`` pairs of sessions (each batch size reuses the first; the others are fresh,
    opened in alternating order): one session of a model can run 20% faster or slower than the next from its
    placement alone, which one pair would report as int8 being faster or slower. Rounds stop after ``rounds`` or
    ``max_s`` seconds per batch size (at least 2 per pair).
    ``int8_speedup`` is fp32 median / int8 median: below 1 means int8 is slower. A model with a fixed batch runs
    only that one.
    """
    initial = {"fp32": session(fp32, threads), "int8": session(int8, threads)}  # the first pair, also read for inputs
    fixed = fixed_batch(initial["fp32"])
    names = [i.name for i in initial["fp32"].get_inputs()]
    out: dict[str, Any] = {"threads": threads, "method": f"interleaved medians over {pairs} fresh session pairs, up to "
                                                         f"{rounds} rounds or {max_s:g} s"}
    for b in sorted({fixed} if fixed else set(batch_sizes)):
        feed = {k: v for k, v in _batch(inputs, b).items() if k in names}
        times: dict[str, list[float]] = {"fp32": [], "int8": []}
        start = time.perf_counter()
        for p in range(pairs):
            order = ("fp32", "int8") if p % 2 == 0 else ("int8", "fp32")
            sessions = initial if p == 0 else {k: session(fp32 if k == "fp32" else int8, threads) for k in order}
            for s in sessions.values():
                for _ in range(3):
                    s.run(None, feed)
            for i in range(-(-rounds // pairs)):
                for k in ("fp32", "int8"):
                    t = time.perf_counter()
                    sessions[k].run(None, feed)
                    times[k].append((time.perf_counter() - t) * 1e3)
                if i >= 1 and time.perf_counter() - start > max_s * (p + 1) / pairs:
                    break
        fp, q = float(np.median(times["fp32"])), float(np.median(times["int8"]))
        out[f"batch_{b}"] = {"fp32_ms": fp, "int8_ms": q, "int8_speedup": fp / q, "rounds": len(times["int8"]),
                             "session_pairs": pairs}
    return out
