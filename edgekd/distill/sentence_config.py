"""Options of sentence-embedding distillation (pydantic only: importing this loads no torch)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edgekd.schemas.base import Strict


class SentenceDistillConfig(Strict):
    """Loss weights, optimiser and schedule of embedding distillation."""

    epochs: int = Field(3, ge=1)
    batch_size: int = Field(32, ge=1, description="Sentences per step.")
    lr: float = Field(1e-4, gt=0, description="Peak AdamW learning rate.")
    weight_decay: float = Field(0.01, ge=0)
    warmup_epochs: float = Field(0.1, ge=0, description="Linear warm-up, then cosine decay to 0.")
    max_length: int = Field(128, ge=8, le=512, description="Tokens per sentence at most (longer ones are cut).")
    cosine: float = Field(1.0, ge=0, description="Weight of 1 - cosine of normalised sentence embeddings.")
    mse: float = Field(0.0, ge=0, description="Weight of the MSE of pooled embeddings (before normalisation).")
    token: float = Field(0.0, ge=0, description="Weight of the relative squared error of the last layer's token "
                         "states (``token_loss``), real tokens only.")
    hidden: float = Field(0.0, ge=0, description="Weight of the relative squared error of every student layer's token "
                          "states against those of the teacher layer it was built from (``edgekd_student.json``'s "
                          "teacher_layers; else uniformly spaced), real tokens only, averaged over layers.")
    relation: float = Field(1.0, ge=0, description="Weight of the MiniLM Q-Q/K-K/V-V relation KL of the last layers.")
    similarity: float = Field(0.0, ge=0, description="Weight of the in-batch cosine-similarity-matrix loss "
                              "(``similarity_loss``) of normalised sentence embeddings.")
    similarity_temperature: float | None = Field(
        None, gt=0, description="None: MSE of the off-diagonal similarities; a value: KL(teacher || student) of "
                                "row softmaxes of similarities / temperature (diagonal left out).")
    relation_heads: int = Field(12, ge=1, description="Relation heads; must divide both hidden sizes.")
    freeze_embeddings: bool = Field(True, description="Keep the (teacher-initialised) token embeddings fixed.")
    patience: int | None = Field(None, ge=1, description="Stop after this many epochs without a better val score.")
    select: Literal["pairwise_spearman", "mean_cosine"] = "pairwise_spearman"
    eval_sentences: int = Field(512, ge=3, description="Validation and test sentences used at most.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: a CUDA GPU when torch sees one.")
    seed: int = 0
