"""Embedding distillation of a sentence-transformers BERT student (``edgekd.models.hf_student``) from its teacher.

Per batch of sentences (token ids (N, L), attention mask (N, L)), the loss is

    cosine * mean(1 - cos(s_i, t_i))  +  mse * mean ||p_s - p_t||^2 / D  +  token * sum ||h_s - h_t||^2 / sum ||h_t||^2
    +  similarity * sim(S_s, S_t)  +  relation * MiniLM(Q-Q, K-K, V-V)

with s, t the normalised sentence embeddings (N, D), p the pooled embeddings before normalisation, h the last
layer's token states (N, L, D) of the real tokens (``token_loss``), S the in-batch cosine-similarity matrices (N, N)
(``similarity_loss``: MSE of the off-diagonal entries, or with ``similarity_temperature`` the KL of their row
softmaxes; it targets the pairwise-similarity Spearman that ``embedding_metrics`` reports), and MiniLM the
registered ``minilm`` loss (KL of self-attention relations of the student's and the teacher's last layer, padding
positions left out as keys and queries). Models are run with transformers (``BertModel``) and the directory's
pooling (mean or CLS, from ``1_Pooling/config.json``) and normalisation, which is what ``SentenceTransformer(dir)``
computes. Training uses the train split; every epoch the student is scored on the validation sentences
(``edgekd.distill.embedding_metrics``) and the best epoch kept (``select``); test metrics are reported once, at
the end, for the undistilled student and the chosen one. ``resume`` continues from ``last.state.pt`` at the
next epoch exactly (weights, optimizer, schedule, RNG).
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgekd.distill.checks import SENTENCE_RESULT, check_sentence_request
from edgekd.distill.embedding_metrics import embedding_agreement
from edgekd.distill.loop import lr_lambda, training_device
from edgekd.distill.losses.base import LossInputs
from edgekd.distill.losses.minilm import MiniLM
from edgekd.distill.sentence_config import SentenceDistillConfig
from edgekd.distill.sentence_losses import similarity_loss, token_loss
from edgekd.distill.state import append_metrics, load_state, rewrite_metrics, rng_state, save_state, set_rng_state
from edgekd.distill.taps import Taps
from edgekd.errors import EdgekdError
from edgekd.fsutil import write_json
from edgekd.manifest_io import record
from edgekd.models.hf_student import (STUDENT_INFO, check_teacher_dir, model_entries, save_sentence_model,
                                     spaced_layers)
from edgekd.ui import progress


@dataclass
class SentenceModel:
    """A sentence encoder directory loaded with transformers: tokenizer, ``BertModel``, pooling and normalisation."""

    tokenizer: Any
    bert: nn.Module
    pooling: str
    normalize: bool

    @property
    def device(self) -> torch.device:
        return next(self.bert.parameters()).device

    def features(self, texts: list[str], max_length: int) -> dict[str, torch.Tensor]:
        """input_ids, token_type_ids, attention_mask (N, L) int64, padded to the longest sentence, on the model's
        device."""
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        return {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "token_type_ids", "attention_mask")}

    def forward(self, feats: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(pooled (N, D) before normalisation, sentence embedding (N, D)) as SentenceTransformer computes them."""
        return self.run(feats)[1:]

    def run(self, feats: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(last layer's token states (N, L, D), pooled (N, D), sentence embedding (N, D))."""
        return self._pool(self.bert(**feats).last_hidden_state, feats)

    def run_layers(self, feats: dict[str, torch.Tensor]) -> tuple[tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor]:
        """(token states after the embeddings and after each layer: layers + 1 of (N, L, D), pooled, embedding)."""
        states = self.bert(**feats, output_hidden_states=True).hidden_states
        return states, *self._pool(states[-1], feats)[1:]

    def _pool(self, tokens: torch.Tensor, feats: dict[str, torch.Tensor]
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.pooling == "cls":
            pooled = tokens[:, 0]
        else:
            m = feats["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * m).sum(1) / m.sum(1).clamp_min(1e-9)
        return tokens, pooled, F.normalize(pooled, dim=-1) if self.normalize else pooled

    @torch.no_grad()
    def encode(self, texts: list[str], max_length: int = 128, batch: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
        """(pooled, sentence embedding), each (N, D) on the CPU, in eval mode; batches of similar length, rows in
        input order."""
        self.bert.eval()
        order = np.argsort([len(t) for t in texts], kind="stable")
        parts = [[t.cpu() for t in self.forward(self.features([texts[j] for j in order[i:i + batch]], max_length))]
                 for i in range(0, len(texts), batch)]
        inverse = torch.from_numpy(np.argsort(order))
        return torch.cat([p[0] for p in parts])[inverse], torch.cat([p[1] for p in parts])[inverse]

    def embed(self, texts: list[str], max_length: int = 128, batch: int = 64) -> np.ndarray:
        """Sentence embeddings (N, D) float32 (what ``SentenceTransformer.encode`` returns), in eval mode."""
        return self.encode(texts, max_length, batch)[1].numpy()


def load_sentence_model(path: str | Path) -> SentenceModel:
    """Load a sentence-transformers BERT directory (Transformer, Pooling (mean or CLS), optional Normalize)."""
    from transformers import AutoTokenizer, BertModel

    path = Path(path)
    check_teacher_dir(path)
    modules = json.loads((path / "modules.json").read_text())
    pooling, normalize = "mean", False
    for m in modules:
        if m["type"].endswith("Pooling"):
            pcfg = json.loads((path / m["path"] / "config.json").read_text())
            modes = [k for k, v in pcfg.items() if k.startswith("pooling_mode_") and v is True]
            if isinstance(pcfg.get("pooling_mode"), str):  # newer sentence-transformers: {"pooling_mode": "mean"}
                modes = [f"pooling_mode_{pcfg['pooling_mode']}"]
            if modes not in (["pooling_mode_mean_tokens"], ["pooling_mode_mean"], ["pooling_mode_cls_token"],
                             ["pooling_mode_cls"]):
                raise EdgekdError(f"{path}: pooling {modes} is not supported; use mean or CLS pooling")
            pooling = "cls" if modes[0].startswith("pooling_mode_cls") else "mean"
        normalize |= m["type"].endswith("Normalize")
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    bert = BertModel.from_pretrained(str(path), local_files_only=True)
    return SentenceModel(tok, bert.eval(), pooling, normalize)


def qkv_paths(bert: nn.Module) -> list[str]:
    """Module paths of the last layer's query, key and value projections (outputs (N, L, D))."""
    last = len(bert.encoder.layer) - 1
    return [f"encoder.layer.{last}.attention.self.{p}" for p in ("query", "key", "value")]


def _score(student: SentenceModel, texts: list[str], ref: np.ndarray, cfg: SentenceDistillConfig) -> dict[str, Any]:
    return embedding_agreement(student.embed(texts, cfg.max_length), ref)


def batch_order(lengths: np.ndarray, batch_size: int, seed: int) -> list[np.ndarray]:
    """Index batches for one epoch: shuffled, then sorted by token length within windows of 50 batches (less
    padding), cut into batches, and the batches shuffled; deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    order, window, out = rng.permutation(len(lengths)), batch_size * 50, []
    for i in range(0, len(order), window):
        w = order[i:i + window]
        w = w[np.argsort(lengths[w], kind="stable")]
        out += [w[j:j + batch_size] for j in range(0, len(w), batch_size)]
    return [out[k] for k in rng.permutation(len(out))]


@dataclass
class TeacherCache:
    """The teacher's outputs on the train sentences, computed once and kept on the CPU: pooled embeddings (N, D)
    float32 and, when a loss needs them, each sentence's last-layer token states (L_i, D) float16 and the token
    states after the teacher layers ``layers`` (L_i, len(layers), D) float16 (real tokens only)."""

    pooled: torch.Tensor
    tokens: list[torch.Tensor] | None = None
    hidden: list[torch.Tensor] | None = None
    layers: tuple[int, ...] = ()


@torch.no_grad()
def teacher_cache(teacher: SentenceModel, texts: list[str], max_length: int, tokens: bool = False,
                  batch: int = 64, layers: Sequence[int] = ()) -> TeacherCache:
    """One pass of the teacher over ``texts`` (batches of similar length) -> ``TeacherCache`` in input order (with
    the token states after teacher ``layers`` when given); pass it to ``distill_sentence_student`` as
    ``teacher_train`` to share it between students."""
    teacher.bert.eval()
    order = np.argsort([len(t) for t in texts], kind="stable")
    pooled, states = torch.empty(len(texts), teacher.bert.config.hidden_size), [torch.empty(0)] * len(texts)
    hidden = [torch.empty(0)] * len(texts)
    for i in range(0, len(texts), batch):
        idx = order[i:i + batch]
        feats = teacher.features([texts[j] for j in idx], max_length)
        all_h, t_pooled, _ = teacher.run_layers(feats)
        pooled[torch.from_numpy(idx)] = t_pooled.cpu()
        last = all_h[-1].to("cpu", torch.float16) if tokens else None
        picked = torch.stack([all_h[t + 1] for t in layers], 2).to("cpu", torch.float16) if layers else None  # (N, L, layers, D)
        for r, (j, n) in enumerate(zip(idx, feats["attention_mask"].sum(1).tolist())):
            if last is not None:
                states[j] = last[r, :n].clone()
            if picked is not None:
                hidden[j] = picked[r, :n].clone()
    return TeacherCache(pooled, states if tokens else None, hidden if layers else None, tuple(layers))


def layer_map(student_dir: str | Path, teacher: SentenceModel, student: SentenceModel) -> list[int]:
    """The teacher layer behind each student layer: ``edgekd_student.json``'s ``teacher_layers`` when it fits, else
    uniformly spaced (``spaced_layers``). Raises when the hidden sizes differ (the states cannot be compared)."""
    t_cfg, s_cfg = teacher.bert.config, student.bert.config
    if t_cfg.hidden_size != s_cfg.hidden_size:
        raise EdgekdError(f"the hidden loss compares token states, but the student's hidden size {s_cfg.hidden_size} "
                          f"is not the teacher's {t_cfg.hidden_size}; set hidden: 0")
    info = Path(student_dir) / STUDENT_INFO
    layers = json.loads(info.read_text()).get("teacher_layers") if info.is_file() else None
    fits = isinstance(layers, list) and len(layers) == s_cfg.num_hidden_layers and all(
        isinstance(t, int) and not isinstance(t, bool) and 0 <= t < t_cfg.num_hidden_layers for t in layers)
    return layers if fits else spaced_layers(t_cfg.num_hidden_layers, s_cfg.num_hidden_layers)


def teacher_pooled(teacher: SentenceModel, texts: list[str], max_length: int) -> torch.Tensor:
    """The teacher's pooled embeddings (N, D) before normalisation (``teacher_cache(...).pooled``)."""
    return teacher_cache(teacher, texts, max_length).pooled


class _Objective:
    """The weighted loss of one batch; runs the teacher only when the relation loss needs its attention."""

    def __init__(self, teacher: SentenceModel, student: SentenceModel, cfg: SentenceDistillConfig,
                 cached: TeacherCache | None, layers: list[int]) -> None:
        self.teacher, self.student, self.cfg, self.cached, self.layers = teacher, student, cfg, cached, layers
        self.relation = MiniLM(qkv_paths(student.bert), qkv_paths(teacher.bert), heads=cfg.relation_heads)
        self.s_taps = Taps(student.bert, self.relation.student if cfg.relation > 0 else [])
        self.t_taps = Taps(teacher.bert, self.relation.teacher if cfg.relation > 0 else [])

    def __call__(self, texts: list[str], idx: np.ndarray) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg = self.cfg
        feats = self.student.features(texts, cfg.max_length)
        mask = feats["attention_mask"].bool()
        dev = mask.device
        pad = lambda rows: nn.utils.rnn.pad_sequence([rows[j] for j in idx], batch_first=True).to(dev)  # noqa: E731
        if self.cached is not None:
            tp = self.cached.pooled[torch.from_numpy(idx)].to(dev)
            th = pad(self.cached.tokens) if self.cached.tokens is not None else None
            tl = pad(self.cached.hidden) if self.cached.hidden is not None else None  # (N, L, student layers, D)
        else:
            with torch.no_grad():
                t_all, tp, _ = self.teacher.run_layers(feats)
            th = t_all[-1]
            tl = torch.stack([t_all[t + 1] for t in self.layers], 2) if self.layers else None
        te = F.normalize(tp, dim=-1)
        if cfg.hidden > 0:
            s_all, sp, se = self.student.run_layers(feats)
            sh = s_all[-1]
        else:
            sh, sp, se = self.student.run(feats)
        parts = {"cosine": (1 - (F.normalize(se, dim=-1) * te).sum(-1)).mean(), "mse": ((sp - tp) ** 2).mean()}
        if cfg.token > 0:
            parts["token"] = token_loss(sh, th, mask)
        if cfg.hidden > 0:
            per_layer = [token_loss(s_all[i + 1], tl[:, :, i], mask) for i in range(len(self.layers))]
            parts["hidden"] = torch.stack(per_layer).mean()
        if cfg.similarity > 0 and len(idx) > 1:
            parts["similarity"] = similarity_loss(se, te, cfg.similarity_temperature)
        if cfg.relation > 0:
            parts["relation"] = self.relation(LossInputs(se, torch.empty(0), None, self.s_taps.take(),
                                                         self.t_taps.take(), mask))
        loss = sum(getattr(cfg, k) * v for k, v in parts.items())
        return loss, parts

    def close(self) -> None:
        self.s_taps.close()
        self.t_taps.close()


def distill_sentence_student(teacher_dir: str | Path, student_dir: str | Path, splits: dict[str, list[str]],
                             out: str | Path, cfg: SentenceDistillConfig | None = None, resume: bool = False,
                             force: bool = False,
                             teacher_train: torch.Tensor | TeacherCache | None = None, stage: str = "sentence-distill",
                             manifest_dir: str | Path | None = None) -> dict[str, Any]:
    """Distil the student in ``student_dir`` from the teacher in ``teacher_dir`` on ``splits`` (``train``, ``val``,
    ``test``: lists of sentences); write the chosen student to ``out/student`` (a sentence-transformers directory,
    recorded file by file with role ``student`` in the manifest of ``manifest_dir``, default ``out``, as ``stage``),
    ``metrics.jsonl``, ``last.state.pt`` and ``sentence_distill.json``; return what the JSON holds.

    Without the relation loss the teacher's pooled train embeddings (N, D) (and with the token loss its token states)
    are computed once and cached in memory, or taken from ``teacher_train``: a ``teacher_cache`` (or the pooled
    tensor of ``teacher_pooled``) of the same sentences with the same ``max_length``.
    """
    cfg, out = cfg or SentenceDistillConfig(), Path(out)
    check_sentence_request(teacher_dir, student_dir, out, cfg, force, resume)
    for name, least in (("train", 1), ("val", 3), ("test", 3)):
        if len(splits.get(name, [])) < least:
            raise EdgekdError(f"the {name} split needs at least {least} sentences, got {len(splits.get(name, []))}")
    device = training_device(cfg.device)
    teacher, student = load_sentence_model(teacher_dir), load_sentence_model(student_dir)
    teacher.bert.to(device)
    student.bert.to(device)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    train, val, test = splits["train"], splits["val"][:cfg.eval_sentences], splits["test"][:cfg.eval_sentences]
    t_val, t_test = teacher.embed(val, cfg.max_length), teacher.embed(test, cfg.max_length)
    before = _score(student, test, t_test, cfg)
    lengths = np.array([len(x) for x in student.tokenizer(train, truncation=True, max_length=cfg.max_length)["input_ids"]])
    if isinstance(teacher_train, torch.Tensor):
        teacher_train = TeacherCache(teacher_train)
    layers = layer_map(student_dir, teacher, student) if cfg.hidden > 0 else []
    if cfg.relation == 0 and (teacher_train is None or (cfg.token > 0 and teacher_train.tokens is None)
                              or (cfg.hidden > 0 and teacher_train.layers != tuple(layers))):
        teacher_train = teacher_cache(teacher, train, cfg.max_length, tokens=cfg.token > 0, layers=layers)
    if teacher_train is not None and tuple(teacher_train.pooled.shape[:1]) != (len(train),):
        raise EdgekdError(f"teacher_train has {teacher_train.pooled.shape[0]} rows for {len(train)} train sentences; "
                          "make it with teacher_cache on the same sentences")
    objective = _Objective(teacher, student, cfg, teacher_train if cfg.relation == 0 else None, layers)
    if cfg.freeze_embeddings:
        student.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in student.bert.parameters() if p.requires_grad], lr=cfg.lr,
                            weight_decay=cfg.weight_decay)
    steps = math.ceil(len(train) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg, steps))
    start, bad, best, best_state, history = 0, 0, -math.inf, None, []
    if resume:
        st = load_state(out)
        student.bert.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        set_rng_state(st["rng"])
        start, bad, best, best_state, history = st["epoch"] + 1, st["bad_epochs"], st["best"], st["best_model"], st["history"]
        rewrite_metrics(out / "metrics.jsonl", start)
    else:
        (out / "metrics.jsonl").unlink(missing_ok=True)
    with progress() as bar:
        task = bar.add_task("distil sentences", total=max(cfg.epochs - start, 0) * steps, info="")
        for epoch in range(start, cfg.epochs):
            if cfg.patience is not None and bad >= cfg.patience:
                break
            t0, sums = time.perf_counter(), {}
            student.bert.train()
            for idx in batch_order(lengths, cfg.batch_size, cfg.seed * 7919 + epoch):
                loss, parts = objective([train[j] for j in idx], idx)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                for k, v in {"loss": loss, **parts}.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach()) * len(idx)
                bar.update(task, advance=1, info=f"epoch {epoch + 1}/{cfg.epochs} loss {float(loss.detach()):.4f}")
            score = _score(student, val, t_val, cfg)
            row = {"epoch": epoch, **{k: v / len(train) for k, v in sums.items()},
                   **{f"val_{k}": v for k, v in score.items() if k != "sentences"},
                   "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - t0}
            history.append(row)
            if score[cfg.select] > best:
                best, bad, best_state = score[cfg.select], 0, copy.deepcopy(student.bert.state_dict())
            else:
                bad += 1
            save_state(out, {"model": student.bert.state_dict(), "optimizer": opt.state_dict(),
                             "scheduler": sched.state_dict(), "rng": rng_state(), "epoch": epoch, "bad_epochs": bad,
                             "best": best, "best_model": best_state, "history": history})
            append_metrics(out / "metrics.jsonl", row)
            bar.update(task, info=f"epoch {epoch + 1}/{cfg.epochs} val {cfg.select} {score[cfg.select]:.4f} best {best:.4f}")
    objective.close()
    if best_state is not None:
        student.bert.load_state_dict(best_state)
    result = _finish(student, student_dir, out, cfg, history, before, _score(student, test, t_test, cfg),
                     {"teacher": str(teacher_dir), "split_sizes": {k: len(v) for k, v in splits.items()},
                      "eval_sentences": {"val": len(val), "test": len(test)}})
    record(manifest_dir or out, stage, [(out / SENTENCE_RESULT, "report", {}), *model_entries(out / "student", "student")],
           options=cfg.model_dump())
    return result


def _finish(student: SentenceModel, student_dir: str | Path, out: Path, cfg: SentenceDistillConfig,
            history: list[dict[str, Any]], before: dict[str, Any], after: dict[str, Any],
            extra: dict[str, Any]) -> dict[str, Any]:
    """Save the chosen student and ``sentence_distill.json``; return what the JSON holds."""
    info_file = Path(student_dir) / STUDENT_INFO
    made = json.loads(info_file.read_text()) if info_file.is_file() else {}
    best_epoch = max(range(len(history)), key=lambda i: history[i][f"val_{cfg.select}"]) if history else None
    result = {**extra, "student_init": str(student_dir), "config": cfg.model_dump(), "best_epoch": best_epoch,
              "epochs_run": len(history), "history": history, "test_before": before, "test_after": after}
    student.bert.eval().cpu()
    save_sentence_model(student.bert, student_dir, out / "student",
                        {**made, "path": str(out / "student"), "distilled": {"test": after, "best_epoch": best_epoch}},
                        force=True)
    write_json(out / SENTENCE_RESULT, result)
    return result
