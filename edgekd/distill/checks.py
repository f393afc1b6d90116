"""What ``distill`` and ``sentence distill`` check before they load torch: options, loss weights, the model
directories and the output directory.

Importing this loads no torch, so both commands refuse such bad input in well under a second.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgekd.distill.config import DistillConfig
from edgekd.distill.sentence_config import SentenceDistillConfig
from edgekd.errors import EdgekdError
from edgekd.manifest_io import guard_outputs
from edgekd.models.hf_student import check_teacher_dir
from edgekd.schemas import validate

STATE_NAME = "last.state.pt"
SENTENCE_RESULT = "sentence_distill.json"


def output_files(out: Path, name: str) -> dict[str, Path]:
    """The files a distillation named ``name`` writes into ``out``, by kind."""
    return {k: out / f"{name}.{k}" for k in ("safetensors", "metrics.json", "split.json", "config.json")}


def check_resume(out: Path, config_file: Path, cfg: DistillConfig) -> None:
    """Resuming needs the state and the same options as the interrupted run."""
    if not (out / STATE_NAME).is_file() or not config_file.is_file():
        raise EdgekdError(f"nothing to resume in {out}: {STATE_NAME} not found; run without --resume first")
    before = json.loads(config_file.read_text())
    now = cfg.model_dump(mode="json")
    changed = [k for k in now if before.get(k) != now[k]]
    if changed:
        raise EdgekdError(f"cannot resume {out} with other options ({changed[0]}: {before.get(changed[0])!r} -> "
                          f"{now[changed[0]]!r}); pass the options of the interrupted run")


def parse_spec(spec: dict[str, Any]) -> dict[str, tuple[float, dict[str, Any]]]:
    """``{ce: 1.0, kd: {weight: 0.9, temperature: 4}}`` -> ``{name: (weight, kwargs)}``."""
    if not isinstance(spec, dict) or not spec:
        raise EdgekdError("loss must be a mapping of loss names to weights, e.g. {ce: 1.0, kd: {weight: 0.9, temperature: 4}}")
    out = {}
    for name, value in spec.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, dict)):
            raise EdgekdError(f"loss {name!r}: give a weight or a mapping with 'weight' and the loss's options")
        kwargs = dict(value) if isinstance(value, dict) else {"weight": value}
        weight = kwargs.pop("weight", 1.0)
        if not isinstance(weight, (int, float)) or isinstance(weight, bool):
            raise EdgekdError(f"loss {name!r}: weight must be a number, got {weight!r}")
        if not weight >= 0 or weight == float("inf"):  # also NaN
            raise EdgekdError(f"loss {name!r}: weight must be a finite number >= 0, got {weight}; a negative weight would maximise the loss")
        out[name] = (float(weight), kwargs)
    return out


def distill_options(config: DistillConfig | None, **updates: Any) -> DistillConfig:
    """``config`` (default: the defaults) with the ``updates`` that are not None, validated."""
    given = {k: v for k, v in updates.items() if v is not None}
    return validate(DistillConfig, {**(config or DistillConfig()).model_dump(), **given}, "distill options")


def check_outputs(out: str | Path, cfg: DistillConfig, resume: bool, force: bool) -> None:
    """Nothing to resume in ``out``, or outputs there that ``force`` does not allow to overwrite: one-line errors."""
    out = Path(out)
    if resume:
        check_resume(out, output_files(out, cfg.name)["config.json"], cfg)
    else:
        guard_outputs([*output_files(out, cfg.name).values(), out / STATE_NAME], force)


def check_sentence_request(teacher_dir: str | Path, student_dir: str | Path, out: Path, cfg: SentenceDistillConfig,
                           force: bool, resume: bool) -> None:
    """A sentence distillation needs a positive loss weight, sentence-transformers BERT teacher and student
    directories, and an output directory without a finished result unless ``force`` or ``resume``."""
    if cfg.cosine + cfg.mse + cfg.token + cfg.hidden + cfg.similarity + cfg.relation <= 0:
        raise EdgekdError("sentence distillation needs a positive weight: set cosine, mse, token, hidden, "
                          "similarity or relation above 0")
    check_teacher_dir(teacher_dir)
    check_teacher_dir(student_dir)
    if (out / SENTENCE_RESULT).exists() and not (force or resume):
        raise EdgekdError(f"{out / SENTENCE_RESULT} already exists; pass force=True (--force) or resume=True (--resume)")
