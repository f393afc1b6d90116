"""Options of ``edgekd search`` and the ``search`` recipe stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edgekd.schemas.base import Strict


class SearchConfig(Strict):
    space: str = Field("mobile", description="Search space: cnn, mobile or transformer (edgekd.search.SPACES).")
    choices: dict[str, list[int | float | str | bool]] | None = Field(
        None, description="Override the choices of some of the space's parameters, e.g. {stem_stride: [2]}.")
    proxy: str = Field("naswot", description="Score of a candidate at initialisation (edgekd.search.PROXIES); default: "
                                             "the proxy whose picks distilled best (benchmarks/search_proxies.py).")
    budget_ms: float | None = Field(None, gt=0, description="Latency budget, ms; default: the target's p90 budget.")
    budget_ratio: float | None = Field(None, gt=0, description=(
        "Budget as a share of the teacher's latency (0.1 = ten times faster); overrides budget_ms. The search "
        "screens on single measurements; the pick is the best-scoring candidate whose ratio holds when timed "
        "interleaved with the teacher (edgekd.compare)."))
    latency_stat: Literal["median", "p90"] = Field("median", description="Latency statistic held to the budget "
                                                                         "(median is steadier on a shared machine).")
    latency: Literal["measured", "predicted"] = Field(
        "measured", description="measured: every candidate on the target; predicted: the first `calibration` measured, "
                                "the rest predicted by the per-block table + correction, the best re-measured.")
    calibration: int = Field(12, ge=4, description="Candidates measured whole before predicting (latency: predicted).")
    max_params: int | None = Field(None, gt=0, description="Parameter limit.")
    max_peak_memory_bytes: int | None = Field(None, gt=0, description="Peak memory limit, bytes; default: the target's.")
    max_size_bytes: int | None = Field(None, gt=0, description="ONNX file size limit, bytes; default: the target's.")
    trials: int = Field(40, ge=1, le=100_000, description="Trials in the study (all workers together).")
    workers: int = Field(1, ge=1, le=64, description="Worker processes sharing the study through its storage.")
    sampler: Literal["nsga2", "random", "tpe"] = Field("nsga2", description="Optuna sampler; random is the baseline.")
    population: int = Field(16, ge=2, description="NSGA-II population size.")
    seed: int = Field(0, description="Sampler seed and student initialisation seed.")
    batch_size: int = Field(64, ge=2, description="Mini-batch of training samples the proxy scores on.")
    top_k: int = Field(3, ge=1, description="Arch JSONs written for the best feasible candidates.")
    storage: str | None = Field(None, description="Optuna storage URL (sqlite:///..., a journal file *.log, or a "
                                                  "database shared by workers on several hosts); default OUT/study.db.")
    study_name: str = Field("edgekd-search", description="Study name inside the storage.")
    cache_dir: str | None = Field(None, description="Latency cache; default $EDGEKD_CACHE/latency.")
