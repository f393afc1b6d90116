"""Learned shape adapters that map a student feature onto its teacher's shape."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edgekd.errors import EdgekdError


class Adapter(nn.Module):
    """Student feature -> teacher shape: 1x1 conv for maps (N, C, H, W), linear for (N, D) and (N, L, D).

    Spatial sizes that differ are matched by adaptive average pooling / interpolation of the adapted map.
    """

    def __init__(self, s_shape: tuple[int, ...], t_shape: tuple[int, ...]) -> None:
        super().__init__()
        if len(s_shape) != len(t_shape) or len(s_shape) not in (2, 3, 4):
            raise EdgekdError(f"cannot adapt a student feature {tuple(s_shape)} to a teacher feature {tuple(t_shape)}; "
                              "tap modules whose outputs have the same rank (2, 3 or 4 dims)")
        self.size = tuple(t_shape[2:]) if len(t_shape) == 4 else None
        if len(s_shape) == 4:
            self.proj: nn.Module = nn.Sequential(nn.Conv2d(s_shape[1], t_shape[1], 1, bias=False), nn.BatchNorm2d(t_shape[1]))
        else:
            self.proj = nn.Linear(s_shape[-1], t_shape[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        if self.size is not None and tuple(y.shape[2:]) != self.size:
            y = F.interpolate(y, size=self.size, mode="bilinear", align_corners=False)
        return y


def as_list(paths: str | list[str]) -> list[str]:
    return [paths] if isinstance(paths, str) else list(paths)


def check_pairs(student: list[str], teacher: list[str], loss: str) -> None:
    if len(student) != len(teacher) or not student:
        raise EdgekdError(f"loss {loss!r}: give as many student as teacher module paths (got {len(student)} and {len(teacher)})")
