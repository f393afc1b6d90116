"""Initialise a student from its teacher where shapes allow, taking evenly spaced layers (DistilBERT-style)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from edgekd.errors import EdgekdError


def _child(module: nn.Module, name: str) -> nn.Module | None:
    return dict(module.named_children()).get(name)


def teacher_name(student: nn.Module, teacher: nn.Module, name: str) -> str | None:
    """Map a student state key to the teacher's: in numbered containers (``layers.3``), student child i of S
    maps to teacher child i * T // S (every other layer when T = 2S). None when the path does not exist."""
    parts, out = name.split("."), []
    s_mod, t_mod = student, teacher
    for part in parts[:-1]:
        s_next = _child(s_mod, part)
        if s_next is None or t_mod is None:
            return None
        if part.isdigit():
            s_count = len(list(s_mod.children()))
            t_count = len(list(t_mod.children()))
            part = str(int(part) * t_count // max(s_count, 1))
        out.append(part)
        s_mod, t_mod = s_next, _child(t_mod, part)
    return ".".join([*out, parts[-1]]) if t_mod is not None else None


@torch.no_grad()
def init_from_teacher(student: nn.Module, teacher: nn.Module) -> list[str]:
    """Copy every teacher tensor whose mapped name and shape match into ``student``; return the copied keys."""
    t_state = teacher.state_dict()
    s_state = student.state_dict()
    copied = []
    for key, value in s_state.items():
        t_key = teacher_name(student, teacher, key)
        if t_key in t_state and t_state[t_key].shape == value.shape and t_state[t_key].dtype == value.dtype:
            value.copy_(t_state[t_key])
            copied.append(key)
    return copied


def scaled_arch(teacher_arch: dict[str, Any], width: float = 0.5, depth: float = 0.5) -> dict[str, Any]:
    """A smaller member of the teacher's family: widths times ``width``, layers/blocks times ``depth`` (>= 1).

    resnet: ``widths``/``blocks`` scale; bert: ``hidden``/``ffn`` scale (kept divisible by ``heads``), ``layers`` scale.
    """
    for name, factor in (("width", width), ("depth", depth)):
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor <= 4:
            raise EdgekdError(f"student {name} factor must be a number in (0, 4], got {factor!r}")
    arch = dict(teacher_arch)
    if arch.get("name") == "resnet":
        arch["widths"] = [max(1, round(w * width)) for w in arch["widths"]]
        arch["blocks"] = [max(1, round(b * depth)) for b in arch["blocks"]]
    elif arch.get("name") == "bert":
        heads = arch.get("heads", 4)
        arch["hidden"] = max(heads, round(arch.get("hidden", 128) * width / heads) * heads)
        arch["ffn"] = max(1, round((arch.get("ffn") or 4 * arch.get("hidden", 128)) * width))
        arch["layers"] = max(1, round(arch.get("layers", 4) * depth))
    else:
        raise EdgekdError(f"cannot scale arch family {arch.get('name')!r}; give the student's arch JSON instead")
    return arch
