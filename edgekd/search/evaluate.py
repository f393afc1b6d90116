"""One candidate's evaluation (proxy score, size, memory, latency), done once per architecture across workers.

Workers share the search directory: a candidate is claimed by creating ``candidates/<key>.claim`` exclusively
(``O_CREAT | O_EXCL``); the claimant writes ``candidates/<key>.json``; any other worker that meets the same
architecture waits for that file instead of evaluating it again. A claim left by a killed worker on this host is
taken over.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from edgekd.errors import EdgekdError
from edgekd.fsutil import pid_alive, write_json
from edgekd.models import build_model, count_params
from edgekd.search.hooks import hooked
from edgekd.search.latency import LatencyCache, example_inputs, measure_blocks, measure_model
from edgekd.search.proxies import PROXIES, ProxyBatch
from edgekd.search.proxies.size import count_flops

CLAIM_TIMEOUT_S = 1800.0
EVALUATIONS = "evaluations.jsonl"


def activation_peak_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Weights plus the largest input + output of any leaf module on ``x``, bytes (fp32): a static estimate of
    the memory a runtime that frees activations as it goes needs at least."""
    peak = 0

    def hook(m: nn.Module, inp: tuple[Any, ...], out: Any) -> None:
        nonlocal peak
        size = sum(t.numel() * t.element_size() for t in (*inp, out) if isinstance(t, torch.Tensor))
        peak = max(peak, size)

    with hooked([m for m in model.modules() if not list(m.children())], hook), torch.no_grad():
        model.eval()(x)
    return peak + sum(p.numel() * p.element_size() for p in model.parameters())


@dataclass
class Evaluator:
    """Everything a candidate is scored with: the proxy and its batch, the target's latency cache, the input shape."""

    proxy: str
    batch: ProxyBatch
    cache: LatencyCache
    input_shape: tuple[int, ...]
    tokens: bool
    seed: int
    directory: Path
    blocks: bool = False

    def evaluate(self, arch: dict[str, Any], measure: bool = True) -> dict[str, Any]:
        """Scores of ``arch``: proxy (higher is better), params, FLOPs, peak memory estimate (bytes), measured
        latency (ms) when ``measure``, and the blocks' lookup-table entries when ``blocks``."""
        torch.manual_seed(self.seed)
        model = build_model(arch)
        t0 = time.perf_counter()
        score = float(PROXIES.get(self.proxy)(model, self.batch))
        proxy_s = time.perf_counter() - t0
        torch.manual_seed(self.seed)
        model = build_model(arch).eval()
        x = example_inputs(self.input_shape, self.cache.target.batch_sizes[0], self.tokens)
        rec: dict[str, Any] = {"arch": arch, "proxy": score, "proxy_seconds": proxy_s, "params": count_params(model),
                               "flops": count_flops(model, x[:1]), "peak_memory_bytes": activation_peak_bytes(model, x)}
        work = self.directory / "work"
        if measure:
            t0 = time.perf_counter()
            lat = measure_model(model, x, self.cache, work)
            rec.update(measured=True, median_ms=lat["median_ms"], p90_ms=lat["p90_ms"], onnx_bytes=lat["onnx_bytes"],
                       graph_sha256=lat["graph_sha256"], latency_cached=lat["cached"], measure_seconds=time.perf_counter() - t0)
        if self.blocks:
            rec["blocks"] = measure_blocks(model, x, self.cache, work)
        return rec

    def once(self, key: str, arch: dict[str, Any], measure: Callable[[], bool]) -> dict[str, Any]:
        """The record of ``key``: read when another worker made it, else claimed and evaluated here (``measure()``
        decides then whether to measure the latency or leave it to the predictor)."""
        cand = self.directory / "candidates"
        cand.mkdir(parents=True, exist_ok=True)
        result, claim = cand / f"{key}.json", cand / f"{key}.claim"
        start = time.monotonic()
        while not result.is_file():
            try:
                fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._maybe_take_over(claim)
                if time.monotonic() - start > CLAIM_TIMEOUT_S:
                    raise EdgekdError(f"candidate {key} was claimed by {claim.read_text().strip()} and never finished; "
                                      f"delete {claim} if that worker is gone") from None
                time.sleep(0.1)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{socket.gethostname()} {os.getpid()}\n")
            rec = {"key": key, **self.evaluate(arch, measure()), "evaluated_by": f"{socket.gethostname()}:{os.getpid()}"}
            write_json(result, rec)
            with open(self.directory / EVALUATIONS, "a") as log:  # one short line per append: atomic on POSIX
                log.write(json.dumps({"key": key, "by": rec["evaluated_by"]}) + "\n")
            claim.unlink(missing_ok=True)
            return rec
        return json.loads(result.read_text())

    @staticmethod
    def _maybe_take_over(claim: Path) -> None:
        """Remove a claim whose worker ran on this host and is gone."""
        try:
            host, pid = claim.read_text().split()
        except (OSError, ValueError):
            return
        if host == socket.gethostname() and not pid_alive(int(pid)):
            claim.unlink(missing_ok=True)
